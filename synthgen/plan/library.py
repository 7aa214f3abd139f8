"""The defect library a render uses, and the plans of a config's scenes with it (pure: no bpy).

``plan_scene`` is what a render plans for a scene, for the ``plan`` command and the add-on;
``written_plan`` reads a scene record back with its portable paths resolved.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthgen.config.job import JobConfig
from synthgen.errors import SynthgenError
from synthgen.plan import cache_dir_for, make_plan
from synthgen.plan.portable import localize
from synthgen.plan.types import ScenePlan, plan_from_dict
from synthgen.textures.recipes import map_fields

SHARED_CACHE_ENV = "SYNTHGEN_CACHE"


def library_root(cfg: JobConfig, seed: int, cache_root: Path) -> Path | None:
    """The defect library's folder: the configured one, else the one generated under the cache
    (the ``SYNTHGEN_CACHE`` folder when set, shared by every run and output; else the output's
    own), keyed by the defects config and seed (None without defect kinds)."""
    dc = cfg.defects
    if not dc.kinds:
        return None
    if dc.library:
        return Path(dc.library)
    shared = os.environ.get(SHARED_CACHE_ENV)
    root = Path(shared).expanduser() if shared else Path(cache_root)
    d = dc.model_dump(mode="json")
    d["kinds"] = {k: map_fields(v) for k, v in d.get("kinds", {}).items()}
    return root / "defects" / config_hash_part(d, seed)


def plan_scene(cfg: JobConfig, scene_index: int, seed: int | None = None,
               cache_dir: str | Path | None = None) -> ScenePlan:
    """Resolve the defect library, then plan scene ``scene_index``: the plan a render of ``cfg``
    makes for that scene (pure; the library is generated under ``cache_dir`` once, default the
    output's ``.cache`` as a render uses). Raises PlacementError for an unplaceable scene."""
    seed = cfg.seed if seed is None else seed
    cache = Path(cache_dir) if cache_dir is not None else cache_dir_for(cfg)
    return make_plan(cfg, scene_index, seed=seed, cache_dir=cache, library=resolve_library(cfg, seed, cache))


def written_plan(cfg: JobConfig, record: dict, dataset: str | Path) -> ScenePlan:
    """The ScenePlan of a scene record of ``dataset`` (``plans/N.json``), its portable paths
    resolved against ``cfg``'s folder and the dataset's defect library."""
    d = record.get("plan", record)
    return plan_from_dict(localize(d, cfg.config_dir, library_root(cfg, d["seed"], Path(dataset) / ".cache")))


def resolve_library(cfg: JobConfig, seed: int, cache_root: Path) -> dict[str, list[str]]:
    """Variant folders per defect kind: the configured library, else one generated (once, and
    resumably) under the cache."""
    from synthgen.textures.library import generate_library, load_library

    dc = cfg.defects
    root = library_root(cfg, seed, cache_root)
    if root is None:
        return {}
    if not dc.library:
        generate_library(dc, seed, root, progress=False)
    lib = load_library(root)
    out: dict[str, list[str]] = {}
    for kind in dc.kinds:
        variants = lib.get(kind) or []
        out[kind] = sorted(str(Path(v).resolve()) for v in variants)
        if not out[kind]:
            raise SynthgenError(f"{root}: defect library has no variants of kind '{kind}'")
    return out


def config_hash_part(obj, seed: int) -> str:
    from synthgen.io import stable_hash

    return stable_hash([obj, seed], 12)
