"""Photos of healthy surfaces as a material's texture (``materials[].photo_texture``; pure).

A source is a folder of images or a split json whose chosen lists hold ``{image: ...}`` entries
(paths relative to the json's folder). Listing is cached and sorted: the planner draws one photo
per part from the list, so the same seed picks the same photo on any machine.

Each photo becomes a relative-reflectance texture.
The photo is decoded to linear light (``encoding``: the sRGB curve, or none for a linear camera), trimmed by ``margin`` on each side (its
border may show the part's edges), and divided by a wide Gaussian blur of itself: what remains is
the surface's own variation around 1 (streaks, grain, stains) with the photo's lighting removed.
``strength`` scales that variation: ``1 + strength * (r - 1)``, never below 0 (above 1 it amplifies
the photo's variation, to make up for what the render softens).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from synthgen.srgb import srgb_to_linear

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _split_lists(data: dict, prefix: str = "") -> dict[str, list]:
    out = {}
    for k, v in data.items():
        if isinstance(v, list):
            out[prefix + k] = v
        elif isinstance(v, dict):
            out.update(_split_lists(v, prefix + k + "."))
    return out


@lru_cache(maxsize=16)
def list_photos(path: str, keys: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Absolute paths of the photos of ``path`` (sorted). Raises ValueError naming what is wrong."""
    p = Path(path)
    if p.is_dir():
        if keys:
            raise ValueError(f"keys: {p.name} is a folder; keys pick the lists of a split json")
        found = sorted(str(f.resolve()) for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    else:
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"images: cannot read {p.name} as a split json ({exc})") from None
        lists = _split_lists(data) if isinstance(data, dict) else {}
        if not lists:
            raise ValueError(f"images: {p.name} is neither a folder nor a split json with lists of entries")
        missing = [k for k in keys if k not in lists]
        if missing:
            raise ValueError(f"keys: '{missing[0]}' is not a list in {p.name} (available: {', '.join(lists)})")
        found = []
        for k in keys or tuple(lists):
            for e in lists[k]:
                rel = e.get("image") if isinstance(e, dict) else e
                if isinstance(rel, str):
                    found.append(str((p.parent / rel).resolve()))
        found = sorted(set(found))
    if not found:
        raise ValueError(f"images: no photos in {p.name}" + (f" under {', '.join(keys)}" if keys else ""))
    return tuple(found)


def reflectance(path: str | Path, detrend_px: float, margin: float, strength: float,
                encoding: str = "srgb") -> np.ndarray:
    """The photo's relative reflectance, float32, rows top to bottom, mean close to 1. ``encoding``
    says how its grey levels relate to light: ``srgb`` (decoded with the sRGB curve) or ``linear``."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"{path}: cannot read the photo")
    h, w = img.shape
    dy, dx = round(h * margin), round(w * margin)
    img = img[dy:h - dy or None, dx:w - dx or None]
    v = img.astype(np.float32) / 255.0
    lin = v if encoding == "linear" else srgb_to_linear(v).astype(np.float32)
    light = cv2.GaussianBlur(lin, (0, 0), detrend_px, borderType=cv2.BORDER_REFLECT)
    r = lin / np.maximum(light, 1e-4)
    return np.maximum(0.0, 1.0 + strength * (r - 1.0)).astype(np.float32)
