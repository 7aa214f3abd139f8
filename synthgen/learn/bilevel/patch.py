"""Learned weights fed back into the render: ``synthgen bilevel patch OUT``.

A bi-level run with learned source weights ends with one weight per defect source (mean 1 over
the sources). A source restricted to one defect kind (``synthesis.defects.<name>.kinds: [K]``)
cut from a synthgen dataset says how much the segmenter gained from the rendered K defects. The
patch turns those weights, averaged over the runs and seeds that learned them, into
``defects.kinds.<K>.weight`` of the render config: K's expected count per part is multiplied by
its weight, renormalised so that the mean over the patched kinds is 1 (the dataset keeps its size;
its kinds move towards the useful ones).

The patch is a YAML file written beside the results for the user to read; applying it
(``--config C --apply NEW``) writes a new config file with the weights, comments kept, and never
the source config in place. Then ``synthgen render NEW`` and the experiment row run as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text


def learned_kind_weights(out: Path) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """(kind -> weight renormalised to mean 1, source -> mean learned weight, the runs averaged)
    from a bi-level output folder. Only sources whose ``kinds`` name exactly one kind give a kind
    weight."""
    res_path, cfg_path = out / "results.json", out / "config.json"
    try:
        results = json.loads(res_path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{res_path}: cannot read bi-level results: {exc}") from None
    learned = {k: r["final_weights"] for k, r in results.items() if isinstance(r, dict) and r.get("final_weights")}
    if not learned:
        raise SynthgenError(f"{res_path}: no run learned source weights (runs: learned_weights or both)")
    sources = sorted({s for w in learned.values() for s in w})
    mean = {s: float(np.mean([w[s] for w in learned.values() if s in w])) for s in sources}
    defects = _defect_sources(cfg_path)
    by_kind: dict[str, list[float]] = {}
    for s, w in mean.items():
        kinds = (defects.get(s) or {}).get("kinds") or []
        if len(kinds) == 1:
            by_kind.setdefault(kinds[0], []).append(w)
    if not by_kind:
        raise SynthgenError(f"{cfg_path}: synthesis.defects: no defect source names a single kind "
                            f"(kinds: [K]); the learned weights cannot be given to render kinds")
    raw = {k: float(np.mean(v)) for k, v in sorted(by_kind.items())}
    norm = float(np.mean(list(raw.values())))
    return {k: round(v / norm, 3) for k, v in raw.items()}, mean, sorted(learned)


def _defect_sources(cfg_path: Path) -> dict:
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{cfg_path}: cannot read the bi-level run's config: {exc}") from None
    return (cfg.get("synthesis") or {}).get("defects") or {}


def write_patch(out: Path, target: Path | None = None) -> tuple[Path, dict[str, float]]:
    """Write ``render_patch.yaml`` (or ``target``) from the bi-level results in ``out``."""
    weights, sources, runs = learned_kind_weights(out)
    target = target or out / "render_patch.yaml"
    head = ["# synthgen bilevel patch: learned kind weights for the render config",
            f"# from {out / 'results.json'} (runs {', '.join(runs)})",
            "# learned source weights (mean 1 over the sources): "
            + ", ".join(f"{s} {w:.3f}" for s, w in sources.items()),
            "# weight multiplies a kind's expected count per part; mean 1 over these kinds.",
            "# apply: synthgen bilevel patch OUT --config RENDER.yaml --apply NEW.yaml"]
    body = yaml.safe_dump({"defects": {"kinds": {k: {"weight": w} for k, w in weights.items()}}}, sort_keys=False)
    atomic_write_text(target, "\n".join(head) + "\n" + body)
    return target, weights


def read_patch(path: Path) -> dict[str, float]:
    """kind -> weight of a patch file (one line naming the file when it is not one)."""
    try:
        data = yaml.safe_load(path.read_text())
        kinds = data["defects"]["kinds"]
        return {str(k): float(v["weight"]) for k, v in kinds.items()}
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        raise SynthgenError(f"{path}: not a render patch (defects.kinds.<kind>.weight): {exc!s}") from None


def apply_patch(patch: Path, config: Path, target: Path):
    """Write ``config`` with the patch's kind weights to ``target`` (a new file); returns the
    reloaded config."""
    from synthgen.config.edit import save_config
    from synthgen.config.job import load_job_config

    if target.resolve() == config.resolve():
        raise SynthgenError(f"{target}: --apply writes a new config; it would overwrite {config}")
    weights = read_patch(patch)
    have = load_job_config(config).defects.kinds
    unknown = [k for k in weights if k not in have]
    if unknown:
        raise SynthgenError(f"{patch}: defects.kinds.{unknown[0]}: no such kind in {config} "
                            f"(kinds: {', '.join(have)})")
    return save_config(config, target, {f"defects.kinds.{k}.weight": (w,) for k, w in weights.items()})
