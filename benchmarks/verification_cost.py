"""Cost of the per-camera verification (geometry check, one defect-ID pass, contrast check)
relative to one final Cycles render, and how it grows with the number of defects per part.

    python benchmarks/verification_cost.py [--config configs/quickstart.yaml]

Prints, for each setting: resolution, samples, defects in the scene, seconds per camera for
verification and for the final render, and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(cfg, tmp: Path, cameras: int) -> tuple[int, float, float]:
    from dataclasses import replace

    from synthgen.blender import render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.blender.verify import verify_scene
    from synthgen.plan import make_plan
    from synthgen.plan.library import resolve_library

    lib = resolve_library(cfg, cfg.seed, tmp / "cache")
    plan = make_plan(cfg, 0, cache_dir=tmp / "cache", library=lib)
    cams = plan.cameras[:cameras]
    plan = replace(plan, cameras=cams)
    start_session()
    built = build(plan)
    t0 = time.perf_counter()
    verify_scene(built, cfg.verification)  # geometry, ID pass and contrast check
    t1 = time.perf_counter()
    for cam in cams:
        render.render_camera(built, cam.camera_id)
    t2 = time.perf_counter()
    clear()
    return len(plan.defects), (t1 - t0) / len(cams), (t2 - t1) / len(cams)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(REPO / "configs" / "quickstart.yaml"))
    args = ap.parse_args()
    from synthgen.config import load_job_config

    settings = [((320, 240), 16, 3, 1), ((640, 480), 128, 1, 1)]
    print("resolution | samples | defects in scene | verify s/camera | final render s/camera | verify / render")
    with tempfile.TemporaryDirectory() as tmp:
        for res, spp, cams, per_kind in settings:
            cfg = load_job_config(args.config, {"render.resolution": res, "render.samples": spp})
            n, v, r = measure(cfg, Path(tmp), cams)
            print(f"{res[0]}x{res[1]} | {spp} | {n} | {v:.3f} | {r:.2f} | {100 * v / r:.2f} %", flush=True)
        # Growth with the number of defects per part (quickstart resolution, verification only).
        for per_kind in (1, 2, 4):
            base = load_job_config(args.config)
            data = base.model_dump(mode="json")
            for k in data["defects"]["kinds"].values():
                k["count_per_part"] = [per_kind, per_kind]
            from synthgen.config import JobConfig

            cfg = JobConfig.model_validate(data, context={"config_dir": Path(args.config).resolve().parent})
            n, v, r = measure(cfg, Path(tmp), 3)
            print(f"320x240 | 16 | {n} | {v:.3f} | {r:.2f} | {100 * v / r:.2f} %", flush=True)


if __name__ == "__main__":
    main()
