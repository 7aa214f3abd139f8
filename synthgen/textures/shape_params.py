"""The shape parameters of each defect generator (a recipe's ``shape:``), validated per generator.

Lengths are fractions of the map side (0..1, "map units"), so a shape looks the same at every
map resolution; angles are degrees. ``ShapeParams`` picks the model by the recipe's generator.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator

from synthgen.config.base import Vec2, _check_range, _Model


def _frac_range(name: str, lo: float = 0.0, hi: float = 1.0):
    """A field validator checking a (min, max) pair inside lo..hi."""

    def check(cls, v):
        return _check_range(v, lo, hi, name)

    return check


# --------------------------------------------------------------------------- shape parameters


class _Shape(_Model):
    """Base of the generator-specific parameter models (all lengths in map units, 0..1)."""

    def ranges(self) -> dict[str, tuple]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, tuple)}


class ScratchShape(_Shape):
    """Curved strokes of varying width and depth, several roughly parallel."""

    generator: Literal["scratch"] = Field("scratch", description="generator these parameters belong to")
    strokes: tuple[int, int] = Field((2, 6), description="number of strokes per variant (min, max)")
    length: Vec2 = Field((0.45, 0.9), description="stroke length range, map units (fraction of the map side)")
    width: Vec2 = Field((0.006, 0.02), description="stroke width range at its widest, map units")
    spacing: Vec2 = Field((0.02, 0.09), description="gap between neighbouring strokes range, map units")
    bend_deg: Vec2 = Field((0.0, 35.0), description="total heading change along a stroke range, degrees")
    angle_jitter_deg: float = Field(6.0, ge=0, le=90, description="heading spread between strokes, degrees")
    skip_prob: float = Field(0.35, ge=0, le=1, description="probability that a stroke has gaps (tool chatter)")
    burr: float = Field(0.25, ge=0, le=1, description="height of the raised lips beside a groove, fraction of depth")

    _c_len = field_validator("length")(classmethod(_frac_range("length")))
    _c_w = field_validator("width")(classmethod(_frac_range("width", 0.0, 0.2)))
    _c_sp = field_validator("spacing")(classmethod(_frac_range("spacing", 0.0, 0.5)))
    _c_bend = field_validator("bend_deg")(classmethod(_frac_range("bend_deg", 0.0, 180.0)))

    @field_validator("strokes")
    @classmethod
    def _c_strokes(cls, v):
        return _check_range(v, 1, 64, "strokes")


class DentShape(_Shape):
    """A smooth depression with a slightly raised rim and an irregular outline."""

    generator: Literal["dent"] = Field("dent", description="generator these parameters belong to")
    radius: Vec2 = Field((0.22, 0.36), description="dent radius range, map units")
    aspect: Vec2 = Field((1.0, 1.6), description="ellipse aspect ratio range (long/short axis)")
    rim: Vec2 = Field((0.08, 0.2), description="rim height range, fraction of the depth")
    irregularity: float = Field(0.07, ge=0, le=0.5, description="outline wobble, fraction of the radius")
    sharpness: Vec2 = Field((1.0, 2.5), description="profile exponent range: 1 = round bowl, higher = flatter floor")

    _c_r = field_validator("radius")(classmethod(_frac_range("radius", 0.01, 0.45)))
    _c_a = field_validator("aspect")(classmethod(_frac_range("aspect", 1.0, 10.0)))
    _c_rim = field_validator("rim")(classmethod(_frac_range("rim", 0.0, 1.0)))
    _c_s = field_validator("sharpness")(classmethod(_frac_range("sharpness", 0.5, 8.0)))


class CrackShape(_Shape):
    """A branching crack: jagged random walks whose width tapers towards the tips."""

    generator: Literal["crack"] = Field("crack", description="generator these parameters belong to")
    arms: tuple[int, int] = Field((2, 2), description="main arms leaving the origin (2 = a through crack)")
    heading_deg: Vec2 = Field((0.0, 360.0), description="direction range of the first arm in the map, degrees "
                                                        "(0 = the map's +x; with the kind's rotation_deg it orients "
                                                        "cracks on the part)")
    length: Vec2 = Field((0.3, 0.45), description="length range of each main arm, map units")
    width: Vec2 = Field((0.008, 0.016), description="width range at the origin, map units (tips taper to 0)")
    branch_prob: float = Field(0.045, ge=0, le=1, description="probability of a branch per step (step = 1/128 map)")
    branch_angle_deg: Vec2 = Field((25.0, 60.0), description="branch angle range from the parent, degrees")
    max_generations: int = Field(3, ge=0, le=6, description="branches of branches, at most this deep")
    wiggle_deg: float = Field(14.0, ge=0, le=90, description="heading jitter per step, degrees (jaggedness)")
    through_width: float = Field(
        0.6, ge=0, le=1,
        description="hole type: the crack opens through where its width exceeds this fraction of the origin width")

    _c_len = field_validator("length")(classmethod(_frac_range("length", 0.02, 0.7)))
    _c_w = field_validator("width")(classmethod(_frac_range("width", 0.0, 0.1)))
    _c_ang = field_validator("branch_angle_deg")(classmethod(_frac_range("branch_angle_deg", 0.0, 180.0)))

    @field_validator("arms")
    @classmethod
    def _c_arms(cls, v):
        return _check_range(v, 1, 12, "arms")


class BlobShape(_Shape):
    """Irregular soft blob from thresholded fractal noise (burns and marks)."""

    generator: Literal["burn", "mark"] = Field("burn", description="generator these parameters belong to")
    radius: Vec2 = Field((0.2, 0.34), description="blob radius range, map units")
    aspect: Vec2 = Field((1.0, 1.8), description="elongation range (long/short axis)")
    roughness: float = Field(0.55, ge=0, le=2, description="outline irregularity (fractal noise amplitude)")
    softness: float = Field(0.12, ge=0.005, le=1, description="edge softness, fraction of the radius")
    halo: float = Field(0.6, ge=0, le=1, description="strength of the soft outer halo around the core (0 = none)")
    satellites: tuple[int, int] = Field((0, 3), description="number of small separate spots around the blob")
    ring: float = Field(0.0, ge=0, le=1, description="darker edge ring (dried-stain look), 0..1")

    _c_r = field_validator("radius")(classmethod(_frac_range("radius", 0.02, 0.45)))
    _c_a = field_validator("aspect")(classmethod(_frac_range("aspect", 1.0, 10.0)))

    @field_validator("satellites")
    @classmethod
    def _c_sat(cls, v):
        return _check_range(v, 0, 32, "satellites")


class BandShape(_Shape):
    """A strip across the whole map (along its x axis) with ragged long edges, streaked across."""

    generator: Literal["band"] = Field("band", description="generator these parameters belong to")
    width: Vec2 = Field((0.2, 0.45), description="strip width range, map units")
    offset: Vec2 = Field((-0.1, 0.1), description="range of the strip's centre from the map's centre, map units")
    raggedness: float = Field(0.03, ge=0, le=0.2, description="wobble of the long edges, map units")
    edge_scale: float = Field(0.05, gt=0, le=1, description="wobbles per map pixel along the edges (higher = "
                                                         "choppier)")
    softness: float = Field(0.02, ge=0, le=0.2, description="edge softness, map units")
    streaks: float = Field(0.5, ge=0, le=1, description="how much the encrustation varies across the strip "
                                                       "(streaks across it), 0..1")

    _c_w = field_validator("width")(classmethod(_frac_range("width", 0.02, 0.9)))
    _c_o = field_validator("offset")(classmethod(_frac_range("offset", -0.4, 0.4)))


class CraterShape(_Shape):
    """A bowl with a raised rim and discoloured ejecta around it."""

    generator: Literal["crater"] = Field("crater", description="generator these parameters belong to")
    radius: Vec2 = Field((0.12, 0.2), description="bowl radius range, map units")
    rim: Vec2 = Field((0.25, 0.5), description="rim height range, fraction of the depth")
    ejecta: Vec2 = Field((1.8, 2.4), description="ejecta outer radius range, multiples of the bowl radius")
    rays: tuple[int, int] = Field((5, 14), description="number of ejecta rays range")
    irregularity: float = Field(0.1, ge=0, le=0.5, description="outline wobble, fraction of the radius")

    _c_r = field_validator("radius")(classmethod(_frac_range("radius", 0.02, 0.3)))
    _c_rim = field_validator("rim")(classmethod(_frac_range("rim", 0.0, 2.0)))
    _c_e = field_validator("ejecta")(classmethod(_frac_range("ejecta", 1.0, 4.0)))

    @field_validator("rays")
    @classmethod
    def _c_rays(cls, v):
        return _check_range(v, 0, 64, "rays")


class HoleShape(_Shape):
    """A through hole with a jagged rim and a deformed (pushed/torn) ring around it."""

    generator: Literal["hole"] = Field("hole", description="generator these parameters belong to")
    radius: Vec2 = Field((0.14, 0.26), description="hole radius range, map units")
    irregularity: float = Field(0.12, ge=0, le=0.5, description="low-frequency outline wobble, fraction of radius")
    jaggedness: float = Field(0.06, ge=0, le=0.5, description="high-frequency rim tearing, fraction of radius")
    lip: Vec2 = Field((0.3, 0.7), description="height of the burr around the rim range, fraction of the depth")
    lip_width: float = Field(0.35, ge=0.02, le=2, description="width of the deformed ring, fraction of the radius")

    _c_r = field_validator("radius")(classmethod(_frac_range("radius", 0.02, 0.35)))
    _c_lip = field_validator("lip")(classmethod(_frac_range("lip", -1.0, 1.0)))


class BreakShape(_Shape):
    """A crack network from an impact: chipped missing pieces and a deformed, dusty surround."""

    generator: Literal["break"] = Field("break", description="generator these parameters belong to")
    cracks: tuple[int, int] = Field((3, 6), description="radial cracks from the impact point")
    crack_width: Vec2 = Field((0.01, 0.018), description="crack width range at the impact, map units")
    core_radius: Vec2 = Field((0.05, 0.1), description="radius range of the missing core, map units")
    chips: tuple[int, int] = Field((2, 6), description="number of chipped-out shards along the cracks")
    chip_size: Vec2 = Field((0.025, 0.06), description="shard size range, map units")
    dent_radius: Vec2 = Field((0.25, 0.38), description="radius range of the depression around the impact, map units")
    branch_prob: float = Field(0.03, ge=0, le=1, description="probability of a crack branch per step")

    _c_cw = field_validator("crack_width")(classmethod(_frac_range("crack_width", 0.0, 0.1)))
    _c_cr = field_validator("core_radius")(classmethod(_frac_range("core_radius", 0.0, 0.3)))
    _c_cs = field_validator("chip_size")(classmethod(_frac_range("chip_size", 0.0, 0.3)))
    _c_dr = field_validator("dent_radius")(classmethod(_frac_range("dent_radius", 0.02, 0.45)))

    @field_validator("cracks", "chips")
    @classmethod
    def _c_counts(cls, v, info: ValidationInfo):
        return _check_range(v, 0, 32, info.field_name)


SHAPE_MODELS: dict[str, type[_Shape]] = {
    "scratch": ScratchShape, "dent": DentShape, "crack": CrackShape, "burn": BlobShape, "mark": BlobShape,
    "crater": CraterShape, "hole": HoleShape, "break": BreakShape, "band": BandShape,
}


def _shape_tag(v: Any) -> str | None:
    g = v.get("generator") if isinstance(v, dict) else getattr(v, "generator", None)
    return f"shape[{g}]" if g in SHAPE_MODELS else None


# Tags carry brackets so that synthgen.config.loading.validation_lines drops them from error paths
# (errors read ``kinds.crack.shape.width``, not ``kinds.crack.shape.crack.width``).
ShapeParams = Annotated[
    (Annotated[ScratchShape, Tag("shape[scratch]")]
     | Annotated[DentShape, Tag("shape[dent]")]
     | Annotated[CrackShape, Tag("shape[crack]")]
     | Annotated[BlobShape, Tag("shape[burn]")]
     | Annotated[BlobShape, Tag("shape[mark]")]
     | Annotated[CraterShape, Tag("shape[crater]")]
     | Annotated[HoleShape, Tag("shape[hole]")]
     | Annotated[BreakShape, Tag("shape[break]")]
     | Annotated[BandShape, Tag("shape[band]")]),
    Discriminator(_shape_tag),
]
