"""Cycles settings and per-camera final renders, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from synthgen.blender.quiet import quiet_stdout
from synthgen.blender.scene import BuiltScene
from synthgen.plan.types import RenderPlan


def apply_render_settings(rp: RenderPlan, seed: int, threads: int = 0) -> None:
    """Final-quality Cycles settings from the plan; the sampling seed is fixed by the plan."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    c = scene.cycles
    c.samples = rp.samples
    c.use_adaptive_sampling = rp.samples > 16
    c.use_denoising = rp.denoise
    if rp.denoise:
        c.denoiser = "OPENIMAGEDENOISE"
    c.max_bounces = rp.max_bounces
    c.seed = seed % (2**31 - 1)
    c.use_animated_seed = False
    scene.render.resolution_x, scene.render.resolution_y = rp.resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.view_settings.view_transform = rp.view_transform
    scene.view_settings.look = "None"
    scene.view_settings.exposure = rp.exposure
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.image_settings.compression = 15
    scene.render.use_persistent_data = False
    if threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads
    else:
        scene.render.threads_mode = "AUTO"


def render_camera(built: BuiltScene, camera_id: int, quiet: bool = True) -> None:
    """Render one planned camera into Blender's Render Result (not yet written)."""
    scene = bpy.context.scene
    scene.camera = built.cameras[camera_id]
    with quiet_stdout(quiet):
        bpy.ops.render.render(write_still=False)


def save_render(path: str | Path) -> None:
    """Write the last Render Result as PNG to ``path`` atomically (temp name, then rename), so a
    killed run never leaves a half-written image under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp_{os.getpid()}_{path.name}")
    bpy.data.images["Render Result"].save_render(str(tmp), scene=bpy.context.scene)
    os.replace(tmp, path)
