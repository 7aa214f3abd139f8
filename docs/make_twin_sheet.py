"""Contact sheet of the magnetic-tile twin: per class, real crops and twin crops side by side, each
shown as the image and the image with its mask outlined (red), at one common height.

    python docs/make_twin_sheet.py out/twin_magnetic_tile --out docs/twin_sheet.png --per-class 3
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
CLASSES = ["Blowhole", "Break", "Crack", "Fray", "Uneven", "healthy"]
H = 150


def _tile(img: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Image and outlined image side by side, scaled to height H."""
    bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    over = bgr.copy()
    if mask is not None and mask.any():
        cnt, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(over, cnt, -1, (0, 0, 255), max(1, img.shape[0] // H))
    pair = np.concatenate([bgr, np.full((img.shape[0], 2, 3), 255, np.uint8), over], 1)
    w = max(1, int(pair.shape[1] * H / pair.shape[0]))
    return np.pad(cv2.resize(pair, (w, H), interpolation=cv2.INTER_AREA), ((0, 4), (0, 6), (0, 0)),
                  constant_values=255)


def real_examples(cls: str, n: int, rng) -> list[np.ndarray]:
    s = json.loads((DATA / "split.json").read_text())
    entries = ([e for p in ("train", "val", "test") for e in s["defective"][p] if e["class"] == cls]
               if cls != "healthy" else [e for p in ("train", "val", "test") for e in s["healthy"][p]])
    out = []
    for k in rng.permutation(len(entries))[:n]:
        e = entries[int(k)]
        img = cv2.imread(str(DATA / e["image"]), cv2.IMREAD_GRAYSCALE)
        m = cv2.imread(str(DATA / e["mask"]), cv2.IMREAD_GRAYSCALE) > 127 if e.get("mask") else None
        out.append(_tile(img, m))
    return out


def twin_examples(root: Path, cls: str, n: int, rng) -> list[np.ndarray]:
    from pycocotools import mask as mask_utils

    from synthgen.dataset.reader import read_items

    idx = read_items(root)
    items = [it for it in idx.items if (not it.annotations if cls == "healthy"
                                        else any(idx.categories[a["category_id"]] == cls for a in it.annotations))]
    out = []
    for k in rng.permutation(len(items))[:n]:
        it = items[int(k)]
        img = cv2.imread(str(it.image), cv2.IMREAD_GRAYSCALE)
        m = np.zeros(img.shape, bool)
        for a in it.annotations:
            if idx.categories[a["category_id"]] == cls:
                rle = dict(a["segmentation"])
                rle["counts"] = rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]
                m |= mask_utils.decode(rle) > 0
        out.append(_tile(img, m))
    return out


def _row(label: str, tiles: list[np.ndarray], width: int) -> np.ndarray:
    head = np.full((H + 4, 110, 3), 255, np.uint8)
    for i, line in enumerate(label.split("\n")):
        cv2.putText(head, line, (4, 24 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    body = np.concatenate(tiles, 1) if tiles else np.full((H + 4, 10, 3), 255, np.uint8)
    row = np.concatenate([head, body], 1)
    return np.pad(row, ((0, 0), (0, max(0, width - row.shape[1])), (0, 0)), constant_values=255)[:, :width]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "twin_sheet.png")
    ap.add_argument("--per-class", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (DATA / "split.json").is_file():
        print(f"skipped: magnetic tile data not found at {DATA}")
        return 0
    rng = np.random.default_rng(args.seed)
    rows = []
    for cls in CLASSES:
        rows.append(("real\n" + cls, real_examples(cls, args.per_class, rng)))
        rows.append(("twin\n" + cls, twin_examples(args.dataset, cls, args.per_class, rng)))
    width = max(110 + sum(t.shape[1] for t in tiles) for _, tiles in rows)
    sheet = np.concatenate([_row(label, tiles, width) for label, tiles in rows], 0)
    from synthgen.io import atomic_write_png

    atomic_write_png(args.out, sheet[..., ::-1])  # BGR -> RGB
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
