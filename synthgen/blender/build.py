"""The one scene-building entry point: everything a plan describes, in the open Blender session.

The CLI pipeline, the add-on, the benchmarks, the gallery script and the tests all build scenes
through :func:`build`, so what an artist sees is what the render nodes render:

    built = build(plan)              # stage, parts, lights, cameras, world, defects, Cycles settings
    with built_id_pass(built) as ids:  # the defect-ID pass (labels and visibility)
        ...
    clear()                          # removes only what synthgen made and tagged
"""

from __future__ import annotations

from synthgen.blender import defects as _defects
from synthgen.blender import motion as _motion
from synthgen.blender import render as _render
from synthgen.blender import scene as _scene
from synthgen.blender.scene import BuiltScene
from synthgen.blender.visibility import DefectIdPass
from synthgen.plan.types import ScenePlan

__all__ = ["BuiltScene", "blender_version", "build", "built_id_pass", "clear", "datablock_counts", "start_session"]

blender_version = _scene.blender_version
datablock_counts = _scene.datablock_counts


def start_session() -> None:
    """An empty factory session (headless runs; the add-on builds into the artist's file)."""
    _scene.init_session()


def build(plan: ScenePlan, threads: int = 0) -> BuiltScene:
    """Build ``plan``: stage, parts, lights, cameras and world, then its defects as decals, then
    the Cycles settings with the plan's sampling seed and the parts' motion blur, if planned. Returns the handle to what was made."""
    built = _scene.build_objects(plan)
    built.defects = _defects.apply_defects(built, plan.defects)
    _render.apply_render_settings(plan.render, threads=threads)
    _motion.apply_motion_blur(built)
    return built


def built_id_pass(built: BuiltScene, max_incidence_deg: float = 90.0) -> DefectIdPass:
    """The defect-ID pass of a built scene (a context manager: ID shading in, final shading back)."""
    return DefectIdPass(built, built.plan.defects, built.defects, max_incidence_deg)


def clear() -> None:
    """Remove every data-block synthgen made (tagged); the artist's own data stays."""
    _scene.clear_scene()
