"""Cost of the per-camera verification (geometry check, one defect-ID pass, contrast check)
relative to one final Cycles render, and how it grows with the number of defects per part.

    python benchmarks/verification_cost.py [--config configs/quickstart.yaml]
    python benchmarks/verification_cost.py --counts 1 8 32 128 --config configs/production_door.yaml \
        --resolution 640 810 --samples 64 [--camera 4]

The first form prints, for two settings of the config: resolution, samples, defects in the
scene, seconds per camera for verification and for the final render, and their ratio. The
second puts exactly N defects on the config's (first) part for each N, keeps one camera, and
prints what the scene pays once (build; ID setup: making the ID shading, compiling it and the
first ID pass) and what each camera pays (a further ID pass, the contrast renders, the final
render), with the ID pass's and the whole verification's share of the final render (the ID
setup spread over the config's cameras).
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
    verify_scene(built, cfg)  # geometry, ID pass and contrast check
    t1 = time.perf_counter()
    for cam in cams:
        render.render_camera(built, cam.camera_id)
    t2 = time.perf_counter()
    clear()
    return len(plan.defects), (t1 - t0) / len(cams), (t2 - t1) / len(cams)


def with_count(cfg, n: int):
    """``cfg`` with exactly ``n`` defects per part, spread round-robin over its kinds."""
    from synthgen.config.job import JobConfig

    data = cfg.model_dump(mode="json")
    kinds = sorted(data["defects"]["kinds"])
    for i, k in enumerate(kinds):
        c = n // len(kinds) + (1 if i < n % len(kinds) else 0)
        data["defects"]["kinds"][k]["count_per_part"] = [c, c]
    return JobConfig.model_validate(data, context={"config_dir": cfg.config_dir})


def measure_counts(cfg, tmp: Path, counts: list[int], camera: int) -> None:
    """Per defect count: what the scene pays once (build, making the ID shading and compiling it
    with the first ID render) and what each camera pays (one ID pass, the contrast renders, the
    final render)."""
    from dataclasses import replace

    from synthgen.blender import render
    from synthgen.blender.build import build, built_id_pass, clear, start_session
    from synthgen.blender.verify import verify_scene
    from synthgen.plan import make_plan
    from synthgen.plan.library import resolve_library

    ncam = len(make_plan(cfg, 0, cache_dir=tmp / "cache", library=resolve_library(cfg, cfg.seed, tmp / "cache")).cameras)
    print(f"per scene: build, ID setup (ID shading made and compiled, first ID pass); per camera: ID pass, contrast "
          f"renders, final render; verify / render = (ID pass + contrast + ID setup / {ncam} cameras) / final render")
    print("defects on the part | regions | build s | ID setup s | ID pass s | contrast s | final render s | "
          "ID pass / render | verify / render")
    for n in counts:
        c = with_count(cfg, n)
        lib = resolve_library(c, c.seed, tmp / "cache")
        plan = make_plan(c, 0, cache_dir=tmp / "cache", library=lib)
        plan = replace(plan, cameras=(plan.cameras[camera],))
        cam = plan.cameras[0].camera_id
        start_session()
        t0 = time.perf_counter()
        built = build(plan)
        t1 = time.perf_counter()
        with built_id_pass(built) as idp:
            idp.render_id_maps(cam)
            t2 = time.perf_counter()
            idp.render_id_maps(cam)  # as a further camera of the scene would
            t3 = time.perf_counter()
        verdict = verify_scene(built, c)
        t4 = time.perf_counter()
        render.render_camera(built, cam)
        t5 = time.perf_counter()
        regions = sum(len(r) for r in built.regions.values())
        clear()
        setup, idpass, contrast, final = t2 - t1, t3 - t2, verdict.seconds_contrast, t5 - t4
        verify = idpass + contrast + setup / ncam
        print(f"{len(plan.defects)} | {regions} | {t1 - t0:.2f} | {setup:.2f} | {idpass:.2f} | {contrast:.2f} | "
              f"{final:.2f} | {100 * idpass / final:.2f} % | {100 * verify / final:.2f} %", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(REPO / "configs" / "quickstart.yaml"))
    ap.add_argument("--counts", type=int, nargs="*", help="defects per part to measure (one camera)")
    ap.add_argument("--resolution", type=int, nargs=2)
    ap.add_argument("--samples", type=int)
    ap.add_argument("--camera", type=int, default=0, help="index of the planned camera kept (with --counts)")
    args = ap.parse_args()
    from synthgen.config.job import load_job_config

    if args.counts:
        over = {"render.device": "CPU", "render.fallback": "cpu"}
        if args.resolution:
            over["render.resolution"] = tuple(args.resolution)
        if args.samples:
            over["render.samples"] = args.samples
        cfg = load_job_config(args.config, over)
        with tempfile.TemporaryDirectory() as tmp:
            measure_counts(cfg, Path(tmp), args.counts, args.camera)
        return

    settings = [((320, 240), 16, 3, 1), ((640, 480), 128, 1, 1)]
    print("resolution | samples | defects in scene | verify s/camera | final render s/camera | verify / render")
    with tempfile.TemporaryDirectory() as tmp:
        for res, spp, cams, per_kind in settings:
            cfg = load_job_config(args.config, {"render.resolution": res, "render.samples": spp})
            n, v, r = measure(cfg, Path(tmp), cams)
            print(f"{res[0]}x{res[1]} | {spp} | {n} | {v:.3f} | {r:.2f} | {100 * v / r:.2f} %", flush=True)

if __name__ == "__main__":
    main()
