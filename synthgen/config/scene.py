"""Render-config sections of the inspection stage: belt and obstacles, part placement, the camera
arc and the lights (re-exported by synthgen.config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from synthgen.config.base import Color, ColorRange, Vec2, Vec3, _check_range, _Model, _resolve_path


class Obstacle(_Model):
    """An axis-aligned box on the stage (guide rail, fixture) that parts must not overlap."""

    name: str = Field(description="obstacle name")
    center: Vec3 = Field(description="box centre x, y, z in metres (z = 0 is the belt surface)")
    size: Vec3 = Field(description="box size x, y, z in metres")
    color: Color = Field((0.6, 0.6, 0.62), description="linear RGB")

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if min(v) <= 0:
            raise ValueError("all sizes must be > 0")
        return v


class BeltConfig(_Model):
    """Conveyor belt: a plane at z = 0 running along x, with a randomized rubber/fabric texture."""

    size: Vec2 = Field((1.2, 0.6), description="belt length (x) and width (y) in metres")
    color: ColorRange = Field(
        ColorRange(min=(0.01, 0.01, 0.012), max=(0.08, 0.09, 0.09)), description="belt base colour range"
    )
    roughness: Vec2 = Field((0.5, 0.9), description="belt roughness range 0..1")
    texture: Literal["rubber", "fabric", "mixed"] = Field(
        "mixed", description="texture family: rubber (fine noise), fabric (woven ridges), mixed (drawn per scene)"
    )
    texture_scale: Vec2 = Field((150.0, 500.0), description="texture frequency range, cycles per metre")
    bump_strength: Vec2 = Field((0.05, 0.3), description="texture bump strength range 0..1")

    @field_validator("roughness", "bump_strength")
    @classmethod
    def _unit(cls, v):
        return _check_range(v, 0.0, 1.0)


class StageConfig(_Model):
    """The inspection stage: belt, obstacles, and the world (background light)."""

    belt: BeltConfig = Field(BeltConfig(), description="conveyor belt")
    obstacles: list[Obstacle] = Field([], description="boxes parts must not overlap")
    world_strength: Vec2 = Field((0.05, 0.3), description="ambient background light strength range")
    world_color: ColorRange = Field(
        ColorRange(min=(0.8, 0.8, 0.8), max=(1.0, 1.0, 1.0)), description="ambient colour range"
    )


class PlacementConfig(_Model):
    """Where and how parts are dropped on the belt."""

    area: Vec2 = Field((0.3, 0.2), description="x, y extent (m) of the region, centred at the origin, "
                       "that holds part centres")
    clearance: float = Field(0.005, ge=0, description="minimum gap between part footprints (m)")
    max_attempts: int = Field(100, ge=1, le=100000, description="placement tries per part before the scene is skipped")
    stable_pose_min_probability: float = Field(
        0.01, ge=0, le=1, description="resting poses less likely than this are ignored"
    )
    max_poses: int = Field(8, ge=1, description="keep at most this many most-likely resting poses per part")
    min_support_ratio: float = Field(
        0.0, ge=0, le=1, description="robustness filter: a resting pose is kept only if its support polygon (the "
        "convex hull of the points touching the belt) covers at least this fraction of its footprint's area; "
        "0.2 drops a low-poly disc standing on one rim facet. 0 = off")
    min_com_margin_mm: float = Field(
        0.0, ge=0, description="robustness filter: a resting pose is kept only if the centre of mass projects at "
        "least this far inside the support polygon (mm), so a small push would not tip it. 0 = off")
    yaw_deg: Vec2 = Field((0.0, 360.0), description="range of the turn of each part about vertical (deg). The full "
                          "circle (default) turns each resting pose at random; a narrower range is measured from "
                          "the part's own x axis laid along the belt (x), so [-5, 5] keeps parts aligned, as on a "
                          "fixture")

    @field_validator("yaw_deg")
    @classmethod
    def _yaw(cls, v):
        return _check_range(v, -360.0, 360.0, "yaw_deg")


class ArkConfig(_Model):
    """An arc of cameras in a vertical plane over the belt, all aimed at a look-at point."""

    count: int = Field(9, ge=1, le=256, description="number of cameras on the arc")
    radius: float = Field(0.45, gt=0, description="distance from the arc centre to each camera (m)")
    arc_deg: float = Field(120.0, ge=0, le=360, description="total angle covered by the arc (deg), centred on vertical")
    height: float = Field(0.0, description="height of the arc centre above the belt surface (m)")
    look_at: Vec3 = Field((0.0, 0.0, 0.0), description="point all cameras aim at (m)")
    yaw_deg: float = Field(90.0, description="orientation of the arc's plane about vertical (deg); 90 = across the belt")


class FocusConfig(_Model):
    """Depth of field: focus at the working distance plus jitter, f-stop from a range."""

    enabled: bool = Field(True, description="render depth of field (focus blur)")
    distance_jitter: float = Field(0.01, ge=0, description="± jitter of the focus distance around the working distance (m)")
    fstop: Vec2 = Field((5.6, 16.0), description="f-number range")

    @field_validator("fstop")
    @classmethod
    def _f(cls, v):
        return _check_range(v, 0.5, 128.0, "fstop")


class FramingConfig(_Model):
    """Automatic framing: the arc is centred on the placed parts and its radius set so that they
    fill a fraction of the image, whatever their size (ark.radius and ark.look_at are ignored)."""

    fill: float = Field(0.6, gt=0.05, le=1.0, description="fraction of the image's shorter side that the "
                        "parts' bounding sphere spans, at the middle of the focal-length range")


class TilingConfig(_Model):
    """Inspection tiling: top-down cameras on a grid over the placed parts, each seeing one tile,
    as a robot-mounted or gantry inspection cell scans a large part (replaces the arc)."""

    tile_m: float = Field(0.3, gt=0, description="side of the square tile each camera covers on the part's top, "
                          "along the image's shorter side, at the middle focal length (m)")
    overlap: float = Field(0.1, ge=0, lt=0.9, description="fraction of a tile shared with its neighbour")
    margin_m: float = Field(0.0, ge=0, description="extra border around the parts' footprint (m)")


class CloseupConfig(_Model):
    """Inspection close-ups: besides the arc (or tiling), cameras aimed square at sampled defects,
    as a robot-mounted camera visits suspect spots."""

    count: int = Field(2, ge=1, le=64, description="close-up cameras per scene, each at its own defect (fewer "
                       "when fewer defects face up)")
    field_m: float = Field(0.06, gt=0, description="side of the patch around the defect that the image's shorter "
                           "side spans at the middle focal length (m)")
    tilt_deg: Vec2 = Field((0.0, 20.0), description="range of the angle between the view and the defect's normal "
                           "(deg), turned about the normal at random")

    @field_validator("tilt_deg")
    @classmethod
    def _tilt(cls, v):
        return _check_range(v, 0.0, 75.0, "tilt_deg")


class CamerasConfig(_Model):
    """The camera arc plus per-camera randomization."""

    ark: ArkConfig = Field(ArkConfig(), description="arc geometry")
    framing: FramingConfig | None = Field(
        None, description="automatic framing from the parts' bounds (null = the arc as configured)")
    tiling: TilingConfig | None = Field(
        None, description="inspection mode: a grid of top-down cameras tiling the parts (replaces the arc and "
                          "ark.count; null = the arc)")
    closeups: CloseupConfig | None = Field(
        None, description="inspection close-ups aimed at sampled defects, added after the arc's or tiling's "
                          "cameras (null = none)")
    position_jitter: float = Field(0.01, ge=0, description="± jitter of each camera position per axis (m)")
    aim_jitter_deg: float = Field(2.0, ge=0, le=45, description="± jitter of the aim direction (deg)")
    roll_jitter_deg: float = Field(3.0, ge=0, le=180, description="± roll about the optical axis (deg)")
    focal_length_mm: Vec2 = Field((35.0, 50.0), description="lens focal length range (mm)")
    sensor_width_mm: float = Field(36.0, gt=0, description="sensor width (mm), sensor fit horizontal")
    focus: FocusConfig = Field(FocusConfig(), description="focus blur")
    image_up: Vec3 = Field(
        (0.0, 0.0, 1.0), description="world direction that points up in every image (before the roll jitter). "
        "The default, vertical, keeps the horizon level in oblique views; near-top-down cameras need a "
        "horizontal one (for example [0, 1, 0]: the belt's y axis runs up the image), or their "
        "orientation follows the small tilt left by the jitters")

    @field_validator("image_up")
    @classmethod
    def _up(cls, v):
        if sum(x * x for x in v) < 1e-12:
            raise ValueError("image_up must not be the zero vector")
        return v

    @field_validator("focal_length_mm")
    @classmethod
    def _fl(cls, v):
        return _check_range(v, 1.0, 2000.0, "focal_length_mm")


class LightConfig(_Model):
    """One light; each scene jitters its pose and draws power and colour temperature."""

    type: Literal["area", "spot", "point", "sun"] = Field(description="Blender light type")
    position: Vec3 = Field((0.0, 0.0, 1.0), description="base position (m)")
    position_jitter: float = Field(0.05, ge=0, description="± jitter per axis (m)")
    target: Vec3 = Field((0.0, 0.0, 0.0), description="point the light aims at (m); ignored by point lights")
    aim_jitter_deg: float = Field(5.0, ge=0, le=90, description="± aim jitter (deg)")
    power: Vec2 = Field((3.0, 12.0), description="power range (W); for sun: strength range (W/m^2). "
                        "An inspection stage is small: a few watts at 0.5 m light it well")
    temperature: Vec2 = Field((4000.0, 6500.0), description="blackbody colour temperature range (K)")
    size: Vec2 = Field((0.1, 0.4), description="area light side / point/spot radius range (m)")
    spot_size_deg: Vec2 = Field((40.0, 70.0), description="spot cone angle range (deg)")
    ies: str | None = Field(None, description="optional IES photometric profile file (spot/point/area lights)")
    probability: float = Field(1.0, ge=0, le=1, description="chance this light is present in a scene")

    @field_validator("ies")
    @classmethod
    def _ies(cls, v, info: ValidationInfo):
        return _resolve_path(v, info)

    @field_validator("power", "size")
    @classmethod
    def _pos(cls, v):
        return _check_range(v, 0.0, None)

    @field_validator("temperature")
    @classmethod
    def _temp(cls, v):
        return _check_range(v, 800.0, 20000.0, "temperature")

    @field_validator("spot_size_deg")
    @classmethod
    def _spot(cls, v):
        return _check_range(v, 1.0, 180.0, "spot_size_deg")


def _default_lights() -> list[LightConfig]:
    return [
        LightConfig(type="area", position=(0.0, -0.3, 0.8), power=(3.0, 10.0), size=(0.3, 0.6)),
        LightConfig(type="spot", position=(0.4, 0.3, 0.7), power=(4.0, 15.0), probability=0.7),
    ]
