"""Does a defect visibly change its image? The per-defect contrast check (pure numpy/opencv).

Input: a camera's defect-ID map and two renders of it that differ only in the defects being on
or off (same camera, lights, samples and Cycles seed, so noise cancels where nothing changed).
A defect keeps its label when enough of its label pixels change by more than ``min_contrast``
8-bit levels; its label then becomes the pixels that change within its footprint (wherever its
maps alter the surface: a halo the image does not show is not labelled, and a rim or halo that
does show, beyond the nominal mask, is). Others are dropped with the reason ``low_contrast``.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import binary_fill_holes, distance_transform_edt

from synthgen.annotate.visibility import LOW_CONTRAST


def _close(changed: np.ndarray) -> np.ndarray:
    """Close a changed-pixel map by one pixel, so render noise does not punch pinholes into it."""
    return cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)


def contrast_check(ids: np.ndarray, with_img: np.ndarray, without_img: np.ndarray, visible: list[dict],
                   min_contrast: float, min_changed_fraction: float, min_pixels: int,
                   trim: bool = True, footprint: np.ndarray | None = None,
                   region_kinds: frozenset[str] = frozenset(),
                   spill_px: int = 0) -> tuple[list[dict], list[dict], np.ndarray]:
    """Split ``visible`` records into (kept, dropped) by contrast; returns the label map.

    A defect is kept when at least ``min_changed_fraction`` of its label pixels (``ids``), and
    at least ``min_pixels``, change by more than ``min_contrast`` levels. With ``trim``, a kept
    defect's label is the pixels that change within its ``footprint`` (everything its maps can
    alter, default its label; label pixels win over another defect's footprint); without, its
    label pixels. A defect of ``region_kinds`` (``label: region``) is judged as a whole: kept when
    its mean change reaches ``min_changed_fraction`` x ``min_contrast`` (the change the rule above
    asks for, spread over the region), and labelled with its whole label, holes filled, untrimmed.
    With ``trim`` and ``spill_px``, changed pixels within ``spill_px`` of a kept label that lie
    outside every defect's label and footprint join the nearest kept label: the change blurred past
    the footprint (defocus, pixel filter, denoiser), also onto a neighbouring face at an edge.
    ids / footprint (H, W) int, with_img / without_img (H, W, 3) uint8."""
    delta = np.abs(with_img.astype(np.int16) - without_img.astype(np.int16)).max(axis=2)
    raw = delta > min_contrast  # decides: no closing, which would inflate speckled changes
    changed = _close(raw)  # labels: closed, no pinholes
    kept, dropped = [], []
    for rec in visible:
        lab = ids == rec["defect_id"]
        n = int(lab.sum())
        n_changed = int((raw & lab).sum())
        share = n_changed / n if n else 0.0
        rec = {**rec, "contrast": {"changed_fraction": round(share, 4),
                                   "mean_delta": round(float(delta[lab].mean()) if n else 0.0, 2),
                                   "changed_pixels": n_changed}}
        if rec["kind"] in region_kinds:
            weak = n < max(1, min_pixels) or rec["contrast"]["mean_delta"] < min_changed_fraction * min_contrast
        else:
            weak = share < min_changed_fraction or n_changed < max(1, min_pixels)
        if weak:
            dropped.append({**rec, "reason": LOW_CONTRAST})
        else:
            kept.append(rec)
    keep = [r["defect_id"] for r in kept]
    out = np.where(np.isin(ids, keep), ids, 0)
    if trim:
        if footprint is not None:
            out = np.where(out > 0, out, np.where(np.isin(footprint, keep), footprint, 0))
        out[~changed] = 0
        if spill_px > 0 and keep and (out > 0).any():
            free = (ids == 0) if footprint is None else (ids == 0) & (footprint == 0)
            dist, (iy, ix) = distance_transform_edt(out == 0, return_indices=True)
            spill = free & changed & (dist <= spill_px)
            out[spill] = out[iy[spill], ix[spill]]
    for rec in kept:
        if rec["kind"] in region_kinds:
            whole = binary_fill_holes(ids == rec["defect_id"])
            out[whole & ((out == 0) | (out == rec["defect_id"]))] = rec["defect_id"]
    for rec in kept:
        rec["labelled_pixels"] = int((out == rec["defect_id"]).sum())
    return kept, dropped, out


def _area(b) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


def _union(a, b) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


# A border render costs about as much as this many pixels more (scene sync, session, PNG round
# trip: measured 0.05-0.07 s a render against about 50 us a pixel at 32 samples on the door;
# merging at 1024 px cut the door's contrast renders at 128 defects from 28 to 16, 1.94 to 1.55 s).
RENDER_OVERHEAD_PX = 1024


def regions_of(ids: np.ndarray, defect_ids: set[int], margin: int = 4,
               slack: float = 1.25, overhead_px: int = RENDER_OVERHEAD_PX) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (x0, y0, x1, y1), end-exclusive, that cover the labels of ``defect_ids`` plus
    a margin: one box per label, two boxes merged while their union is at most ``slack`` times
    the sum of their areas or adds at most ``overhead_px`` pixels to them (one render fewer is
    worth that), so distant defects are rendered as separate small boxes and many small nearby
    ones as one."""
    h, w = ids.shape
    boxes = []
    for did in sorted(defect_ids):
        ys, xs = np.nonzero(ids == did)
        if len(xs):
            boxes.append((max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
                          min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin)))
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                u = _union(boxes[i], boxes[j])
                both = _area(boxes[i]) + _area(boxes[j])
                if _area(u) <= max(slack * both, both + overhead_px):
                    boxes = [b for k, b in enumerate(boxes) if k not in (i, j)] + [u]
                    merged = True
                    break
            if merged:
                break
    return sorted(boxes)
