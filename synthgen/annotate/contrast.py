"""Does a defect visibly change its image? The per-defect contrast check (pure numpy/opencv).

Input: a camera's defect-ID map and two renders of it that differ only in the defects being on
or off (same camera, lights, samples and Cycles seed, so noise cancels where nothing changed).
A defect keeps its label when enough of its label pixels change by more than ``min_contrast``
8-bit levels; its label is then cut to the pixels that change (a halo the image does not show
is not labelled). Others are dropped with the reason ``low_contrast``.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.annotate.visibility import LOW_CONTRAST


def changed_pixels(with_img: np.ndarray, without_img: np.ndarray, min_contrast: float) -> np.ndarray:
    """(H, W) bool: pixels whose largest channel difference exceeds ``min_contrast`` levels,
    closed by one pixel so that render noise does not punch pinholes into a changed region."""
    delta = np.abs(with_img.astype(np.int16) - without_img.astype(np.int16)).max(axis=2)
    changed = (delta > min_contrast).astype(np.uint8)
    return cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)


def contrast_check(ids: np.ndarray, with_img: np.ndarray, without_img: np.ndarray, visible: list[dict],
                   min_contrast: float, min_changed_fraction: float, min_pixels: int,
                   trim: bool = True) -> tuple[list[dict], list[dict], np.ndarray]:
    """Split ``visible`` records into (kept, dropped) by contrast; returns the ID map with each
    kept label cut to its changed pixels (when ``trim``) and dropped labels removed.

    ids (H, W) int, with_img / without_img (H, W, 3) uint8 display-referred renders."""
    delta = np.abs(with_img.astype(np.int16) - without_img.astype(np.int16)).max(axis=2)
    changed = changed_pixels(with_img, without_img, min_contrast)
    out = ids.copy()
    kept, dropped = [], []
    for rec in visible:
        lab = ids == rec["defect_id"]
        n = int(lab.sum())
        n_changed = int((changed & lab).sum())
        share = n_changed / n if n else 0.0
        rec = {**rec, "contrast": {"changed_fraction": round(share, 4),
                                   "mean_delta": round(float(delta[lab].mean()) if n else 0.0, 2),
                                   "changed_pixels": n_changed}}
        if share < min_changed_fraction or n_changed < max(1, min_pixels):
            out[lab] = 0
            dropped.append({**rec, "reason": LOW_CONTRAST})
            continue
        if trim:
            out[lab & ~changed] = 0
        rec["labelled_pixels"] = int((out == rec["defect_id"]).sum())
        kept.append(rec)
    return kept, dropped, out


def region_of(ids: np.ndarray, defect_ids: set[int], margin: int = 4) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1), end-exclusive, around the labels of ``defect_ids`` plus a margin."""
    m = np.isin(ids, list(defect_ids))
    if not m.any():
        return None
    ys, xs = np.nonzero(m)
    h, w = ids.shape
    return (max(0, xs.min() - margin), max(0, ys.min() - margin), min(w, xs.max() + 1 + margin),
            min(h, ys.max() + 1 + margin))
