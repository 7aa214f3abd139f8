"""PURE planning: (config, seed, scene index) -> ScenePlan. Every random draw of synthgen's
render path happens here, each stage from its own named stream. Never imports bpy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from synthgen import __version__
from synthgen.config.job import JobConfig
from synthgen.plan.cameras import plan_cameras
from synthgen.plan.defects import plan_defects
from synthgen.plan.frames import as_tuple
from synthgen.plan.framing import closeup_grid, framed, tile_grid
from synthgen.plan.lights import plan_lights
from synthgen.plan.materials import plan_material, plan_stage
from synthgen.plan.poses import PlacementError, place_parts
from synthgen.plan.sensor import plan_sensors
from synthgen.plan.types import PLAN_FORMAT, PartPlan, RenderPlan, ScenePlan
from synthgen.rng import stream

__all__ = ["PlacementError", "ScenePlan", "cache_dir_for", "cycles_seed", "make_plan"]


def cache_dir_for(cfg: JobConfig) -> Path:
    """Stable-pose (and defect library) cache, kept beside the output."""
    return Path(cfg.out) / ".cache"


def _hull_points(placements) -> np.ndarray:
    """World points of the placed parts' convex hulls (for automatic framing)."""
    pts = [pl.mesh.mesh.convex_hull.vertices @ pl.matrix_world[:3, :3].T + pl.matrix_world[:3, 3] for pl in placements]
    return np.vstack(pts) if pts else np.zeros((0, 3))


def _plan_cameras(cfg: JobConfig, placements, rng) -> tuple:
    """The arc (framed automatically when asked), or an inspection tiling of the parts."""
    if cfg.cameras.framing is None and cfg.cameras.tiling is None:
        return plan_cameras(cfg.cameras, rng)
    hull, res = _hull_points(placements), tuple(cfg.render.resolution)
    if cfg.cameras.tiling is not None and len(hull):
        return plan_cameras(cfg.cameras, rng, grid=tile_grid(cfg.cameras, hull, res))
    return plan_cameras(framed(cfg.cameras, hull, res), rng)


def cycles_seed(seed: int, scene_index: int) -> int:
    """Cycles' sampling seed of a scene (within Cycles' signed 32-bit range)."""
    return (seed * 1_000_003 + scene_index) % (2**31 - 1)


def make_plan(cfg: JobConfig, scene_index: int, seed: int | None = None,
              cache_dir: str | Path | None = "auto", library: dict[str, list[str]] | None = None) -> ScenePlan:
    """Plan scene ``scene_index``. Raises PlacementError when parts cannot be placed.

    ``library`` maps each defect kind to its variant folders (``resolve_library``); without it
    defects are still placed but carry only a variant index.
    """
    seed = cfg.seed if seed is None else seed
    if cache_dir == "auto":
        cache_dir = cache_dir_for(cfg)
    placements = place_parts(cfg.parts, cfg.placement, cfg.stage, cfg.parts_per_scene,
                             stream(seed, scene_index, "parts"), None if cache_dir is None else str(cache_dir))
    mat_rng = stream(seed, scene_index, "materials")
    parts = tuple(
        PartPlan(
            instance_id=i + 1,
            name=pl.part.name,
            path=pl.part.path,
            sha256=pl.mesh.sha256,
            units=pl.part.units,
            pose_index=pl.pose_index,
            pose_probability=pl.pose_probability,
            yaw_deg=pl.yaw_deg,
            matrix_world=as_tuple(pl.matrix_world),
            material=plan_material(cfg.materials, pl.part.materials, mat_rng),
        )
        for i, pl in enumerate(placements)
    )
    r = cfg.render
    plan = ScenePlan(
        format=PLAN_FORMAT,
        synthgen_version=__version__,
        seed=seed,
        scene_index=scene_index,
        render=RenderPlan(tuple(r.resolution), r.samples, r.denoise, r.max_bounces, r.exposure, r.view_transform,
                          r.color_mode, cycles_seed=cycles_seed(seed, scene_index),
                          filter_width_px=r.filter_width_px),
        stage=plan_stage(cfg.stage, stream(seed, scene_index, "stage")),
        parts=parts,
        cameras=_plan_cameras(cfg, placements, stream(seed, scene_index, "cameras")),
        lights=plan_lights(cfg.lights, stream(seed, scene_index, "lights")),
    )
    defects_cfg = getattr(cfg, "defects", None)
    if defects_cfg is not None and defects_cfg.kinds and not _healthy_scene(defects_cfg, seed, scene_index):
        plan = replace(plan, defects=plan_defects(parts, defects_cfg, library, stream(seed, scene_index, "defects"),
                                                  plan.cameras))
    if cfg.cameras.closeups is not None and plan.defects:
        g = stream(seed, scene_index, "closeups")
        grid = closeup_grid(cfg.cameras, plan.defects, tuple(r.resolution), g)
        close = plan_cameras(cfg.cameras, g, grid=grid, first_id=len(plan.cameras), top_down=False)
        plan = replace(plan, cameras=plan.cameras + close)
    mb = cfg.render.motion_blur
    if mb.enabled:
        g = stream(seed, scene_index, "motion")
        motion = (float(g.uniform(*mb.belt_speed_m_s)), float(g.uniform(*mb.exposure_ms)) / 1000.0, mb.id_steps)
        plan = replace(plan, render=replace(plan.render, motion_blur=motion))
    sensors = plan_sensors(cfg.render.sensor, plan.cameras, seed, stream(seed, scene_index, "sensor"),
                           stream(seed, scene_index, "sensor_blur"))
    if sensors:
        plan = replace(plan, sensors=sensors)
    return plan


def _healthy_scene(defects_cfg, seed: int, scene_index: int) -> bool:
    """Whether this scene is one of ``defects.healthy_share`` planned with no defect (its own stream,
    drawn only when the share is set, so plans without it stay as they were)."""
    share = defects_cfg.healthy_share
    return share > 0 and bool(stream(seed, scene_index, "healthy").random() < share)
