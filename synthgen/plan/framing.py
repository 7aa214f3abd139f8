"""Automatic framing: the camera arc sized and centred from the placed parts' bounds (pure)."""

from __future__ import annotations

import numpy as np

from synthgen.config_scene import CamerasConfig


def framed(cfg: CamerasConfig, hull_points: np.ndarray, resolution: tuple[int, int]) -> CamerasConfig:
    """``cfg`` with the arc centred on the parts (the centre of ``hull_points``' bounding box, at
    the arc height) and its radius such that their bounding sphere spans ``framing.fill`` of the
    image's shorter side at the middle focal length. ``cfg`` itself when framing is off."""
    if cfg.framing is None or len(hull_points) == 0:
        return cfg
    lo, hi = hull_points.min(0), hull_points.max(0)
    centre = (lo + hi) / 2.0
    radius = float(np.linalg.norm(hi - lo)) / 2.0
    w, h = resolution
    f_mm = float(np.mean(cfg.focal_length_mm))
    half_short = np.arctan(cfg.sensor_width_mm * min(w, h) / w / 2.0 / f_mm)  # half field angle, shorter side
    distance = radius / np.sin(cfg.framing.fill * half_short)
    ark = cfg.ark.model_copy(update={"radius": float(distance), "look_at": tuple(float(x) for x in centre),
                                     "height": float(centre[2])})
    return cfg.model_copy(update={"ark": ark})


def tile_grid(cfg: CamerasConfig, hull_points: np.ndarray, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Inspection tiling: (N, 3) camera positions and (N, 3) aim points of a grid of top-down
    cameras over the parts' footprint, each covering ``tiling.tile_m`` at the middle focal length."""
    t = cfg.tiling
    lo, hi = hull_points.min(0) - [t.margin_m, t.margin_m, 0], hull_points.max(0) + [t.margin_m, t.margin_m, 0]
    w, h = resolution
    f_mm = float(np.mean(cfg.focal_length_mm))
    half_short = np.arctan(cfg.sensor_width_mm * min(w, h) / w / 2.0 / f_mm)
    distance = t.tile_m / 2.0 / np.tan(half_short)
    step = t.tile_m * (1.0 - t.overlap)

    def centres(a: float, b: float) -> np.ndarray:
        n = max(1, int(np.ceil((b - a - t.tile_m) / step - 1e-9)) + 1)
        span = (n - 1) * step
        return (a + b) / 2.0 + np.linspace(-span / 2, span / 2, n)

    xs, ys = centres(lo[0], hi[0]), centres(lo[1], hi[1])
    gx, gy = np.meshgrid(xs, ys)
    top = float(hi[2])
    aims = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, top)], -1)
    return aims + [0.0, 0.0, distance], aims
