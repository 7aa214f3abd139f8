"""Cropping to the part's surface (synthgen.annotate.crop): the rectangle lies inside the part,
is as large as the part allows, and labels are cut with the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthgen.annotate.crop import crop_views, inscribed_rect


def _brute_largest(mask: np.ndarray) -> int:
    H, W = mask.shape
    cs = np.pad(mask.astype(int), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    best = 0
    for y0 in range(H):
        for y1 in range(y0 + 1, H + 1):
            for x0 in range(W):
                for x1 in range(x0 + 1, W + 1):
                    a = (y1 - y0) * (x1 - x0)
                    if a > best and cs[y1, x1] - cs[y0, x1] - cs[y1, x0] + cs[y0, x0] == a:
                        best = a
    return best


@pytest.mark.parametrize("seed", range(6))
def test_rectangle_is_the_largest_inside_the_mask(seed):
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(9, 11)) > 0.25
    x0, y0, x1, y1 = inscribed_rect(mask, block=1)
    assert mask[y0:y1, x0:x1].all()
    assert (x1 - x0) * (y1 - y0) == _brute_largest(mask)


def test_rotated_tile_rectangle_is_inside_and_inset():
    m = np.zeros((480, 640), np.uint8)
    cv2.fillPoly(m, [cv2.boxPoints(((320, 240), (400, 250), 8)).astype(np.int32)], 1)
    x0, y0, x1, y1 = inscribed_rect(m > 0)
    assert m[y0:y1, x0:x1].all()
    assert (x1 - x0) * (y1 - y0) > 0.6 * 400 * 250         # most of the tile's face
    a = inscribed_rect(m > 0, inset=5)
    assert a == (x0 + 5, y0 + 5, x1 - 5, y1 - 5)
    assert inscribed_rect(np.zeros((50, 50), bool)) is None
    assert inscribed_rect(m > 0, inset=400) is None


def test_labels_cut_by_the_crop_are_recounted_or_dropped():
    ids = np.zeros((20, 30), np.int32)
    ids[2:6, 2:6] = 1          # 16 px, fully inside
    ids[8:12, 18:26] = 2       # 32 px, half outside
    ids[15:18, 26:29] = 3      # outside
    foot = ids.copy()
    vis = [{"defect_id": k, "visible_pixels": int((ids == k).sum())} for k in (1, 2, 3)]
    out_ids, out_foot, kept, dropped = crop_views((0, 0, 22, 14), ids, foot, vis, min_pixels=10)
    assert out_ids.shape == out_foot.shape == (14, 22)
    assert [(v["defect_id"], v["visible_pixels"]) for v in kept] == [(1, 16), (2, 16)]
    assert [(v["defect_id"], v["reason"]) for v in dropped] == [(3, "outside_crop")]
    assert set(np.unique(out_ids)) == {0, 1, 2}
