"""Low-sample border renders of a camera with and without its defects, for the contrast check.

Both renders use the final camera, lights, materials, view transform, denoiser and Cycles
seed, with fewer samples and only the pixel box around the labels, so they cost a small share of
a final render and their noise cancels wherever the defects change nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy
import numpy as np
from PIL import Image

from synthgen.blender.defects import set_enabled
from synthgen.blender.quiet import quiet_stdout
from synthgen.blender.scene import BuiltScene


def _render_region(path: Path, quiet: bool) -> np.ndarray:
    with quiet_stdout(quiet):
        bpy.ops.render.render(write_still=False)
    bpy.data.images["Render Result"].save_render(str(path), scene=bpy.context.scene)
    return np.asarray(Image.open(path).convert("RGB"))


def render_pair(built: BuiltScene, camera_id: int, enabled: set[int], region: tuple[int, int, int, int],
                samples: int, quiet: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(with, without): (H, W, 3) uint8 renders of ``camera_id`` where only ``region`` (x0, y0,
    x1, y1 pixels, rows top-down, end-exclusive) is rendered; ``enabled`` defects on, then none."""
    scene = bpy.context.scene
    r, c = scene.render, scene.cycles
    saved = (c.samples, c.use_adaptive_sampling, r.use_border, r.use_crop_to_border,
             r.border_min_x, r.border_max_x, r.border_min_y, r.border_max_y, r.image_settings.compression,
             r.use_persistent_data)
    w, h = r.resolution_x, r.resolution_y
    x0, y0, x1, y1 = region
    c.samples, c.use_adaptive_sampling = min(samples, c.samples), False
    r.use_border, r.use_crop_to_border = True, False
    r.border_min_x, r.border_max_x = x0 / w, x1 / w
    r.border_min_y, r.border_max_y = 1 - y1 / h, 1 - y0 / h
    r.image_settings.compression = 0
    r.use_persistent_data = True  # the second render reuses the first one's scene sync (BVH)
    scene.camera = built.cameras[camera_id]
    fd, tmp = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        set_enabled(built, enabled)
        with_img = _render_region(Path(tmp), quiet)
        set_enabled(built, set())
        without_img = _render_region(Path(tmp), quiet)
    finally:
        Path(tmp).unlink(missing_ok=True)
        (c.samples, c.use_adaptive_sampling, r.use_border, r.use_crop_to_border,
         r.border_min_x, r.border_max_x, r.border_min_y, r.border_max_y, r.image_settings.compression,
         r.use_persistent_data) = saved
    out = []
    for img in (with_img, without_img):
        full = np.zeros((h, w, 3), np.uint8)
        full[y0:y1, x0:x1] = img[y0:y1, x0:x1]
        out.append(full)
    return out[0], out[1]
