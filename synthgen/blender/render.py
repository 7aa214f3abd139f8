"""Cycles settings and per-camera final renders, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from synthgen.blender.scene import BuiltScene
from synthgen.io import atomic_write_bytes, strip_png_metadata
from synthgen.plan.types import RenderPlan
from synthgen.quiet import quiet_stdout


def apply_render_settings(rp: RenderPlan, seed: int | None = None, threads: int = 0) -> None:
    """Final-quality Cycles settings from the plan; the sampling seed is the plan's
    (``rp.cycles_seed``) unless ``seed`` overrides it."""
    seed = rp.cycles_seed if seed is None else seed
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    c = scene.cycles
    c.samples = rp.samples
    c.use_adaptive_sampling = rp.samples > 16
    c.use_denoising = rp.denoise
    if rp.denoise:
        c.denoiser = "OPENIMAGEDENOISE"
    c.max_bounces = rp.max_bounces
    c.filter_width = rp.filter_width_px
    c.seed = seed % (2**31 - 1)
    c.use_animated_seed = False
    scene.render.resolution_x, scene.render.resolution_y = rp.resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.view_settings.view_transform = rp.view_transform
    scene.view_settings.look = "None"
    scene.view_settings.exposure = rp.exposure
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = rp.color_mode
    scene.render.image_settings.color_depth = "8"
    scene.render.image_settings.compression = 15
    scene.render.use_persistent_data = False
    if threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads
    else:
        scene.render.threads_mode = "AUTO"


def set_border(region: tuple[int, int, int, int]) -> None:
    """Render only ``region`` (x0, y0, x1, y1; pixels, rows top-down, end-exclusive), cropped to it.
    Callers turn ``use_border`` / ``use_crop_to_border`` on and restore them."""
    r = bpy.context.scene.render
    w, h = r.resolution_x, r.resolution_y
    x0, y0, x1, y1 = region
    # A quarter-pixel nudge lands on the same pixel whether Blender truncates or rounds the border.
    r.border_min_x, r.border_max_x = (x0 + 0.25) / w, (x1 + 0.25) / w
    r.border_min_y, r.border_max_y = (h - y1 + 0.25) / h, (h - y0 + 0.25) / h


def render_camera(built: BuiltScene, camera_id: int, quiet: bool = True,
                  region: tuple[int, int, int, int] | None = None) -> None:
    """Render one planned camera into Blender's Render Result (not yet written); with ``region``
    only that rectangle, and the result is cropped to it."""
    scene = bpy.context.scene
    r = scene.render
    scene.camera = built.cameras[camera_id]
    saved = (r.use_border, r.use_crop_to_border)
    if region is not None:
        r.use_border, r.use_crop_to_border = True, True
        set_border(region)
    try:
        with quiet_stdout(quiet):
            bpy.ops.render.render(write_still=False)
    finally:
        r.use_border, r.use_crop_to_border = saved


def save_render(path: str | Path) -> None:
    """Write the last Render Result as PNG to ``path`` atomically (temp name, then rename), so a
    killed run never leaves a half-written image under the final name. Blender's date and
    render-time text fields are stripped: the same plan gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp_{os.getpid()}_{path.name}")
    try:
        bpy.data.images["Render Result"].save_render(str(tmp), scene=bpy.context.scene)
        atomic_write_bytes(path, strip_png_metadata(tmp.read_bytes()))
    finally:
        tmp.unlink(missing_ok=True)
