"""Labels under motion blur (pure): a pixel belongs to a defect when the defect shows there for
more than half the exposure.

The defect-ID pass is rendered sharp at N instants evenly across the shutter; a pixel's label is
the id seen there most often, kept when it is seen at more than N/2 instants. So a label is what
the blurred image shows mostly as that defect: its core stays, and the smear at either end of
the motion (seen under half the exposure) is left out. For a convex defect and a straight motion
this label lies inside the sharp label at mid-exposure. Footprints, which bound where the contrast check
looks, are the union over the exposure; the part map, which bounds crops, the majority.
"""

from __future__ import annotations

import numpy as np


def majority(maps: list[np.ndarray], more_than_half: bool = True) -> np.ndarray:
    """(H, W) id seen most often over ``maps`` (0 = none); with ``more_than_half``, kept only
    where it is seen in more than half of them."""
    if len(maps) == 1:
        return maps[0]
    stack = np.stack(maps)
    best = np.zeros(stack.shape[1:], np.int32)
    best_n = np.zeros(stack.shape[1:], np.int32)
    for i in np.unique(stack):
        if i == 0:
            continue
        n = (stack == i).sum(axis=0)
        better = (n >= best_n) & (n > 0)  # ids ascend: a tie goes to the later defect, as overlaps do
        best, best_n = np.where(better, i, best), np.where(better, n, best_n)
    if more_than_half:
        best = np.where(2 * best_n > len(maps), best, 0)
    return best.astype(np.int32)


def union(maps: list[np.ndarray]) -> np.ndarray:
    """(H, W) id seen at any instant (the most frequent where several are)."""
    return majority(maps, more_than_half=False)
