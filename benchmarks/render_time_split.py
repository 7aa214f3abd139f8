"""Time split of a render run and the ratio of total wall time to pure Cycles render time.

    python benchmarks/render_time_split.py [CONFIG] [--scenes N] [--samples S ...]

For each sample count it renders CONFIG (default: configs/quickstart.yaml) into a fresh temp
folder in this process and prints where the time goes: config+plan, scene build, ID pass
(geometric check and defect-ID pass), contrast renders, final Cycles renders, writing,
clean-up; then wall / render (the floor is 1.0: everything else is overhead), the wall seconds
per labelled image and the pure Cycles seconds per image. The wall time includes Blender start-up and the defect library
generation of the fresh folder.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default=str(REPO / "configs" / "quickstart.yaml"))
    ap.add_argument("--scenes", type=int, default=2)
    ap.add_argument("--samples", type=int, nargs="+", default=[16, 128])
    ap.add_argument("--resolution", type=int, nargs=2, default=None)
    args = ap.parse_args()

    from synthgen.config.job import load_job_config
    from synthgen.pipeline import run_render

    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPUs; "
          f"config {args.config}; {args.scenes} scenes")
    print("samples | res | images | load+plan s | build s | ID pass s | contrast s | render s | write s | clear s | "
          "wall s | wall/render | s per labelled image | Cycles s per image")
    for samples in args.samples:
        t0 = time.perf_counter()
        over = {"render.samples": samples}
        if args.resolution:
            over["render.resolution"] = tuple(args.resolution)
        cfg = load_job_config(args.config, over)
        t_cfg = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            stats = run_render(cfg, out=tmp, num_scenes=args.scenes, progress=False)
        s = stats.seconds
        wall = stats.wall + t_cfg
        n = max(1, stats.images)
        print(f"{samples} | {cfg.render.resolution[0]}x{cfg.render.resolution[1]} | {stats.images} | "
              f"{t_cfg + s['plan']:.2f} | {s['build']:.2f} | {s['verify'] - s['contrast']:.2f} | {s['contrast']:.2f} | "
              f"{s['render']:.2f} | {s['write']:.2f} | {s['clear']:.2f} | {wall:.2f} | {wall / s['render']:.3f} | "
              f"{wall / n:.2f} | {s['render'] / n:.2f}")


if __name__ == "__main__":
    main()
