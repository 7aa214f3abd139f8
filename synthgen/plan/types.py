"""The ScenePlan: a frozen, JSON-serialisable record of every random choice of one scene.

It is the contract between the pure planner and the Blender layer, written next to every
image so any image can be re-rendered exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PLAN_FORMAT = 2  # 2: size_mm is the real extent, map_size_mm and through_mm added


@dataclass(frozen=True)
class PhotoPlan:
    """One photo of a healthy surface as the material's texture (``materials[].photo_texture``)."""

    path: str
    px_per_mm: float
    strength: float
    offset: tuple[float, float]  # where the part's origin falls in the photo, fractions of its size
    detrend_px: float
    margin: float
    specular: bool = True  # the photo also scales the specular reflection
    encoding: str = "srgb"  # how the photo's grey levels relate to light: srgb or linear


@dataclass(frozen=True)
class MaterialPlan:
    preset: str
    finish: str
    base_color: tuple[float, float, float]
    metallic: float
    roughness: float
    finish_scale: float  # cycles per metre
    finish_strength: float  # 0..1
    finish_angle_deg: float  # direction of brushing / tool marks about the part's local z
    noise_offset: tuple[float, float, float]  # decorrelates procedural noise between parts
    albedo_variation: float = 0.0  # relative base-colour variation along the finish pattern
    speckle: float = 0.0  # relative base-colour variation by a fine isotropic speckle
    photo: PhotoPlan | None = None  # a photo's texture multiplying the base colour


@dataclass(frozen=True)
class PartPlan:
    instance_id: int  # 1-based, unique in the scene
    name: str
    path: str
    sha256: str
    units: str
    pose_index: int
    pose_probability: float
    yaw_deg: float
    matrix_world: tuple[tuple[float, ...], ...]  # 4x4, maps the COM-centred mesh (metres) to world
    material: MaterialPlan


@dataclass(frozen=True)
class CameraPlan:
    camera_id: int
    matrix_world: tuple[tuple[float, ...], ...]  # 4x4, Blender convention: looks down local -Z, +Y up
    focal_length_mm: float
    sensor_width_mm: float
    use_dof: bool
    focus_distance: float  # m
    fstop: float
    look_at: tuple[float, float, float]


@dataclass(frozen=True)
class LightPlan:
    light_id: int
    type: str  # area | spot | point | sun
    matrix_world: tuple[tuple[float, ...], ...]  # emits down local -Z
    power: float  # W (sun: W/m^2)
    temperature: float  # K
    size: float  # m
    spot_size_deg: float
    ies: str | None
    ies_scale: float = 1.0  # 1 / peak candela of the IES file: the profile shapes, power scales


@dataclass(frozen=True)
class BeltPlan:
    size: tuple[float, float]
    color: tuple[float, float, float]
    roughness: float
    texture: str
    texture_scale: float
    bump_strength: float
    noise_offset: tuple[float, float, float]


@dataclass(frozen=True)
class ObstaclePlan:
    name: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[float, float, float]


@dataclass(frozen=True)
class StagePlan:
    belt: BeltPlan
    obstacles: tuple[ObstaclePlan, ...]
    world_color: tuple[float, float, float]
    world_strength: float


@dataclass(frozen=True)
class RenderPlan:
    resolution: tuple[int, int]
    samples: int
    denoise: bool
    max_bounces: int
    exposure: float
    view_transform: str
    color_mode: str = "RGB"
    cycles_seed: int = 0  # Cycles' sampling seed: the same plan renders the same pixels anywhere
    # (belt speed m/s, exposure s, ID-pass instants) when render.motion_blur is on; parts move along +x
    motion_blur: tuple[float, float, int] | None = None
    filter_width_px: float = 1.5  # Cycles' pixel filter width


@dataclass(frozen=True)
class SensorPlan:
    """One camera's drawn camera model (``render.sensor``); None = that effect is off."""

    camera_id: int
    noise_seed: int  # this image's temporal noise
    pattern_seed: int  # the camera's fixed-pattern noise: the same for every scene
    full_well_e: float | None = None
    read_noise_e: float | None = None
    fixed_pattern: float = 0.0
    vignetting: float | None = None
    distortion: tuple[float, float, float, float, float] | None = None  # k1, k2, p1, p2, k3 (OpenCV order)
    blur_sigma_px: float | None = None


