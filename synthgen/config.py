"""Render job configuration: pydantic models, YAML loading, JSON-schema export.

Units: lengths in metres (m) unless a field says millimetres (mm); angles in degrees (deg);
light power in watts (W), sun strength in W/m^2; colour temperature in kelvin (K); colours
are linear RGB in 0..1. Every model forbids unknown keys so a typo is an error, not a silent
default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from synthgen.configio import load_config, resolve_path
from synthgen.textures.recipes import DefectLibraryConfig

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Color = Annotated[tuple[float, float, float], Field(description="linear RGB, each 0..1")]

MAX_DEFECTS_PER_PART = 16  # decal shaders per part; measured: ~25 overflow Cycles' SVM stack
DEVICES = ("CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(v: tuple, lo: float | None = None, hi: float | None = None, name: str = "range"):
    if v[0] > v[1]:
        raise ValueError(f"{name} min {v[0]} is greater than max {v[1]}")
    for x in v:
        if lo is not None and x < lo:
            raise ValueError(f"{name} values must be >= {lo}, got {x}")
        if hi is not None and x > hi:
            raise ValueError(f"{name} values must be <= {hi}, got {x}")
    return v


def _resolve_path(v: str | None, info: ValidationInfo, must_exist: bool = True) -> str | None:
    """Resolve a path relative to the config file's folder and check that it exists."""
    return resolve_path(v, info, must_exist)


class ColorRange(_Model):
    """A uniform range of linear RGB colours (each channel drawn independently, or by lerp)."""

    min: Color = Field(description="lowest colour, linear RGB 0..1")
    max: Color = Field(description="highest colour, linear RGB 0..1")
    correlated: bool = Field(
        True, description="true: one random t in 0..1 lerps min->max (keeps hue); false: per channel"
    )

    @model_validator(mode="after")
    def _check(self):
        for a, b in zip(self.min, self.max):
            if not (0.0 <= a <= 1.0 and 0.0 <= b <= 1.0):
                raise ValueError("colour channels must lie in 0..1")
            if a > b:
                raise ValueError(f"colour min {self.min} exceeds max {self.max} in a channel")
        return self


class CropConfig(_Model):
    """Cut every output image (and its masks) to the largest axis-aligned rectangle inside the
    visible part, as inspection crops of a part's surface are (no background)."""

    inset_px: int = Field(2, ge=0, description="shrink the rectangle by this many pixels on every side")
    max_incidence_deg: float = Field(
        90.0, gt=0, le=90, description="only part surface that faces the camera within this angle counts (deg): "
                                       "lower it to keep bevels, chamfers and side walls out of the crop")
    min_size: tuple[Annotated[int, Field(ge=8)], Annotated[int, Field(ge=8)]] = Field(
        (64, 64), description="width, height: a camera whose crop is smaller is not rendered (px)")


class RenderConfig(_Model):
    """Cycles settings for the final images."""

    resolution: tuple[Annotated[int, Field(ge=8, le=16384)], Annotated[int, Field(ge=8, le=16384)]] = Field(
        (640, 480), description="image width, height in pixels"
    )
    samples: int = Field(64, ge=1, le=65536, description="Cycles samples per pixel")
    denoise: bool = Field(True, description="OpenImageDenoise on the final image")
    device: Literal["CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL"] = Field(
        "CPU", description="Cycles device type; a missing GPU is an error unless fallback is 'cpu'"
    )
    fallback: Literal["none", "cpu"] = Field(
        "none", description="what to do when the GPU device type is absent: 'none' = error, 'cpu' = render on CPU"
    )
    max_bounces: int = Field(8, ge=0, le=1024, description="Cycles total light bounces")
    threads: int = Field(0, ge=0, description="CPU render threads; 0 = all cores")
    exposure: float = Field(0.0, ge=-10, le=10, description="film exposure in stops")
    view_transform: Literal["Standard", "AgX", "Filmic"] = Field(
        "AgX", description="colour management view transform"
    )
    color_mode: Literal["RGB", "BW"] = Field("RGB", description="output PNGs in colour (RGB) or greyscale (BW)")
    crop: CropConfig | None = Field(
        None, description="crop images to the part's surface (largest rectangle inside the visible part); "
                          "none = full frames")


