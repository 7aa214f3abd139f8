"""One defect variant from a recipe: all maps, the label mask, material and metadata.

Map conventions (docs/defects.md):

- arrays are float32 (H, W), row 0 at the top of the image; H = W = recipe.resolution;
- ``height`` -1..1 in units of ``depth_mm`` (physical height = height * depth_mm), 0 = the
  undisturbed surface, negative = depression;
- ``normal`` (H, W, 3) unit tangent-space normals, OpenGL convention: +X right, +Y up in the
  image, +Z out of the surface, derived from ``height`` by central differences with the
  variant's reference pixel size (:func:`normals_from_height`);
- ``roughness`` absolute roughness 0..1 of the deformed zone (defined over the whole map; use it
  under ``occlusion``); ``occlusion`` 0..1 deformed-zone selector (1 = deformed);
- ``encrustation`` 0..1 soft mask of the local material; ``hole`` 0..1, binary with a 1-px
  anti-aliased jagged rim (> 0.5 = material removed);
- ``mask`` bool label = occlusion > 0.5 | encrustation > 0.5 | hole > 0.5 over the types used.

Maps of a type the recipe does not use are all zero. All maps are zero on the outer
``margin_px`` rows and columns, so a decal never clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.textures.band import band
from synthgen.textures.missing import break_, crater, hole
from synthgen.textures.noise import border_window
from synthgen.textures.recipes import DefectRecipe
from synthgen.textures.shapes import burn, crack, dent, mark, scratch

# generator name -> shape function (synthgen.textures.recipes.GENERATORS names them all)
GENERATOR_FUNCS = {
    "scratch": scratch, "dent": dent, "crack": crack, "burn": burn, "mark": mark,
    "crater": crater, "hole": hole, "break": break_, "band": band,
}

FORMAT_VERSION = 1
MAP_NAMES = ("height", "normal", "roughness", "occlusion", "encrustation", "hole", "mask")


def margin_px(resolution: int) -> int:
    """Border rows/columns that are always zero in every map (label mask empty there)."""
    return max(2, resolution // 32)


@dataclass
class DefectMaps:
    """Maps of one defect variant (see the module docstring for ranges and conventions)."""

    height: np.ndarray
    normal: np.ndarray
    roughness: np.ndarray
    occlusion: np.ndarray
    encrustation: np.ndarray
    hole: np.ndarray
    mask: np.ndarray
    material: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the variant folder when loaded from a library

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.meta.get("types", ()))

    @property
    def resolution(self) -> int:
        return int(self.height.shape[0])


def reference_size_mm(recipe: DefectRecipe) -> float:
    """Map side used to derive the stored normal map: the middle of ``size_mm``."""
    return 0.5 * (recipe.size_mm[0] + recipe.size_mm[1])


def normals_from_height(height: np.ndarray, pixel_mm: float, depth_mm: float) -> np.ndarray:
    """Unit tangent-space normals (H, W, 3) from a height map in units of ``depth_mm``.

    Physical height z = height * depth_mm (mm); pixels are ``pixel_mm`` apart. Gradients are
    central differences (``np.gradient``; one-sided on the border rows/cols). Image +Y is up, so
    dz/dy = -dz/drow. n = normalize(-dz/dx, -dz/dy, 1).
    """
    z = np.asarray(height, np.float64) * float(depth_mm)
    dz_drow, dz_dcol = np.gradient(z, float(pixel_mm))
    n = np.stack([-dz_dcol, dz_drow, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return n.astype(np.float32)


def label_mask(types, occlusion, encrustation, hole) -> np.ndarray:
    """The defect's label: union of the used types' zones (each thresholded at 0.5)."""
    m = np.zeros(occlusion.shape, bool)
    if "deformation" in types:
        m |= occlusion > 0.5
    if "encrustation" in types:
        m |= encrustation > 0.5
    if "hole" in types:
        m |= hole > 0.5
    return m


def sample_material(recipe: DefectRecipe, rng: np.random.Generator) -> dict[str, Any]:
    """Encrustation PBR parameters for one variant (base colour linear RGB, roughness, metallic, and
    the gain of a tint when the recipe asks for one)."""
    m = recipe.material
    lo, hi = np.array(m.base_color_min), np.array(m.base_color_max)
    t = rng.uniform(0, 1) if m.correlated else rng.uniform(0, 1, 3)
    base = lo + (hi - lo) * t
    out = {
        "base_color": [round(float(c), 5) for c in base],
        "roughness": round(float(rng.uniform(*m.roughness)), 5),
        "metallic": round(float(rng.uniform(*m.metallic)), 5),
    }
    if m.tint[1] > 0:  # drawn last and only when asked for: other variants stay as they were
        out["tint"] = round(float(rng.uniform(*m.tint)), 5)
    return out


def generate_variant(recipe: DefectRecipe, rng: np.random.Generator, kind: str | None = None) -> DefectMaps:
    """All maps of one variant of ``recipe``, drawing only from ``rng``."""
    res = recipe.resolution
    types = tuple(recipe.types)
    material = sample_material(recipe, rng)
    rough_base = float(rng.uniform(*recipe.deform_roughness))
    f = GENERATOR_FUNCS[recipe.generator](rng, res, recipe.shape)
    win = border_window(res, margin_px(res))
    zero = np.zeros((res, res), np.float32)
    deform = "deformation" in types
    height = np.clip(f.height * win, -1.0, 1.0).astype(np.float32) if deform else zero
    occlusion = np.clip(f.occlusion * win, 0, 1).astype(np.float32) if deform else zero.copy()
    lo, hi = recipe.deform_roughness
    span = max(hi - lo, 0.05)
    roughness = (np.clip(rough_base + 0.5 * span * f.rough, 0, 1).astype(np.float32) * (win > 0)
                 if deform else zero.copy())
    encrustation = (np.clip(f.encrustation * win, 0, 1).astype(np.float32)
                    if "encrustation" in types else zero.copy())
    hole = np.clip(f.hole * win, 0, 1).astype(np.float32) if "hole" in types else zero.copy()
    size_ref = reference_size_mm(recipe)
    pixel_mm = size_ref / res
    normal = normals_from_height(height, pixel_mm, recipe.depth_mm)
    mask = label_mask(types, occlusion, encrustation, hole)
    meta = {
        "format": FORMAT_VERSION,
        "kind": kind or recipe.generator,
        "generator": recipe.generator,
        "types": list(types),
        "resolution": res,
        "depth_mm": recipe.depth_mm,
        "size_mm": list(recipe.size_mm),
        "normal_size_mm": size_ref,
        "pixel_mm": pixel_mm,
        "margin_px": margin_px(res),
    }
    return DefectMaps(height=height, normal=normal, roughness=roughness, occlusion=occlusion,
                      encrustation=encrustation, hole=hole, mask=mask,
                      material=material if "encrustation" in types else None, meta=meta)
