"""Learning curves of a training-mix experiment: a validation figure per epoch of every mix (mean
over seeds, band = min..max), and a table of its mean over the last three quarters of the epochs,
to judge whether a budget has reached its plateau.

    python benchmarks/experiment_curves.py out/seg/experiment_twin_magnetic_tile --figure docs/twin_table1_curves.png
    python benchmarks/experiment_curves.py out/seg/experiment_twin_magnetic_tile \\
        --metric iou_dataset --metric image_ap_head --figure docs/decision_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def val_curves(folder: Path, metric: str = "iou_dataset") -> dict[str, np.ndarray]:
    """mix -> (seeds, epochs) of a validation figure over the test-free validation sets."""
    out = {}
    for mix in sorted(p for p in folder.iterdir() if p.is_dir()):
        runs = []
        for seed in sorted(mix.glob("s*/history.json")):
            h = json.loads(seed.read_text())
            runs.append([e["val"].get(metric, np.nan) for e in (h["epochs"] if isinstance(h, dict) else h)])
        if runs:
            n = min(map(len, runs))
            out[mix.name] = np.array([r[:n] for r in runs], float)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment", type=Path)
    ap.add_argument("--metric", action="append", default=None, help="history val key (repeatable; default IoU)")
    ap.add_argument("--figure", type=Path)
    args = ap.parse_args()
    metrics = args.metric or ["iou_dataset"]
    for metric in metrics:
        curves = val_curves(args.experiment, metric)
        print(f"\n{metric}: mean over quarters 2, 3, 4 of the epochs\n")
        print("| mix | seeds | epochs | quarter 2 | quarter 3 | quarter 4 | still rising? |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for mix, c in curves.items():
            q = np.array_split(np.arange(c.shape[1]), 4)
            w = [np.nanmean(c[:, idx]) for idx in q[1:]]
            rising = "yes" if w[2] > w[1] * 1.05 else "no"
            print(f"| {mix} | {c.shape[0]} | {c.shape[1]} | {w[0]:.3f} | {w[1]:.3f} | {w[2]:.3f} | {rising} |")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.2), dpi=110, squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            for mix, c in val_curves(args.experiment, metric).items():
                x = np.arange(1, c.shape[1] + 1)
                line, = ax.plot(x, np.nanmean(c, 0), label=f"{mix} ({c.shape[0]} seeds)")
                ax.fill_between(x, np.nanmin(c, 0), np.nanmax(c, 0), color=line.get_color(), alpha=0.15)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"validation {metric} (real val + healthy val)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(args.experiment.name, fontsize=10)
        fig.tight_layout()
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
