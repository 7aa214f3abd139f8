"""Pinhole projection with Blender's camera intrinsics (pure numpy, no render).

Matches Blender for ``sensor_fit = HORIZONTAL`` (what synthgen sets), zero lens shift and
square pixels: focal length in pixels = lens_mm / sensor_width_mm * width_px.
"""

from __future__ import annotations

import numpy as np


def intrinsics(focal_length_mm: float, sensor_width_mm: float, resolution: tuple[int, int],
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """3x3 K for pixel coordinates with the origin at the top-left corner of the image, x right,
    y down (pixel centres at +0.5). Blender's shift is in units of the larger image side."""
    w, h = resolution
    f = focal_length_mm / sensor_width_mm * w
    side = max(w, h)
    return np.array([[f, 0.0, w / 2 + shift[0] * side], [0.0, f, h / 2 - shift[1] * side], [0.0, 0.0, 1.0]])


def project(points_world: np.ndarray, matrix_world, focal_length_mm: float, sensor_width_mm: float,
            resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, 3) world points. Returns (uv (N, 2) pixel coords, depth (N,) metres in front
    of the camera; <= 0 means behind)."""
    M = np.asarray(matrix_world, float)
    R, t = M[:3, :3], M[:3, 3]
    pc = (np.asarray(points_world, float) - t) @ R  # world -> camera frame (R orthonormal)
    depth = -pc[:, 2]
    K = intrinsics(focal_length_mm, sensor_width_mm, resolution)
    safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
    u = K[0, 0] * pc[:, 0] / safe + K[0, 2]
    v = -K[1, 1] * pc[:, 1] / safe + K[1, 2]
    return np.stack([u, v], axis=1), depth


def points_in_view(points_world: np.ndarray, matrix_world, focal_length_mm: float, sensor_width_mm: float,
                   resolution: tuple[int, int], near: float = 1e-3) -> np.ndarray:
    """Boolean (N,): which points fall inside the image and in front of the camera."""
    uv, depth = project(points_world, matrix_world, focal_length_mm, sensor_width_mm, resolution)
    w, h = resolution
    return (depth > near) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)


def blur_radius_px(cam, points_world: np.ndarray, width_px: int) -> float:
    """Largest defocus blur radius (px) over ``points_world`` (N, 3) for a CameraPlan-like ``cam``
    (thin lens: circle of confusion f^2 / (N (S - f)) * |D - S| / D on the sensor); 0 without
    depth of field."""
    if not cam.use_dof or len(points_world) == 0:
        return 0.0
    f = cam.focal_length_mm / 1000.0
    s = max(cam.focus_distance, f * 1.001)
    eye = np.asarray(cam.matrix_world, float)[:3, 3]
    dist = np.maximum(np.linalg.norm(np.asarray(points_world, float) - eye, axis=1), f * 1.001)
    coc_m = f * f / (cam.fstop * (s - f)) * np.abs(dist - s) / dist
    return float(coc_m.max() * 1000.0 / cam.sensor_width_mm * width_px / 2.0)