@dataclass(frozen=True)
class DefectPlan:
    defect_id: int  # 1-based, unique in the scene
    part_instance_id: int
    kind: str
    types: tuple[str, ...]
    variant: int
    variant_dir: str | None  # library folder holding this variant's maps (None until generated)
    size_mm: float  # real extent on the surface: longest side of the label mask's bounding box
    depth_mm: float
    position: tuple[float, float, float]  # world, on the surface (m)
    normal: tuple[float, float, float]  # world surface normal (unit)
    rotation_deg: float  # rotation of the map about the normal
    local_position: tuple[float, float, float]  # in the part's centred mesh frame (m)
    local_normal: tuple[float, float, float]
    face_index: int
    material: dict[str, Any] | None  # encrustation PBR parameters
    map_size_mm: float = 0.0  # side of the square map on the surface (0: plans older than this field = size_mm)
    # Hole types: depth range (mm below the surface, along -normal) of the wall's far side behind
    # the footprint, which the hole opens too; None = not through (blind, or a thick wall).
    through_mm: tuple[float, float] | None = None


@dataclass(frozen=True)
class ScenePlan:
    format: int
    synthgen_version: str
    seed: int
    scene_index: int
    render: RenderPlan
    stage: StagePlan
    parts: tuple[PartPlan, ...]
    cameras: tuple[CameraPlan, ...]
    lights: tuple[LightPlan, ...]
    defects: tuple[DefectPlan, ...] = field(default=())
    sensors: tuple[SensorPlan, ...] = field(default=())  # per camera, when render.sensor has an effect on

    def to_dict(self) -> dict[str, Any]:
        d = _round(asdict(self))
        if not d["sensors"]:
            del d["sensors"]  # plans without a camera model stay as they were
        for s in d.get("sensors", []):
            if s["blur_sigma_px"] is None:
                del s["blur_sigma_px"]  # nor do camera models without blur
        for p in d["parts"]:
            if p["material"]["photo"] is None:
                del p["material"]["photo"]  # nor do materials without a photo texture
        if d["render"]["motion_blur"] is None:
            del d["render"]["motion_blur"]  # nor do plans without motion blur
        if d["render"]["filter_width_px"] == 1.5:
            del d["render"]["filter_width_px"]  # nor do plans with Cycles' default pixel filter
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, floats rounded to 12 significant digits (byte-stable)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1) + "\n"


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.12g}")
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    return obj


def _tup(x) -> tuple:
    if isinstance(x, list):
        return tuple(_tup(v) for v in x)
    return x


def plan_from_dict(d: dict[str, Any]) -> ScenePlan:
    """Rebuild a ScenePlan from its JSON dict (for re-rendering a written plan)."""

    def mat(m):
        photo = m.get("photo")
        photo = None if photo is None else PhotoPlan(**{k: _tup(v) for k, v in photo.items()})
        return MaterialPlan(**{**{k: _tup(v) for k, v in m.items()}, "photo": photo})

    parts = tuple(
        PartPlan(**{**{k: _tup(v) for k, v in p.items() if k != "material"}, "material": mat(p["material"])})
        for p in d["parts"]
    )
    st = d["stage"]
    stage = StagePlan(
        belt=BeltPlan(**{k: _tup(v) for k, v in st["belt"].items()}),
        obstacles=tuple(ObstaclePlan(**{k: _tup(v) for k, v in o.items()}) for o in st["obstacles"]),
        world_color=_tup(st["world_color"]),
        world_strength=st["world_strength"],
    )
    return ScenePlan(
        format=d["format"],
        synthgen_version=d["synthgen_version"],
        seed=d["seed"],
        scene_index=d["scene_index"],
        render=RenderPlan(**{k: _tup(v) for k, v in d["render"].items()}),
        stage=stage,
        parts=parts,
        cameras=tuple(CameraPlan(**{k: _tup(v) for k, v in c.items()}) for c in d["cameras"]),
        lights=tuple(LightPlan(**{k: _tup(v) for k, v in lt.items()}) for lt in d["lights"]),
        defects=tuple(
            DefectPlan(**{k: (v if k == "material" else _tup(v)) for k, v in df.items()})
            for df in d.get("defects", [])
        ),
        sensors=tuple(SensorPlan(**{k: _tup(v) for k, v in sp.items()}) for sp in d.get("sensors", [])),
    )
