"""The camera model of each camera of a scene (``render.sensor``), drawn from its own stream."""

from __future__ import annotations

import numpy as np

from synthgen.config.sensor import SensorConfig
from synthgen.plan.types import CameraPlan, SensorPlan


def plan_sensors(cfg: SensorConfig, cameras: tuple[CameraPlan, ...], seed: int,
                 rng: np.random.Generator, blur_rng: np.random.Generator) -> tuple[SensorPlan, ...]:
    """One SensorPlan per camera; every camera consumes the same draws whatever is enabled, so
    turning one effect on never changes another's values (the blur draws from its own stream,
    ``blur_rng``, so plans made before it existed keep theirs)."""
    if not cfg.any():
        return ()
    out = []
    for cam in cameras:
        fw = float(rng.uniform(*cfg.noise.full_well_e))
        rn = float(rng.uniform(*cfg.noise.read_noise_e))
        vig = float(rng.uniform(*cfg.vignetting.strength))
        d = cfg.distortion
        k1, k2, k3, p1, p2 = (float(rng.uniform(*r)) for r in (d.k1, d.k2, d.k3, d.p1, d.p2))
        noise_seed = int(rng.integers(0, 2**31 - 1))
        blur = float(blur_rng.uniform(*cfg.blur.sigma_px))
        out.append(SensorPlan(
            camera_id=cam.camera_id, noise_seed=noise_seed, pattern_seed=(seed * 7919 + cam.camera_id) % (2**31 - 1),
            full_well_e=fw if cfg.noise.enabled else None, read_noise_e=rn if cfg.noise.enabled else None,
            fixed_pattern=cfg.noise.fixed_pattern if cfg.noise.enabled else 0.0,
            vignetting=vig if cfg.vignetting.enabled else None,
            distortion=(k1, k2, p1, p2, k3) if d.enabled else None,
            blur_sigma_px=blur if cfg.blur.enabled else None))
    return tuple(out)
