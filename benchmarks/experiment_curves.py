"""Learning curves of a training-mix experiment: validation IoU per epoch of every mix (mean over
seeds, band = min..max), and a table of the mean over epoch windows, to judge whether a budget has
reached its plateau.

    python benchmarks/experiment_curves.py out/seg/experiment_twin_magnetic_tile --figure docs/twin_table1_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def val_curves(folder: Path) -> dict[str, np.ndarray]:
    """mix -> (seeds, epochs) validation IoU over the test-free validation sets."""
    out = {}
    for mix in sorted(p for p in folder.iterdir() if p.is_dir()):
        runs = []
        for seed in sorted(mix.glob("s*/history.json")):
            h = json.loads(seed.read_text())
            runs.append([e["val"]["iou_dataset"] for e in (h["epochs"] if isinstance(h, dict) else h)])
        if runs:
            n = min(map(len, runs))
            out[mix.name] = np.array([r[:n] for r in runs])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment", type=Path)
    ap.add_argument("--figure", type=Path)
    args = ap.parse_args()
    curves = val_curves(args.experiment)
    print("| mix | seeds | epochs | val IoU, epochs 21-40 | 41-60 | 61-80 | still rising? |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for mix, c in curves.items():
        w = [c[:, a:b].mean() for a, b in ((20, 40), (40, 60), (60, 80))]
        rising = "yes" if w[2] > w[1] * 1.05 else "no"
        print(f"| {mix} | {c.shape[0]} | {c.shape[1]} | {w[0]:.3f} | {w[1]:.3f} | {w[2]:.3f} | {rising} |")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
        for mix, c in curves.items():
            x = np.arange(1, c.shape[1] + 1)
            line, = ax.plot(x, c.mean(0), label=f"{mix} ({c.shape[0]} seeds)")
            ax.fill_between(x, c.min(0), c.max(0), color=line.get_color(), alpha=0.15)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation IoU (real val + healthy val)")
        ax.set_title(args.experiment.name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
