"""Pictures of a defect library: a lit preview of one variant's maps, and a contact sheet with a
row per kind (``synthgen defects generate`` writes one beside the library)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_bytes
from synthgen.srgb import linear_to_srgb
from synthgen.textures.generate import DefectMaps
from synthgen.textures.library import _png, load_library, load_variant


def preview(maps: DefectMaps, outline: bool = False, metal=(0.3, 0.31, 0.33)) -> np.ndarray:
    """RGB uint8 preview: a grey metal lit from the top left (stored normals), darkened under
    occlusion, the encrustation material mixed in, holes showing a dark checkerboard."""
    h, w = maps.height.shape
    light = np.array([-0.6, 0.6, 1.0])
    light /= np.linalg.norm(light)
    n = maps.normal.astype(np.float32)
    ndl = np.clip((n @ light) / light[2], 0.0, 1.8)[..., None]
    spec = np.clip(n @ (light + np.array([0, 0, 1.0])) / np.linalg.norm(light + [0, 0, 1.0]), 0, 1) ** 40
    base = np.array(metal, np.float32)[None, None] * (1.0 - 0.35 * maps.occlusion[..., None])
    col = base * ndl + 0.25 * spec[..., None]
    if maps.material and maps.encrustation.any():
        ec = np.array(maps.material.get("base_color", (0.1, 0.1, 0.1)), np.float32)[None, None]
        e = maps.encrustation[..., None]
        col = col * (1 - e) + ec * np.clip(ndl, 0.3, 1.3) * e
    if maps.hole.any():
        yy, xx = np.mgrid[0:h, 0:w]
        cell = max(4, h // 16)
        checker = np.where(((yy // cell + xx // cell) % 2)[..., None] == 0, 0.02, 0.06).astype(np.float32)
        col = col * (1 - maps.hole[..., None]) + checker * maps.hole[..., None]
    rgb = (linear_to_srgb(np.clip(col, 0, 1)) * 255).astype(np.uint8)
    if outline and maps.mask.any():
        cs, _ = cv2.findContours(maps.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, cs, -1, (255, 60, 40), 1)
    return rgb


def contact_sheet(root: str | Path, out_png: str | Path, tile: int = 128, max_variants: int = 8,
                  outline: bool = True, kinds: list[str] | None = None) -> Path:
    """One row per kind (label, then up to ``max_variants`` variant previews, each with its label
    mask as a yellow-on-black inset in the top-right corner). Written atomically as RGB PNG."""
    lib = load_library(root, complete=False)
    names = [k for k in (kinds or list(lib)) if k in lib]
    if not names:
        raise SynthgenError(f"{root}: no defect variants to draw")
    label_w, pad = 150, 4
    cols = min(max_variants, max(len(lib[k]) for k in names))
    sheet = np.full((pad + len(names) * (tile + pad), label_w + cols * (tile + pad) + pad, 3), 245, np.uint8)
    inset = max(16, tile // 4)
    for row, k in enumerate(names):
        y = pad + row * (tile + pad)
        maps0 = None
        for c, vd in enumerate(lib[k][:cols]):
            maps = load_variant(vd)
            maps0 = maps0 or maps
            img = cv2.resize(preview(maps), (tile, tile), interpolation=cv2.INTER_AREA)
            if outline:  # the label mask as a small inset in the top-right corner
                m = cv2.resize(maps.mask.astype(np.float32), (inset, inset), interpolation=cv2.INTER_AREA)
                img[1:inset + 1, tile - inset - 1:tile - 1] = (np.clip(m, 0, 1)[..., None] * [255, 235, 60]
                                                               + (1 - np.clip(m, 0, 1))[..., None] * 20)
            x = label_w + c * (tile + pad)
            sheet[y:y + tile, x:x + tile] = img
        cv2.putText(sheet, k, (8, y + tile // 2 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (20, 20, 20), 2, cv2.LINE_AA)
        if maps0 is not None:
            t = "+".join(x[:3] for x in maps0.types)
            cv2.putText(sheet, t, (8, y + tile // 2 + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1,
                        cv2.LINE_AA)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, _png(sheet[..., ::-1].copy()))
    return out
