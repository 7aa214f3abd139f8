"""Which per-image score separates defective from healthy photos best? Image-level AP of candidate
scores computed from the same probability maps, for trained seg checkpoints.

    python benchmarks/image_scores.py out/bench/seg_cpu_full/s0/checkpoints/best.pt ...
                                      [--config configs/seg_magnetic_tile_cpu.yaml]

Scores: ``max`` (the one `seg eval` reports), ``topK`` (mean of the K highest pixel probabilities)
and ``areaT`` (share of pixels with probability >= T). Test set: the config's ``real_test`` +
``healthy_test`` sources, at the original size. Prints one row per checkpoint and the mean ± std.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from synthgen.configio import load_config
from synthgen.learn.common.checkpoint import load_checkpoint, model_from_checkpoint
from synthgen.learn.common.data import build_dataset
from synthgen.learn.common.decision import decision_metrics
from synthgen.learn.common.loop import predict_dataset
from synthgen.learn.seg.config import SegConfig

SCORES = {"max": lambda f, p: f[0], "top16": lambda f, p: f[:16].mean(), "top256": lambda f, p: f[:256].mean(),
          "top1024": lambda f, p: f[:1024].mean(), "area0.5": lambda f, p: (p >= 0.5).mean(),
          "area0.9": lambda f, p: (p >= 0.9).mean()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--config", default="configs/seg_magnetic_tile_cpu.yaml")
    a = ap.parse_args()
    cfg = load_config(a.config, SegConfig)
    dev = torch.device("cpu")
    rows = []
    print("| checkpoint | " + " | ".join(SCORES) + " |\n|---|" + "---:|" * len(SCORES))
    for path in a.checkpoints:
        model, data = model_from_checkpoint(load_checkpoint(path), dev)
        ds = build_dataset(["real_test", "healthy_test"], cfg.sources, data)
        vals: dict[str, list] = {k: [] for k in SCORES}
        defective = []
        for _name, gt, prob in predict_dataset(model, ds, 8, "original", dev):
            p = prob if prob.ndim == 2 else 1.0 - prob[0]
            flat = np.sort(p.ravel())[::-1]
            for k, fn in SCORES.items():
                vals[k].append(float(fn(flat, p)))
            defective.append(bool(gt.any()))
        aps = [decision_metrics(vals[k], defective)["image_ap"] for k in SCORES]
        rows.append(aps)
        print(f"| {path} | " + " | ".join(f"{v:.3f}" for v in aps) + " |", flush=True)
    r = np.array(rows)
    sd = r.std(0, ddof=1) if len(r) > 1 else np.zeros(r.shape[1])
    print("| mean ± std | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(r.mean(0), sd)) + " |")


if __name__ == "__main__":
    main()