class MaterialPreset(_Model):
    """A family of procedural PBR part materials; each placement draws its parameters."""

    name: str = Field(description="preset name, referenced by parts[].materials")
    finish: Literal["brushed", "cast", "painted", "machined", "plain"] = Field(
        description="procedural surface finish: brushed (anisotropic streaks), cast (grainy bumps), "
        "painted (orange-peel clear coat), machined (fine concentric tool marks), plain"
    )
    base_color: ColorRange = Field(description="base colour range")
    metallic: Vec2 = Field((0.0, 1.0), description="metallic range 0..1")
    roughness: Vec2 = Field((0.2, 0.6), description="roughness range 0..1")
    finish_scale: Vec2 = Field(
        (200.0, 600.0), description="spatial frequency of the finish pattern, cycles per metre"
    )
    finish_strength: Vec2 = Field((0.2, 0.6), description="strength of the finish bump/roughness variation 0..1")
    finish_angle_deg: Vec2 = Field(
        (0.0, 180.0), description="direction range of brushed streaks and other oriented finishes about the part's "
                                  "own z axis (deg; 0 = along its x axis, 90 = along y)")
    weight: float = Field(1.0, ge=0, description="relative frequency among the presets a part may use")

    @field_validator("metallic", "roughness", "finish_strength")
    @classmethod
    def _unit(cls, v):
        return _check_range(v, 0.0, 1.0)

    @field_validator("finish_scale")
    @classmethod
    def _pos(cls, v):
        return _check_range(v, 1e-6, None)

    @field_validator("finish_angle_deg")
    @classmethod
    def _angle(cls, v):
        return _check_range(v, -360.0, 360.0, "finish_angle_deg")


def _default_materials() -> list[MaterialPreset]:
    return [
        MaterialPreset(name="brushed_steel", finish="brushed",
                       base_color=ColorRange(min=(0.45, 0.45, 0.45), max=(0.75, 0.74, 0.72)),
                       metallic=(0.9, 1.0), roughness=(0.2, 0.4), finish_scale=(1500.0, 4000.0),
                       finish_strength=(0.1, 0.4)),
        MaterialPreset(name="cast_aluminium", finish="cast",
                       base_color=ColorRange(min=(0.5, 0.5, 0.5), max=(0.8, 0.8, 0.8)),
                       metallic=(0.8, 1.0), roughness=(0.4, 0.7)),
        MaterialPreset(name="painted", finish="painted",
                       base_color=ColorRange(min=(0.05, 0.05, 0.05), max=(0.8, 0.8, 0.8), correlated=False),
                       metallic=(0.0, 0.1), roughness=(0.25, 0.5)),
        MaterialPreset(name="machined_steel", finish="machined",
                       base_color=ColorRange(min=(0.5, 0.5, 0.5), max=(0.7, 0.7, 0.7)),
                       metallic=(0.95, 1.0), roughness=(0.15, 0.3)),
    ]


class PartConfig(_Model):
    """A CAD part and how many of it appear per scene."""

    name: str = Field(description="part name used in plans and labels")
    path: str = Field(description="CAD file: .stl .obj .ply .glb .gltf .step .stp (relative to this config)")
    units: Literal["m", "cm", "mm", "in", "ft"] = Field(
        description="length unit of the file's coordinates (declared, never guessed)"
    )
    count: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = Field(
        (1, 1), description="min, max number of copies per scene"
    )
    materials: list[str] | None = Field(
        None, description="names of material presets this part may get; null = any preset"
    )
    weight: float = Field(1.0, ge=0, description="relative chance of this part when the scene count is drawn")

    @field_validator("path")
    @classmethod
    def _path(cls, v, info: ValidationInfo):
        return _resolve_path(v, info)

    @field_validator("count")
    @classmethod
    def _count(cls, v):
        return _check_range(v, 0, None, "count")


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
    yaw_deg: Vec2 = Field((0.0, 360.0), description="range of the turn of each part about vertical (deg); a narrow "
                          "range keeps parts aligned with the belt, as on a fixture")

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


class CamerasConfig(_Model):
    """The camera arc plus per-camera randomization."""

    ark: ArkConfig = Field(ArkConfig(), description="arc geometry")
    position_jitter: float = Field(0.01, ge=0, description="± jitter of each camera position per axis (m)")
    aim_jitter_deg: float = Field(2.0, ge=0, le=45, description="± jitter of the aim direction (deg)")
    roll_jitter_deg: float = Field(3.0, ge=0, le=180, description="± roll about the optical axis (deg)")
    focal_length_mm: Vec2 = Field((35.0, 50.0), description="lens focal length range (mm)")
    sensor_width_mm: float = Field(36.0, gt=0, description="sensor width (mm), sensor fit horizontal")
    focus: FocusConfig = Field(FocusConfig(), description="focus blur")

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


