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
