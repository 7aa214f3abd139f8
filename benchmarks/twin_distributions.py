"""Benchmark: do the twin's defects look like the real ones in size and position?

Per class, the real magnetic-tile masks (``../shared/data/magnetic_tile``, every defective image of
the fixed split) and a rendered twin dataset (``synthgen render configs/twin_magnetic_tile.yaml``)
side by side, per defect instance (connected component; COCO instances for the twin):
- area fraction: instance pixels / image pixels;
- bounding-box size: the longest side of its box / the image's shorter side;
- distance to the image border: the gap between its box and the nearest image edge / the
  image's shorter side (0 = touching the border);
and the image sizes. Prints medians and 10-90 % ranges, the two-sample Kolmogorov-Smirnov
distance, and writes a figure of the distributions (``--figure``).

    python benchmarks/twin_distributions.py out/twin_magnetic_tile --figure docs/twin_distributions.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "magnetic_tile"
CLASSES = ["Blowhole", "Break", "Crack", "Fray", "Uneven"]
MEASURES = [("area", "area fraction"), ("box", "box side / short image side"),
            ("border", "gap to border / short image side")]


def _instance_stats(mask: np.ndarray) -> list[dict]:
    """Per connected component of ``mask`` (bool): area fraction, box side and border gap."""
    H, W = mask.shape
    short = min(H, W)
    n, _, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, a = st[k]
        gap = min(x, y, W - (x + w), H - (y + h))
        out.append({"area": a / (H * W), "box": max(w, h) / short, "border": gap / short})
    return out


def real_stats(split: Path) -> tuple[dict[str, list[dict]], list[tuple[int, int]]]:
    s = json.loads(split.read_text())
    per: dict[str, list[dict]] = {c: [] for c in CLASSES}
    sizes = []
    for part in ("train", "val", "test"):
        for e in s["defective"][part]:
            m = cv2.imread(str(split.parent / e["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            sizes.append(m.shape)
            per.setdefault(e["class"], []).extend(_instance_stats(m))
    return per, sizes


def synth_stats(root: Path) -> tuple[dict[str, list[dict]], list[tuple[int, int]], int]:
    from pycocotools import mask as mask_utils

    from synthgen.dataset.reader import read_items

    idx = read_items(root)
    per: dict[str, list[dict]] = {c: [] for c in CLASSES}
    sizes, healthy = [], 0
    for it in idx.items:
        h, w = cv2.imread(str(it.image), cv2.IMREAD_UNCHANGED).shape[:2]
        sizes.append((h, w))
        healthy += not it.annotations
        for a in it.annotations:
            rle = dict(a["segmentation"])
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode()
            m = mask_utils.decode(rle) > 0
            st = _instance_stats(m)
            if st:  # one COCO instance = one defect, even when the crop splits it
                big = max(st, key=lambda r: r["area"])
                big["area"] = sum(r["area"] for r in st)
                per.setdefault(idx.categories[a["category_id"]], []).append(big)
    return per, sizes, healthy


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance (0 = same distribution, 1 = disjoint)."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def _q(v: np.ndarray) -> str:
    if len(v) == 0:
        return "-"
    lo, med, hi = np.percentile(v, [10, 50, 90])
    return f"{med:.3g} [{lo:.3g}, {hi:.3g}]"


def figure(real: dict, synth: dict, path: Path) -> None:
    from synthgen.learn.common.figures import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(len(MEASURES), len(CLASSES), figsize=(3.2 * len(CLASSES), 2.6 * len(MEASURES)))
    for c, cls in enumerate(CLASSES):
        for r, (key, label) in enumerate(MEASURES):
            ax = axes[r][c]
            a = np.array([d[key] for d in real.get(cls, [])])
            b = np.array([d[key] for d in synth.get(cls, [])])
            log = key == "area"
            allv = np.concatenate([a, b]) if len(a) + len(b) else np.array([1e-4, 1.0])
            lo = max(allv[allv > 0].min(), 1e-6) if log and (allv > 0).any() else 0.0
            bins = (np.geomspace(lo, max(allv.max(), lo * 10), 25) if log
                    else np.linspace(0, max(allv.max(), 1e-3), 25))
            for v, name, col in ((a, "real", "C0"), (b, "twin", "C1")):
                if len(v):
                    ax.hist(v, bins=bins, density=True, alpha=0.5, color=col, label=f"{name} ({len(v)})")
            if log:
                ax.set_xscale("log")
            ax.set_title(f"{cls}: KS {ks(a, b):.2f}", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
    fig.suptitle("defect instances, real magnetic tile vs twin (density)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="a rendered twin dataset (synthgen render output)")
    ap.add_argument("--split", type=Path, default=DATA / "split.json")
    ap.add_argument("--figure", type=Path, default=None)
    args = ap.parse_args()
    if not args.split.is_file():
        print(f"skipped: magnetic tile data not found at {args.split}")
        return 0
    real, rsizes = real_stats(args.split)
    synth, ssizes, healthy = synth_stats(args.dataset)
    print(f"images: real {len(rsizes)} defective; twin {len(ssizes)} ({healthy} healthy)")
    for name, sz in (("real", rsizes), ("twin", ssizes)):
        h = np.array([s[0] for s in sz])
        w = np.array([s[1] for s in sz])
        print(f"  {name} image height {_q(h)}, width {_q(w)} px (median [10 %, 90 %])")
    print("\n| class | measure | real median [10 %, 90 %] | twin median [10 %, 90 %] | KS | instances real / twin |")
    print("|---|---|---|---|---:|---|")
    for cls in CLASSES:
        for key, label in MEASURES:
            a = np.array([d[key] for d in real.get(cls, [])])
            b = np.array([d[key] for d in synth.get(cls, [])])
            print(f"| {cls} | {label} | {_q(a)} | {_q(b)} | {ks(a, b):.2f} | {len(a)} / {len(b)} |")
    if args.figure:
        figure(real, synth, args.figure)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