class VerificationConfig(_Model):
    """What makes a camera worth rendering: a visible part and at least one defect that is
    visible (ID pass) and visibly changes the image (contrast check)."""

    min_visible_pixels: int = Field(16, ge=1, description="a defect needs at least this many visible pixels (px)")
    min_visible_fraction: float = Field(
        0.1, ge=0, le=1, description="and at least this fraction of its unoccluded projected area (0..1)")
    render_without_defects: bool = Field(
        False, description="also render cameras that see parts but no defect (healthy images); they get empty masks")
    min_contrast: float = Field(
        10.0, ge=0, le=255, description="a label pixel counts as changed when the image differs there by more than "
        "this many 8-bit levels (largest channel) with the defect on vs off; 0 = no contrast check")
    min_changed_fraction: float = Field(
        0.2, ge=0, le=1, description="a defect is kept only if at least this fraction of its label pixels "
        "changes (and at least min_visible_pixels do)")
    contrast_samples: int = Field(
        32, ge=1, le=65536, description="Cycles samples of the border renders (defects on / off) of the contrast "
        "check, capped at render.samples. Fewer is cheaper but noisier: at 4, denoised bump shading of a "
        "small dent looked 2-3x stronger than in the 16-sample final image")
    trim_to_change: bool = Field(
        True, description="cut each kept label to the pixels that change (a faint halo is not labelled)")


class JobConfig(_Model):
    """A synthgen render job."""

    seed: int = Field(0, ge=0, description="master seed; (seed, scene index) fixes a scene's plan")
    num_scenes: int = Field(1, ge=1, description="number of scenes to plan and render")
    out: str = Field("out", description="output folder (relative to the config file)")
    render: RenderConfig = Field(RenderConfig(), description="Cycles settings")
    parts: list[PartConfig] = Field(min_length=1, description="CAD parts that may appear")
    parts_per_scene: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = Field(
        (1, 3), description="min, max total parts per scene (each part's own count range also applies)"
    )
    placement: PlacementConfig = Field(PlacementConfig(), description="placement on the belt")
    materials: list[MaterialPreset] = Field(default_factory=_default_materials, description="part material presets")
    stage: StageConfig = Field(StageConfig(), description="belt, obstacles, ambient light")
    cameras: CamerasConfig = Field(CamerasConfig(), description="camera arc")
    lights: list[LightConfig] = Field(default_factory=_default_lights, description="lights")
    verification: VerificationConfig = Field(VerificationConfig(), description="visibility checks before rendering")
    defects: DefectLibraryConfig = Field(
        default_factory=DefectLibraryConfig, description="procedural defect kinds and their library"
    )

    @field_validator("out")
    @classmethod
    def _out(cls, v, info: ValidationInfo):
        return _resolve_path(v, info, must_exist=False)

    @field_validator("parts_per_scene")
    @classmethod
    def _pps(cls, v):
        return _check_range(v, 1, None, "parts_per_scene")

    @model_validator(mode="after")
    def _cross(self):
        names = [m.name for m in self.materials]
        if len(set(names)) != len(names):
            raise ValueError(f"materials: duplicate preset names in {names}")
        for p in self.parts:
            for m in p.materials or []:
                if m not in names:
                    raise ValueError(f"parts: part '{p.name}' uses unknown material preset '{m}' (have {names})")
        pnames = [p.name for p in self.parts]
        if len(set(pnames)) != len(pnames):
            raise ValueError(f"parts: duplicate part names in {pnames}")
        most = sum(k.count_per_part[1] for k in self.defects.kinds.values())
        if most > MAX_DEFECTS_PER_PART:
            raise ValueError(
                f"defects.kinds: up to {most} defects per part can be drawn (sum of count_per_part max); "
                f"at most {MAX_DEFECTS_PER_PART} are supported (each defect adds shader nodes to its part, and "
                "Cycles runs out of shader stack beyond about 20)")
        if sum(p.count[1] for p in self.parts) < self.parts_per_scene[0]:
            raise ValueError("parts_per_scene: min exceeds the sum of the parts' max counts")
        return self


def load_job_config(path: str | Path, overrides: dict[str, Any] | None = None) -> JobConfig:
    """Load a render config; ``overrides`` (CLI flags) replace top-level or dotted keys."""
    cfg = load_config(path, JobConfig)
    if overrides:
        data = cfg.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            node = data
            parts = key.split(".")
            for k in parts[:-1]:
                node = node[k]
            node[parts[-1]] = value
        from pydantic import ValidationError

        from synthgen.configio import validation_lines
        from synthgen.errors import ConfigError

        try:
            cfg = JobConfig.model_validate(data, context={"config_dir": Path(path).resolve().parent})
        except ValidationError as err:
            raise ConfigError(validation_lines(f"{path} (with command-line overrides)", err)) from None
    return cfg


def job_schema() -> dict[str, Any]:
    """JSON Schema of the render config (for editor autocompletion)."""
    schema = JobConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "synthgen render config"
    return schema
