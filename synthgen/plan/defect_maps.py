"""What the planner needs to know about a library variant's maps (pure, cached per folder):
how much of the map square its label mask spans and fills, and where its hole is."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image


@lru_cache(maxsize=4096)
def _binary(variant_dir: str, name: str) -> np.ndarray | None:
    p = Path(variant_dir) / f"{name}.png"
    if not p.is_file():
        return None
    return (np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0) > 0.5


def mask_fill_fraction(variant_dir: str, name: str = "mask") -> float:
    """Fraction of the map square covered by a map (default the label mask; ``<name>.png`` > 0.5)."""
    m = _binary(variant_dir, name)
    return 1.0 if m is None else float(m.mean())


def mask_extent_fraction(variant_dir: str | None) -> float:
    """Longest side of the label mask's bounding box in the map's own axes, as a fraction of the
    map side (1 for an empty or missing mask, so the map is then sized as the defect)."""
    m = _binary(variant_dir, "mask") if variant_dir else None
    if m is None or not m.any():
        return 1.0
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / m.shape[0]


def hole_points(variant_dir: str | None, max_points: int = 48) -> np.ndarray:
    """(K, 2) decal-frame x, y in [-1, 1] of evenly strided hole-map pixels (hole.png > 0.5),
    image rows top-down mapped to +y up; empty when the variant has no hole."""
    h = _binary(variant_dir, "hole") if variant_dir else None
    if h is None or not h.any():
        return np.zeros((0, 2))
    r, c = np.nonzero(h)
    idx = np.linspace(0, len(r) - 1, min(max_points, len(r))).round().astype(int)
    n = h.shape[0]
    return np.stack([(c[idx] + 0.5) / n * 2 - 1, 1 - (r[idx] + 0.5) / n * 2], axis=1)
