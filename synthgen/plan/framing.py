"""Automatic framing: the camera arc sized and centred from the placed parts' bounds (pure)."""

from __future__ import annotations

import numpy as np

from synthgen.config.scene import CamerasConfig
from synthgen.geometry.decal import decal_frame


def half_field_short(cfg: CamerasConfig, resolution: tuple[int, int]) -> float:
    """Half field angle (rad) of the image's shorter side at the middle focal length."""
    w, h = resolution
    return float(np.arctan(cfg.sensor_width_mm * min(w, h) / w / 2.0 / float(np.mean(cfg.focal_length_mm))))


def framed(cfg: CamerasConfig, hull_points: np.ndarray, resolution: tuple[int, int]) -> CamerasConfig:
    """``cfg`` with the arc centred on the parts (the centre of ``hull_points``' bounding box, at
    the arc height) and its radius such that their bounding sphere spans ``framing.fill`` of the
    image's shorter side at the middle focal length. ``cfg`` itself when framing is off."""
    if cfg.framing is None or len(hull_points) == 0:
        return cfg
    lo, hi = hull_points.min(0), hull_points.max(0)
    centre = (lo + hi) / 2.0
    radius = float(np.linalg.norm(hi - lo)) / 2.0
    distance = radius / np.sin(cfg.framing.fill * half_field_short(cfg, resolution))
    ark = cfg.ark.model_copy(update={"radius": float(distance), "look_at": tuple(float(x) for x in centre),
                                     "height": float(centre[2])})
    return cfg.model_copy(update={"ark": ark})


def tile_grid(cfg: CamerasConfig, hull_points: np.ndarray, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Inspection tiling: (N, 3) camera positions and (N, 3) aim points of a grid of top-down
    cameras over the parts' footprint, each covering ``tiling.tile_m`` at the middle focal length."""
    t = cfg.tiling
    lo, hi = hull_points.min(0) - [t.margin_m, t.margin_m, 0], hull_points.max(0) + [t.margin_m, t.margin_m, 0]
    distance = t.tile_m / 2.0 / np.tan(half_field_short(cfg, resolution))
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


def closeup_grid(cfg: CamerasConfig, defects, resolution: tuple[int, int],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inspection close-ups: (N, 3) camera positions and (N, 3) aim points, one per defect drawn
    (without replacement) among those whose normal does not face down, each camera on a view
    tilted from the normal by ``closeups.tilt_deg`` at the distance where ``closeups.field_m``
    spans the image's shorter side at the middle focal length."""
    c = cfg.closeups
    up_facing = [d for d in defects if d.normal[2] > -0.2]
    n = min(c.count, len(up_facing))
    if n == 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    picks = sorted(rng.choice(len(up_facing), size=n, replace=False).tolist())
    distance = c.field_m / 2.0 / np.tan(half_field_short(cfg, resolution))
    eyes, aims = [], []
    for k in picks:
        d = up_facing[k]
        F = decal_frame(d.position, d.normal, 0.0)  # tangent, bitangent, normal of the defect
        tilt, turn = np.radians(rng.uniform(*c.tilt_deg)), rng.uniform(0.0, 2 * np.pi)
        view = np.cos(tilt) * F[:3, 2] + np.sin(tilt) * (np.cos(turn) * F[:3, 0] + np.sin(turn) * F[:3, 1])
        eye = np.asarray(d.position, float) + distance * view
        eye[2] = max(eye[2], 0.01)  # never below the belt
        eyes.append(eye)
        aims.append(np.asarray(d.position, float))
    return np.array(eyes), np.array(aims)
