"""Acceptance rate, empty-render fraction, seconds per accepted labelled image and wall time
over pure Cycles time for full labelled runs of one or more configs.

    python benchmarks/dataset_stats.py configs/quickstart.yaml configs/smoke.yaml [--scenes N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--scenes", type=int, default=None)
    args = ap.parse_args()
    from synthgen.config import load_job_config
    from synthgen.pipeline import run_render

    print("config | scenes accepted/tried | cameras accepted/planned | images without a visible defect | "
          "s per accepted image | verify s | render s | wall s | wall / render")
    for c in args.configs:
        cfg = load_job_config(c)
        with tempfile.TemporaryDirectory() as tmp:
            st = run_render(cfg, out=tmp, num_scenes=args.scenes, progress=False)
            man = json.loads((Path(tmp) / "manifest.json").read_text())["counts"]
            empty = sum(1 for p in (Path(tmp) / "masks" / "instance").glob("*.png")
                        if not np.asarray(Image.open(p)).any())
            s = st.seconds
            print(f"{Path(c).name} | {man['scenes_accepted']}/{man['scenes_done']} | "
                  f"{man['cameras_accepted']}/{man['cameras_planned']} | {empty}/{st.images} | "
                  f"{st.wall / max(1, st.images):.2f} | {s['verify']:.2f} | {s['render']:.2f} | {st.wall:.2f} | "
                  f"{st.wall / s['render']:.3f}", flush=True)


if __name__ == "__main__":
    main()
