"""Defect recipes: which shape generator, which of the three defect types, sizes and materials.

A *defect kind* (``scratch``, ``dent``, ...) is a :class:`DefectRecipe`. It names a shape
generator, the defect types it uses (``deformation``, ``encrustation``, ``hole``), the map
resolution, the physical size range of the square map on the part, placement limits and
generator-specific shape parameters. ``synthgen.textures.kinds`` holds the built-in kinds and
:class:`DefectLibraryConfig`, the kinds of a job (the render config's ``defects:`` section).

Units: map sizes in millimetres (mm), depths in millimetres (mm), resolution in pixels (px),
angles in degrees (deg). Shape lengths are fractions of the map side (0..1, "map units") so a
recipe looks the same at every resolution. Colours are linear RGB in 0..1.

Merging with the built-ins (see docs/defects.md): when ``kinds`` is omitted the job uses the
eight built-in kinds. When given, it *replaces* that set; an entry whose name is a built-in
kind starts from the built-in recipe and overrides only the keys it sets (``shape``,
``surface`` and ``material`` are merged key by key unless ``generator`` is changed), so
``kinds: {scratch: {size_mm: [2, 8]}, dent: {}}`` is the built-in scratch with smaller sizes
plus the built-in dent. Entries with other names are complete recipes (``generator`` required).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from synthgen.config.base import Color, Vec2, Vec3, _check_range, _Model
from synthgen.textures.shape_params import SHAPE_MODELS, ScratchShape, ShapeParams, _frac_range

DefectType = Literal["deformation", "encrustation", "hole"]
GeneratorName = Literal["scratch", "dent", "crack", "burn", "mark", "crater", "hole", "break", "band"]

GENERATORS: tuple[str, ...] = ("scratch", "dent", "crack", "burn", "mark", "crater", "hole", "break", "band")

# Which defect types each shape generator can produce (a recipe may use any non-empty subset).
GENERATOR_TYPES: dict[str, frozenset[str]] = {
    "scratch": frozenset({"deformation", "encrustation"}),
    "dent": frozenset({"deformation", "encrustation"}),
    "crack": frozenset({"deformation", "encrustation", "hole"}),
    "burn": frozenset({"deformation", "encrustation"}),
    "mark": frozenset({"deformation", "encrustation"}),
    "crater": frozenset({"deformation", "encrustation"}),
    "hole": frozenset({"deformation", "encrustation", "hole"}),
    "break": frozenset({"deformation", "encrustation", "hole"}),
    "band": frozenset({"deformation", "encrustation"}),
}


# --------------------------------------------------------------------------- recipe


EDGE_DIRECTION_TOL_DEG = 30.0  # an arc tile's curved end still counts as running along its width


class SurfaceFilter(_Model):
    """Which faces of a part may receive the defect: faces some camera can see, optionally only
    those whose normal lies within a cone around a direction, and optionally only points near an
    edge of the part. Faces resting on the belt never do."""

    direction: Vec3 = Field((0.0, 0.0, 1.0), description="cone axis, world frame (need not be unit length)")
    max_angle_deg: float = Field(180.0, ge=0, le=180, description="cone half-angle, degrees (180 = no cone)")
    visible_from_cameras: bool = Field(
        True, description="only faces whose front some planned camera sees at an incidence under "
                          "max_incidence_deg (occlusion is left to the defect-ID pass)")
    max_incidence_deg: float = Field(
        75.0, gt=0, le=90, description="largest angle between a face normal and the direction to a camera, degrees")
    max_edge_distance_mm: float | None = Field(
        None, gt=0, description="only points within this distance of an edge of the part (a sharp edge, see "
                                "sharp_edge_deg, or an open boundary), mm; none = anywhere")
    sharp_edge_deg: float = Field(
        30.0, gt=0, lt=180, description="an edge between two faces whose normals differ by more than this is "
                                        "sharp (an edge of the part), degrees")
    edge_direction: Vec3 | None = Field(
        None, description="with max_edge_distance_mm: only edges that run along this direction of the part's own "
                          f"frame, within {EDGE_DIRECTION_TOL_DEG:g} degrees (for example [1, 0, 0] for the ends of "
                          "a bar whose length is its y axis); need not be unit length; none = every edge")

    @field_validator("direction", "edge_direction")
    @classmethod
    def _nonzero(cls, v, info):
        if v is not None and sum(x * x for x in v) <= 1e-12:
            raise ValueError(f"{info.field_name} must not be the zero vector")
        return v

    @model_validator(mode="after")
    def _edge_direction_needs_a_distance(self):
        if self.edge_direction is not None and self.max_edge_distance_mm is None:
            raise ValueError("edge_direction picks among the edges of max_edge_distance_mm: set that too")
        return self


class EncrustationMaterial(_Model):
    """PBR parameters of the material applied under the encrustation mask, drawn per variant."""

    base_color_min: Color = Field((0.02, 0.02, 0.02), description="darkest base colour, linear RGB 0..1")
    base_color_max: Color = Field((0.1, 0.1, 0.1), description="brightest base colour, linear RGB 0..1")
    correlated: bool = Field(True, description="true: one random t lerps min->max (keeps hue); false: per channel")
    roughness: Vec2 = Field((0.6, 0.9), description="roughness range 0..1")
    metallic: Vec2 = Field((0.0, 0.1), description="metallic range 0..1")
    tint: Vec2 = Field((0.0, 0.0), description="a gain range (for example [1.2, 1.6]): the encrustation keeps the "
                                               "surface's own texture and multiplies its base colour by the drawn "
                                               "gain, instead of covering it with base_color (a region of different "
                                               "grinding or polish); [0, 0] = cover")

    @field_validator("tint")
    @classmethod
    def _c_tint(cls, v):
        if v[0] > v[1] or v[0] < 0 or (v[1] > 0 and v[0] <= 0) or v[1] > 10:
            raise ValueError(f"tint must be [0, 0] (off) or 0 < min <= max <= 10, got {list(v)}")
        return v

    @field_validator("base_color_min", "base_color_max")
    @classmethod
    def _c_col(cls, v):
        for x in v:
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"colour channels must be in 0..1, got {x}")
        return v

    _c_r = field_validator("roughness")(classmethod(_frac_range("roughness")))
    _c_m = field_validator("metallic")(classmethod(_frac_range("metallic")))

    @model_validator(mode="after")
    def _order(self):
        if any(a > b for a, b in zip(self.base_color_min, self.base_color_max)):
            raise ValueError("base_color_min must be <= base_color_max in every channel")
        return self


def map_fields(recipe: dict) -> dict:
    """A dumped recipe without its label rule, size draw and weight: what its maps are made from (library hashes)."""
    return {k: v for k, v in recipe.items() if k not in ("label", "size_dist", "weight")}


class DefectRecipe(_Model):
    """One defect kind: generator, types, map resolution, physical size and placement limits."""

    generator: GeneratorName = Field(description="shape generator: " + ", ".join(GENERATORS))
    types: tuple[DefectType, ...] = Field(
        default=(),
        description="defect types used: deformation (height/normal/roughness/occlusion maps), encrustation "
                    "(mask + local material), hole (see-through mask); empty = the generator's default")
    resolution: int = Field(256, ge=32, le=4096, description="side of the square maps, pixels")
    size_mm: Vec2 = Field(
        (5.0, 20.0), description="real extent of the defect on the part, min/max, mm: the longest side of its "
                                 "label mask's bounding box (the map square is scaled to match)")
    size_dist: Literal["uniform", "log_uniform"] = Field(
        "uniform", description="how size_mm is drawn: uniform, or log_uniform (as many small defects per octave as "
                               "large ones: the long tail of sizes real defect sets show)")
    through_max_mm: float = Field(
        30.0, ge=0, description="hole types: a wall at most this thick behind the footprint is opened on its far "
                                "side too (see-through); thicker walls get a blind hole, mm")
    count_per_part: tuple[int, int] = Field((0, 1), description="defects of this kind per part instance, min/max")
    weight: float = Field(1.0, gt=0, le=10, description="multiplies the expected count of this kind: the count "
                          "drawn from count_per_part times weight, its fraction kept with that probability (0.5: "
                          "half as many, 1.5: half again as many; `synthgen bilevel patch` writes learned ones)")
    rotation_deg: Vec2 = Field((0.0, 360.0), description="rotation range of the map about the surface normal, "
                                                         "degrees (0 = the map's +x along the surface's reference "
                                                         "tangent: -y on faces facing up)")
    surface: SurfaceFilter = Field(SurfaceFilter(), description="faces allowed to receive this kind")
    depth_mm: float = Field(0.2, ge=0, le=100, description="physical height at height = ±1 (deformation), mm")
    deform_roughness: Vec2 = Field(
        (0.4, 0.7), description="absolute roughness range inside the deformed zone (deformation), 0..1")
    shape: ShapeParams = Field(
        description="generator-specific shape parameters (lengths in map units); omitted = the generator defaults")
    material: EncrustationMaterial = Field(EncrustationMaterial(), description="encrustation material ranges")
    label: Literal["changed", "region"] = Field(
        "changed", description="what a kept defect's label is: changed = the pixels its render changes (thin, sharp "
        "defects); region = its whole footprint, holes filled, kept when its mean change reaches min_contrast x "
        "min_changed_fraction (low-contrast areas such as uneven grinding)")

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        gen = data.get("generator")
        shape = data.get("shape")
        if gen not in SHAPE_MODELS and shape is None:
            data["shape"] = ScratchShape()  # placeholder: only the generator error is reported
        if gen in SHAPE_MODELS:
            if shape is None:
                data["shape"] = {"generator": gen}
            elif isinstance(shape, dict):
                s = dict(shape)
                s.setdefault("generator", gen)
                data["shape"] = s
        types = data.get("types")
        if not types and gen in SHAPE_MODELS:
            data["types"] = list(DEFAULT_TYPES[gen])
        elif isinstance(types, (set, frozenset)):
            data["types"] = sorted(types)
        elif isinstance(types, str):
            data["types"] = [types]
        return data

    @field_validator("size_mm")
    @classmethod
    def _c_size(cls, v):
        if v[0] <= 0:
            raise ValueError(f"size_mm values must be > 0, got {v[0]}")
        return _check_range(v, 0, None, "size_mm")

    @field_validator("count_per_part")
    @classmethod
    def _c_count(cls, v):
        return _check_range(v, 0, None, "count_per_part")

    _c_rough = field_validator("deform_roughness")(classmethod(_frac_range("deform_roughness")))

    @field_validator("types")
    @classmethod
    def _c_types(cls, v, info: ValidationInfo):
        if not v:
            raise ValueError("at least one defect type is needed")
        gen = info.data.get("generator")
        if gen in GENERATOR_TYPES:
            bad = sorted(set(v) - GENERATOR_TYPES[gen])
            if bad:
                raise ValueError(f"generator '{gen}' cannot make type(s) {', '.join(bad)}; "
                                 f"it supports {', '.join(sorted(GENERATOR_TYPES[gen]))}")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _c_compat(self):
        sg = getattr(self.shape, "generator", None)
        if sg != self.generator and not (self.generator in ("burn", "mark") and sg in ("burn", "mark")):
            raise ValueError(f"shape parameters are for generator '{sg}', not '{self.generator}'")
        return self

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(self.types)


DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    "scratch": ("deformation",),
    "dent": ("deformation",),
    "crack": ("deformation", "hole"),
    "burn": ("encrustation",),
    "mark": ("encrustation",),
    "crater": ("deformation", "encrustation"),
    "hole": ("deformation", "hole"),
    "break": ("deformation", "encrustation", "hole"),
    "band": ("encrustation",),
}
