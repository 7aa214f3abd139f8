"""Cropping output images to the part's surface (pure numpy): the largest axis-aligned rectangle
inside the visible part, and the label maps and kept defects that fall inside it.

Used when ``render.crop`` is set: inspection datasets such as magnetic tile are crops of the
part's surface, with no background. The rectangle is found on the defect-ID pass's part map, so
the crop is decided before the final render, and the image and every mask are cut identically.
"""

from __future__ import annotations

import numpy as np


def _largest_in_histogram(h: np.ndarray) -> tuple[int, int, int, int]:
    """(area, left, right, height) of the largest rectangle under the histogram ``h`` (right exclusive)."""
    best = (0, 0, 0, 0)
    stack: list[int] = []
    hh = np.append(h, 0)
    for i, v in enumerate(hh):
        while stack and hh[stack[-1]] >= v:
            j = stack.pop()
            left = stack[-1] + 1 if stack else 0
            area = int(hh[j]) * (i - left)
            if area > best[0]:
                best = (area, left, i, int(hh[j]))
        stack.append(i)
    return best


def inscribed_rect(mask: np.ndarray, inset: int = 0, block: int | None = None) -> tuple[int, int, int, int] | None:
    """Largest axis-aligned rectangle (x0, y0, x1, y1; x1, y1 exclusive) whose pixels are all in
    ``mask`` (H, W bool), shrunk by ``inset`` pixels on every side; None if nothing is left.

    Found on ``block`` x ``block`` cells that lie wholly inside the mask (default: about 160 cells
    across), so the rectangle is always inside the mask and within one cell of the largest."""
    mask = np.asarray(mask, bool)
    H, W = mask.shape
    b = block or max(1, W // 160)
    hc, wc = H // b, W // b
    if hc == 0 or wc == 0:
        return None
    cells = mask[: hc * b, : wc * b].reshape(hc, b, wc, b).all(axis=(1, 3))
    best, rect = 0, None
    heights = np.zeros(wc, np.int64)
    for r in range(hc):
        heights = np.where(cells[r], heights + 1, 0)
        area, left, right, height = _largest_in_histogram(heights)
        if area > best:
            best, rect = area, (left * b, (r + 1 - height) * b, right * b, (r + 1) * b)
    if rect is None:
        return None
    x0, y0, x1, y1 = rect[0] + inset, rect[1] + inset, rect[2] - inset, rect[3] - inset
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def crop_views(rect: tuple[int, int, int, int], ids: np.ndarray, foot: np.ndarray, visible: list[dict],
               min_pixels: int) -> tuple[np.ndarray, np.ndarray, list[dict], list[dict]]:
    """Cut the label and footprint maps to ``rect``; a kept defect with fewer than ``min_pixels``
    label pixels left inside is dropped (reason ``outside_crop``). Returns (ids, foot, kept, dropped)."""
    x0, y0, x1, y1 = rect
    ids_c, foot_c = ids[y0:y1, x0:x1], foot[y0:y1, x0:x1]
    kept, dropped = [], []
    for v in visible:
        n = int((ids_c == v["defect_id"]).sum())
        if n >= min_pixels:
            kept.append({**v, "visible_pixels": n})
        else:
            dropped.append({**v, "visible_pixels": n, "reason": "outside_crop"})
    keep = [v["defect_id"] for v in kept]
    ids_c = np.where(np.isin(ids_c, keep), ids_c, 0)
    return ids_c, foot_c, kept, dropped
