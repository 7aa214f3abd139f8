"""The defect kinds of a job: the eight built-in recipes as plain data, merged key by key with a
user's entries, and the ``defects:`` config section (``DefectLibraryConfig``)."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from synthgen.config.base import _Model
from synthgen.config.loading import resolve_path
from synthgen.textures.recipes import DefectRecipe

# The built-in kinds as plain data (what a user would write in YAML); see builtin_recipes().
BUILTIN_DATA: dict[str, dict[str, Any]] = {
    "scratch": {
        "generator": "scratch", "types": ["deformation"], "size_mm": (8.0, 40.0), "depth_mm": 0.06,
        "deform_roughness": (0.15, 0.45), "shape": {}},
    "dent": {
        "generator": "dent", "types": ["deformation"], "size_mm": (4.0, 25.0), "depth_mm": 0.6,
        "deform_roughness": (0.3, 0.6), "shape": {}},
    "crack": {
        "generator": "crack", "types": ["deformation", "hole"], "size_mm": (6.0, 30.0), "depth_mm": 0.3,
        "deform_roughness": (0.6, 0.9), "shape": {}},
    "burn": {
        "generator": "burn", "types": ["encrustation"], "size_mm": (5.0, 25.0), "depth_mm": 0.02,
        "shape": {"radius": (0.2, 0.32), "roughness": 0.6, "softness": 0.18, "halo": 0.75, "satellites": (0, 2)},
        "material": {"base_color_min": (0.006, 0.005, 0.005), "base_color_max": (0.035, 0.022, 0.014),
                      "roughness": (0.75, 0.95), "metallic": (0.0, 0.15)}},
    "mark": {
        "generator": "mark", "types": ["encrustation"], "size_mm": (4.0, 30.0), "depth_mm": 0.0,
        "shape": {"generator": "mark", "radius": (0.14, 0.28), "aspect": (1.0, 2.5), "roughness": 0.8, "softness": 0.04,
                   "halo": 0.15, "satellites": (2, 7), "ring": 0.35},
        "material": {"base_color_min": (0.03, 0.03, 0.025), "base_color_max": (0.3, 0.26, 0.18),
                      "roughness": (0.3, 0.8), "metallic": (0.0, 0.05)}},
    "crater": {
        "generator": "crater", "types": ["deformation", "encrustation"], "size_mm": (2.0, 10.0), "depth_mm": 0.4,
        "deform_roughness": (0.6, 0.9), "shape": {},
        "material": {"base_color_min": (0.015, 0.014, 0.012), "base_color_max": (0.08, 0.07, 0.06),
                      "roughness": (0.7, 0.95), "metallic": (0.1, 0.5)}},
    "hole": {
        "generator": "hole", "types": ["deformation", "hole"], "size_mm": (2.0, 12.0), "depth_mm": 0.3,
        "deform_roughness": (0.5, 0.8), "shape": {}},
    "break": {
        "generator": "break", "types": ["deformation", "encrustation", "hole"], "size_mm": (10.0, 40.0), "depth_mm": 0.8,
        "deform_roughness": (0.6, 0.9), "shape": {},
        "material": {"base_color_min": (0.35, 0.34, 0.32), "base_color_max": (0.7, 0.68, 0.64),
                      "roughness": (0.8, 1.0), "metallic": (0.0, 0.2)}},
}


def builtin_recipes() -> dict[str, DefectRecipe]:
    """The eight built-in kinds: scratch, dent, crack, burn, mark, crater, hole, break."""
    return {k: DefectRecipe.model_validate(v) for k, v in BUILTIN_DATA.items()}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """User keys over a built-in recipe dict; sub-sections merged key by key (not across generators)."""
    out = copy.deepcopy(base)
    if "generator" in over and over["generator"] != base.get("generator"):
        return dict(over)  # a different generator: the built-in's parameters do not apply
    for k, v in over.items():
        if k in ("shape", "surface", "material") and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


class DefectLibraryConfig(_Model):
    """The defect kinds of a job and where their pre-generated map library lives."""

    variants_per_kind: int = Field(8, ge=1, le=10000, description="map variants generated per kind")
    healthy_share: float = Field(
        0.0, ge=0, le=1, description="share of scenes planned with no defect at all (healthy parts, as a line sees "
        "most of the time); they are rendered as healthy images, so it needs verification.render_without_defects")
    library: str | None = Field(
        None, description="folder of a pre-generated or user-made library (relative to the config file); "
                          "unset = generated on demand into the output cache")
    kinds: dict[str, DefectRecipe] = Field(
        default_factory=builtin_recipes,
        description="defect kinds by name; omitted = the eight built-ins. When given it replaces that set; "
                    "an entry named like a built-in overrides only the keys it sets")

    @field_validator("kinds", mode="before")
    @classmethod
    def _merge_builtins(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out: dict[str, Any] = {}
        for name, entry in v.items():
            if isinstance(entry, DefectRecipe):
                out[name] = entry
            elif name in BUILTIN_DATA and isinstance(entry, dict):
                out[name] = _merge(BUILTIN_DATA[name], entry)
            elif name in BUILTIN_DATA and entry is None:
                out[name] = dict(BUILTIN_DATA[name])
            else:
                out[name] = entry
        return out

    @field_validator("kinds")
    @classmethod
    def _names(cls, v: dict[str, DefectRecipe]):
        for name in v:
            if not name or "/" in name or "\\" in name or name.startswith(".") or name.strip() != name:
                raise ValueError(f"kind name {name!r} must be a plain folder name")
        return v

    @field_validator("library")
    @classmethod
    def _lib(cls, v: str | None, info: ValidationInfo):
        return resolve_path(v, info)
