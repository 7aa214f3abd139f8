"""Camera arc ("ark") over the belt with per-camera pose jitter and focus blur."""

from __future__ import annotations

import numpy as np

from synthgen.config.job import CamerasConfig
from synthgen.plan.frames import as_tuple, jitter_direction, look_at_matrix
from synthgen.plan.types import CameraPlan


def ark_positions(cfg: CamerasConfig) -> np.ndarray:
    """(N, 3) nominal camera positions: evenly spaced on an arc of ``arc_deg`` centred on the
    vertical, radius ``radius`` around (look_at.x, look_at.y, height), in the plane at
    ``yaw_deg`` about vertical."""
    a = cfg.ark
    n = a.count
    thetas = np.zeros(1) if n == 1 else np.radians(np.linspace(-a.arc_deg / 2, a.arc_deg / 2, n))
    h = np.array([np.cos(np.radians(a.yaw_deg)), np.sin(np.radians(a.yaw_deg)), 0.0])
    centre = np.array([a.look_at[0], a.look_at[1], a.height])
    return centre + a.radius * (np.sin(thetas)[:, None] * h + np.cos(thetas)[:, None] * np.array([0, 0, 1.0]))


def plan_cameras(cfg: CamerasConfig, rng: np.random.Generator,
                 grid: tuple[np.ndarray, np.ndarray] | None = None, first_id: int = 0,
                 top_down: bool = True) -> tuple[CameraPlan, ...]:
    """Jittered cameras aimed near the look-at point (or, with ``grid`` = (positions, aim points),
    each at its own point), focused at the working distance ± jitter; ids from ``first_id``.
    ``top_down`` grids (tiles) turn a vertical ``image_up`` into the belt's y axis."""
    positions = ark_positions(cfg) if grid is None else grid[0]
    up = cfg.image_up
    if grid is not None and top_down and abs(np.asarray(up, float)[2]) > 0.999 * np.linalg.norm(up):
        up = (0.0, 1.0, 0.0)  # top-down tiles: the belt's y axis runs up the image
    out = []
    for i, nominal in enumerate(positions):
        target = np.array(cfg.ark.look_at, float) if grid is None else grid[1][i]
        eye = nominal + rng.uniform(-cfg.position_jitter, cfg.position_jitter, 3)
        eye[2] = max(eye[2], 0.01)  # never below the belt
        d = jitter_direction(target - eye, cfg.aim_jitter_deg, rng)
        roll = float(rng.uniform(-cfg.roll_jitter_deg, cfg.roll_jitter_deg))
        M = look_at_matrix(eye, eye + d, roll, up=up)
        working = float(np.linalg.norm(target - eye))
        focus = max(0.01, working + float(rng.uniform(-cfg.focus.distance_jitter, cfg.focus.distance_jitter)))
        out.append(CameraPlan(
            camera_id=first_id + i,
            matrix_world=as_tuple(M),
            focal_length_mm=float(rng.uniform(*cfg.focal_length_mm)),
            sensor_width_mm=cfg.sensor_width_mm,
            use_dof=cfg.focus.enabled,
            focus_distance=focus,
            fstop=float(rng.uniform(*cfg.focus.fstop)),
            look_at=tuple(float(x) for x in target),
        ))
    return tuple(out)
