"""Contact sheet: per class, real crops (left) and rendered crops (right), mask outlined in red.

A crop is the instance's box grown by half its size and to at least 64 px, shown at ``cell`` px
(a large defect is scaled down, a small one up; the scale is the same for both sides only in
spirit, so read sizes from the report, not from the sheet). Healthy images give a random 96 px crop.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synthgen.io import atomic_write_png
from synthgen.realism.sources import HEALTHY, Item, item_mask, read_image


def crop(item: Item, cell: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB ``cell`` x ``cell`` crop of the item, mask outlined."""
    img = read_image(item.image)
    H, W = img.shape
    mask = item_mask(item, img.shape) if item.cls != HEALTHY else None
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
        side = max(64, 1.5 * max(ys.max() - ys.min(), xs.max() - xs.min()))
    else:
        side = min(96, H, W)
        cy, cx = rng.uniform(side / 2, H - side / 2 + 1e-6), rng.uniform(side / 2, W - side / 2 + 1e-6)
    side = int(min(side, H, W))
    y0 = int(np.clip(cy - side / 2, 0, H - side))
    x0 = int(np.clip(cx - side / 2, 0, W - side))
    tile = cv2.cvtColor(img[y0:y0 + side, x0:x0 + side], cv2.COLOR_GRAY2RGB)
    tile = cv2.resize(tile, (cell, cell), interpolation=cv2.INTER_AREA if side > cell else cv2.INTER_LINEAR)
    if mask is not None:
        m = cv2.resize(mask[y0:y0 + side, x0:x0 + side].astype(np.uint8), (cell, cell),
                       interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, (255, 40, 40), 1)
    return tile


def _label(width: int, text: str) -> np.ndarray:
    bar = np.full((18, width, 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def contact_sheet(real: list[Item], rendered: list[Item], classes: list[str], path: Path, per_side: int = 6,
                  cell: int = 96, seed: int = 0, names: tuple[str, str] = ("real", "rendered")) -> None:
    """Write the sheet: one row per class with ``per_side`` crops of each side."""
    rng = np.random.default_rng(seed)
    gap = np.full((cell, 8, 3), 255, np.uint8)
    rows = []
    for cls in classes:
        halves = []
        for pool in ([it for it in real if it.cls == cls], [it for it in rendered if it.cls == cls]):
            pick = [pool[k] for k in rng.choice(len(pool), min(per_side, len(pool)), replace=False)] if pool else []
            cells = [crop(it, cell, rng) for it in pick]
            cells += [np.full((cell, cell, 3), 235, np.uint8)] * (per_side - len(cells))
            halves.append(np.concatenate(cells, axis=1))
        row = np.concatenate([halves[0], gap, halves[1]], axis=1)
        rows.append(_label(row.shape[1], f"{cls}: {names[0]} (left) | {names[1]} (right)"))
        rows.append(row)
    atomic_write_png(path, np.concatenate(rows, axis=0) if rows else np.full((18, 200, 3), 255, np.uint8))
