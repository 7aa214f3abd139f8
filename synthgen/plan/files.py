"""Reading written plans back (``synthgen render --from-plan``): checked before anything renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgen.errors import SynthgenError
from synthgen.plan.types import PLAN_FORMAT, plan_from_dict


def read_plan_files(paths: list[Path], cfg, config: Path) -> list[dict[str, Any]]:
    """The portable plan dicts of ``paths`` (scene records from ``plans/`` or bare plans), checked:
    readable, made by this config (when the dataset's ``job.json`` is beside them), one seed, and
    every part file present with the content the plan was made from."""
    from synthgen.dataset.job import config_hash
    from synthgen.dataset.reader import JOB_FILE
    from synthgen.geometry.cad import file_sha256
    from synthgen.plan.portable import localize

    plans, seen = [], {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SynthgenError(f"--from-plan {path}: file not found") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SynthgenError(f"--from-plan {path}: not a readable JSON plan ({type(exc).__name__})") from None
        plan = data.get("plan", data) if isinstance(data, dict) else None
        if not isinstance(plan, dict) or not {"format", "seed", "scene_index", "parts", "cameras"} <= set(plan):
            raise SynthgenError(f"--from-plan {path}: not a synthgen plan (no format, seed, scene_index, parts, "
                                "cameras); a rejected scene's record holds no plan")
        if plan["format"] != PLAN_FORMAT:
            raise SynthgenError(f"--from-plan {path}: format: plan format {plan['format']} is not this "
                                f"synthgen's ({PLAN_FORMAT})")
        job_file = Path(path).resolve().parent.parent / JOB_FILE
        if job_file.is_file():
            try:
                made_by = json.loads(job_file.read_text()).get("config_hash")
            except (OSError, ValueError, AttributeError):
                raise SynthgenError(f"--from-plan {path}: {job_file} is not a readable job file") from None
            if made_by != config_hash(cfg):
                raise SynthgenError(f"--from-plan {path}: made by another config (hash {made_by}, {config} has "
                                    f"{config_hash(cfg)}); give the config that rendered it")
        if plans and plan["seed"] != plans[0]["seed"]:
            raise SynthgenError(f"--from-plan {path}: seed: {plan['seed']} differs from the other plans' "
                                f"{plans[0]['seed']}; re-render one seed at a time")
        if plan["scene_index"] in seen:
            raise SynthgenError(f"--from-plan {path}: scene {plan['scene_index']} is also in {seen[plan['scene_index']]}")
        seen[plan["scene_index"]] = path
        try:
            local = localize(plan, cfg.config_dir, None)
            plan_from_dict(local)  # every field of the plan is there and of the right shape
        except (KeyError, TypeError, ValueError) as exc:
            raise SynthgenError(f"--from-plan {path}: not a complete synthgen plan ({type(exc).__name__}: "
                                f"{exc})") from None
        for i, part in enumerate(local["parts"]):
            p = Path(part["path"])
            if not p.is_file():
                raise SynthgenError(f"--from-plan {path}: parts[{i}].path: {p} not found (paths are relative to "
                                    f"the config's folder, {cfg.config_dir})")
            if file_sha256(p) != part["sha256"]:
                raise SynthgenError(f"--from-plan {path}: parts[{i}].path: {p} has changed since the plan was "
                                    "made (SHA-256 differs)")
        plans.append(plan)
    return plans
