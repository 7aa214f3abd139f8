"""Acceptance rate, empty-render fraction, seconds per accepted labelled image, wall time over
pure Cycles time, and the labelled instances of every configured defect kind (a kind with none
is named: the example a user starts from should show every kind it configures) for full
labelled runs of one or more configs.

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
    from synthgen.config.job import load_job_config
    from synthgen.pipeline import run_render

    print("config | scenes accepted/tried | cameras accepted/planned | images without a visible defect | "
          "s per accepted image | verify s | render s | wall s | wall / render | instances per kind")
    for c in args.configs:
        cfg = load_job_config(c)
        with tempfile.TemporaryDirectory() as tmp:
            st = run_render(cfg, out=tmp, num_scenes=args.scenes, progress=False)
            man = json.loads((Path(tmp) / "manifest.json").read_text())["counts"]
            empty = sum(1 for p in (Path(tmp) / "masks" / "instance").glob("*.png")
                        if not np.asarray(Image.open(p)).any())
            coco = json.loads((Path(tmp) / "annotations" / "coco.json").read_text())
            names = {k["id"]: k["name"] for k in coco["categories"]}
            per_kind = dict.fromkeys(sorted(cfg.defects.kinds), 0)
            for a in coco["annotations"]:
                per_kind[names[a["category_id"]]] += 1
            missing = [k for k, n in per_kind.items() if n == 0]
            s = st.seconds
            print(f"{Path(c).name} | {man['scenes_accepted']}/{man['scenes_done']} | "
                  f"{man['cameras_accepted']}/{man['cameras_planned']} | {empty}/{st.images} | "
                  f"{st.wall / max(1, st.images):.2f} | {s['verify']:.2f} | {s['render']:.2f} | {st.wall:.2f} | "
                  f"{st.wall / s['render']:.3f} | {', '.join(f'{k} {n}' for k, n in per_kind.items())}"
                  + (f" (NO LABEL: {', '.join(missing)})" if missing else ""), flush=True)


if __name__ == "__main__":
    main()
