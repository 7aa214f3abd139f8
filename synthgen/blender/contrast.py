"""Border renders of a camera with and without its defects, for the contrast check.

Both use the final camera, lights, materials, view transform, denoiser and Cycles seed, at most
``verification.contrast_samples`` samples and only small boxes around the labels, so they cost a
small share of a final render and their noise cancels wherever the defects change nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy
import numpy as np
from PIL import Image

from synthgen.blender.defects import set_enabled
from synthgen.blender.render import set_border
from synthgen.blender.scene import BuiltScene
from synthgen.quiet import quiet_stdout


def _render_region(path: Path, region: tuple[int, int, int, int], quiet: bool) -> np.ndarray:
    """Render only ``region`` (x0, y0, x1, y1; rows top-down, end-exclusive): (y1-y0, x1-x0, 3) uint8."""
    x0, y0, x1, y1 = region
    set_border(region)
    with quiet_stdout(quiet):
        bpy.ops.render.render(write_still=False)
    bpy.data.images["Render Result"].save_render(str(path), scene=bpy.context.scene)
    img = np.asarray(Image.open(path).convert("RGB"))
    if img.shape[:2] != (y1 - y0, x1 - x0):
        raise RuntimeError(f"border render of {region} came back {img.shape[1]}x{img.shape[0]} px")
    return img


def render_pair(built: BuiltScene, camera_id: int, enabled: set[int], regions: list[tuple[int, int, int, int]],
                samples: int, quiet: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(with, without): (H, W, 3) uint8 renders of ``camera_id`` where only ``regions`` (boxes
    x0, y0, x1, y1 in pixels, rows top-down, end-exclusive) are rendered, black elsewhere;
    first with the ``enabled`` defects on, then with none."""
    scene = bpy.context.scene
    r, c = scene.render, scene.cycles
    saved = (c.samples, c.use_adaptive_sampling, r.use_border, r.use_crop_to_border,
             r.border_min_x, r.border_max_x, r.border_min_y, r.border_max_y, r.image_settings.compression,
             r.use_persistent_data)
    c.samples, c.use_adaptive_sampling = min(samples, c.samples), False
    r.use_border, r.use_crop_to_border = True, True
    r.image_settings.compression = 0
    r.use_persistent_data = True  # later renders reuse the first one's scene sync (BVH)
    scene.camera = built.cameras[camera_id]
    out = [np.zeros((r.resolution_y, r.resolution_x, 3), np.uint8) for _ in range(2)]
    fd, tmp = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        for k, on in enumerate((enabled, set())):
            set_enabled(built, on)
            for x0, y0, x1, y1 in regions:
                out[k][y0:y1, x0:x1] = _render_region(Path(tmp), (x0, y0, x1, y1), quiet)
    finally:
        Path(tmp).unlink(missing_ok=True)
        (c.samples, c.use_adaptive_sampling, r.use_border, r.use_crop_to_border,
         r.border_min_x, r.border_max_x, r.border_min_y, r.border_max_y, r.image_settings.compression,
         r.use_persistent_data) = saved
    return out[0], out[1]
