"""Render job configuration: pydantic models, YAML loading, JSON-schema export.

Units: lengths in metres (m) unless a field says millimetres (mm); angles in degrees (deg);
light power in watts (W), sun strength in W/m^2; colour temperature in kelvin (K); colours
are linear RGB in 0..1. Every model forbids unknown keys so a typo is an error, not a silent
default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from synthgen.config.base import Color, ColorRange, Vec2, Vec3, _check_range, _Model, _resolve_path  # noqa: F401
from synthgen.config.loading import load_config
from synthgen.config.photo import PhotoTextureConfig
from synthgen.config.scene import (  # noqa: F401 (the sections are part of this module's API)
    ArkConfig,
    BeltConfig,
    CamerasConfig,
    FocusConfig,
    LightConfig,
    Obstacle,
    PlacementConfig,
    StageConfig,
    _default_lights,
)
from synthgen.config.sensor import MotionBlurConfig, SensorConfig
from synthgen.textures.kinds import DefectLibraryConfig

MAX_DEFECTS_PER_PART = 512  # bounds build time (each defect cuts the part's mesh and adds a decal)
DEVICES = ("CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL")


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
    filter_width_px: float = Field(1.5, ge=0.01, le=10.0, description="Cycles pixel filter width (px; Blackman-Harris, "
                                   "1.5 = Cycles' default). Narrower keeps 1-px detail such as grinding streaks "
                                   "crisp, as a sharp camera does")
    threads: int = Field(0, ge=0, description="CPU render threads; 0 = all cores")
    exposure: float = Field(0.0, ge=-10, le=10, description="film exposure in stops")
    view_transform: Literal["Standard", "AgX", "Filmic", "Raw"] = Field(
        "AgX", description="colour management view transform. Raw writes linear light (gamma 1), as "
                           "machine-vision cameras deliver it: dark surfaces stay dark and highlights stand out"
    )
    color_mode: Literal["RGB", "BW"] = Field("RGB", description="output PNGs in colour (RGB) or greyscale (BW)")
    image_format: Literal["png", "jpeg"] = Field(
        "png", description="file format of the images: png (lossless) or jpeg (at jpeg_quality, to match JPEG photos' "
                           "compression); masks stay PNG")
    jpeg_quality: int = Field(95, ge=1, le=100, description="JPEG quality (1-100) when image_format is jpeg")
    crop: CropConfig | None = Field(
        None, description="crop images to the part's surface (largest rectangle inside the visible part); "
                          "none = full frames")
    sensor: SensorConfig = Field(SensorConfig(), description="camera model applied to each image after rendering: "
                                 "sensor noise, vignetting, lens distortion (all off by default)")
    motion_blur: MotionBlurConfig = Field(MotionBlurConfig(), description="motion blur from the belt's speed and the "
                                          "exposure time (off by default)")

    @model_validator(mode="after")
    def _sensor_crop(self):
        if self.crop is not None and self.sensor.distortion.enabled:
            raise ValueError("sensor.distortion: lens distortion acts on the full frame and cannot be combined with "
                             "render.crop; turn one of them off")
        return self


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
    albedo_variation: Vec2 = Field(
        (0.0, 0.0), description="relative variation of the base colour along the finish pattern 0..1 (ground "
                                "or brushed surfaces whose streaks show as light and dark bands); 0 = none")
    speckle: Vec2 = Field((0.0, 0.0), description="relative variation of the base colour by a fine isotropic speckle "
                                                  "0..1 (sintered or cast grain); 0 = none")
    photo_texture: PhotoTextureConfig | None = Field(
        None, description="take the surface's texture from photos of healthy parts (see PhotoTextureConfig); its "
                          "relative variation multiplies the base colour; none = procedural only")
    weight: float = Field(1.0, ge=0, description="relative frequency among the presets a part may use")

    @field_validator("metallic", "roughness", "finish_strength", "albedo_variation", "speckle")
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
    path: str = Field(description="CAD file: .stl .obj .ply .glb .gltf .step .stp .off .dae (relative to this config)")
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
    spill_px: int = Field(
        2, ge=0, le=8, description="with trim_to_change: changed pixels this close (px) to a kept label but outside "
        "every defect's footprint join that label: the defect's change spread by defocus, the pixel filter "
        "and the denoiser, also across an edge onto the neighbouring face, which its footprint stops at; a camera with "
        "depth of field widens it to its blur radius at the defects plus one pixel (at most 8); 0 = off")
    save_pairs: bool = Field(
        False, description="write each kept defect's contrast renders (defect on, off) and label under pairs/, "
        "for rendered defects carried onto real photos (synthgen hybrid); needs min_contrast > 0")


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
    # The YAML file this config came from: plans store asset paths relative to its folder, and
    # errors found after loading (a missing device) name it.
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def config_dir(self) -> Path | None:
        return None if self._source is None else self._source.resolve().parent

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
                f"at most {MAX_DEFECTS_PER_PART} are supported")
        if self.defects.healthy_share > 0 and not self.verification.render_without_defects:
            raise ValueError("defects.healthy_share: healthy scenes are rendered only with "
                             "verification.render_without_defects: true")
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

        from synthgen.config.loading import validation_lines
        from synthgen.errors import ConfigError

        try:
            cfg = JobConfig.model_validate(data, context={"config_dir": Path(path).resolve().parent})
        except ValidationError as err:
            raise ConfigError(validation_lines(f"{path} (with command-line overrides)", err)) from None
    cfg._source = Path(path)
    return cfg


def job_schema() -> dict[str, Any]:
    """JSON Schema of the render config (for editor autocompletion)."""
    schema = JobConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "synthgen render config"
    return schema
