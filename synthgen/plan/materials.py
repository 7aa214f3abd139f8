"""Procedural PBR parameters for parts, and the randomized stage (belt texture, ambient)."""

from __future__ import annotations

import numpy as np

from synthgen.config.job import ColorRange, MaterialPreset, StageConfig
from synthgen.config.photo import PhotoTextureConfig
from synthgen.plan.types import BeltPlan, MaterialPlan, ObstaclePlan, PhotoPlan, StagePlan


def draw_color(cr: ColorRange, rng: np.random.Generator) -> tuple[float, float, float]:
    lo, hi = np.array(cr.min), np.array(cr.max)
    t = rng.uniform() if cr.correlated else rng.uniform(size=3)
    return tuple(float(x) for x in lo + (hi - lo) * t)


def _log_uniform(lo: float, hi: float, rng: np.random.Generator) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _optional_uniform(r: tuple[float, float], rng: np.random.Generator) -> float:
    """A draw from ``r``; a (0, 0) range draws nothing, so that configs without the feature keep
    the plans (and images) they had before it existed."""
    return 0.0 if r[1] <= 0 else float(rng.uniform(*r))


def plan_photo(pt: PhotoTextureConfig | None, rng: np.random.Generator) -> PhotoPlan | None:
    """A photo of the preset's source, its scale, strength and where the part sits in it. A preset
    without one draws nothing, so its plans stay as they were."""
    if pt is None:
        return None
    photos = pt.photos()
    return PhotoPlan(path=photos[int(rng.integers(len(photos)))], px_per_mm=_log_uniform(*pt.px_per_mm, rng),
                     strength=float(rng.uniform(*pt.strength)), offset=tuple(float(x) for x in rng.uniform(0, 1, 2)),
                     detrend_px=pt.detrend_px, margin=pt.margin, specular=pt.specular,
                     encoding=pt.encoding)


def plan_material(presets: list[MaterialPreset], allowed: list[str] | None,
                  rng: np.random.Generator) -> MaterialPlan:
    """Pick a preset (by weight, among ``allowed``) and draw its parameters."""
    cands = [m for m in presets if (allowed is None or m.name in allowed)]
    w = np.array([m.weight for m in cands], float)
    if w.sum() <= 0:
        w = np.ones(len(cands))
    m = cands[int(rng.choice(len(cands), p=w / w.sum()))]
    return MaterialPlan(
        preset=m.name,
        finish=m.finish,
        base_color=draw_color(m.base_color, rng),
        metallic=float(rng.uniform(*m.metallic)),
        roughness=float(rng.uniform(*m.roughness)),
        finish_scale=_log_uniform(*m.finish_scale, rng),
        finish_strength=float(rng.uniform(*m.finish_strength)),
        finish_angle_deg=float(rng.uniform(*m.finish_angle_deg)),
        noise_offset=tuple(float(x) for x in rng.uniform(0, 100, 3)),
        albedo_variation=_optional_uniform(m.albedo_variation, rng),
        speckle=_optional_uniform(m.speckle, rng),
        photo=plan_photo(m.photo_texture, rng),
    )


def plan_stage(cfg: StageConfig, rng: np.random.Generator) -> StagePlan:
    b = cfg.belt
    texture = b.texture if b.texture != "mixed" else str(rng.choice(["rubber", "fabric"]))
    belt = BeltPlan(
        size=tuple(b.size),
        color=draw_color(b.color, rng),
        roughness=float(rng.uniform(*b.roughness)),
        texture=texture,
        texture_scale=_log_uniform(*b.texture_scale, rng),
        bump_strength=float(rng.uniform(*b.bump_strength)),
        noise_offset=tuple(float(x) for x in rng.uniform(0, 100, 3)),
    )
    return StagePlan(
        belt=belt,
        obstacles=tuple(ObstaclePlan(o.name, tuple(o.center), tuple(o.size), tuple(o.color)) for o in cfg.obstacles),
        world_color=draw_color(cfg.world_color, rng),
        world_strength=float(rng.uniform(*cfg.world_strength)),
    )
