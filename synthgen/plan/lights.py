"""Lights: pose jitter, power, blackbody colour temperature, optional IES profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthgen.config.job import LightConfig
from synthgen.plan.frames import as_tuple, jitter_direction, look_at_matrix
from synthgen.plan.types import LightPlan


def ies_peak_candela(path: str) -> float:
    """Peak candela of an IES LM-63 file (after its multiplier), used to normalise the profile
    so the light's configured power, not the file's absolute candela, sets its brightness."""
    from synthgen.errors import SynthgenError

    try:
        text = Path(path).read_text(encoding="latin-1")
        body = text.split("TILT=", 1)[1].split("\n", 1)[1]
        if text.split("TILT=", 1)[1].startswith("INCLUDE"):
            body = body.split("\n", 4)[4]  # skip the inline tilt block
        nums = [float(x) for x in body.replace(",", " ").split()]
        multiplier, n_vert, n_horiz = nums[2], int(nums[3]), int(nums[4])
        candela = nums[13 + n_vert + n_horiz: 13 + n_vert + n_horiz + n_vert * n_horiz]
        peak = max(candela) * multiplier
    except (OSError, IndexError, ValueError) as exc:
        raise SynthgenError(f"{path}: not a readable IES LM-63 file ({type(exc).__name__})") from None
    if peak <= 0:
        raise SynthgenError(f"{path}: IES profile has no positive candela value")
    return float(peak)


def plan_lights(lights: list[LightConfig], rng: np.random.Generator) -> tuple[LightPlan, ...]:
    """One LightPlan per configured light that is present (``probability``) in this scene.

    Every light consumes the same number of draws whether present or not, so toggling one
    light's probability never shifts the others' parameters."""
    out = []
    for i, lc in enumerate(lights):
        present = rng.uniform() < lc.probability
        pos = np.array(lc.position, float) + rng.uniform(-lc.position_jitter, lc.position_jitter, 3)
        target = np.array(lc.target, float)
        if np.linalg.norm(target - pos) < 1e-6:
            target = pos - np.array([0, 0, 1.0])
        d = jitter_direction(target - pos, lc.aim_jitter_deg, rng)
        M = look_at_matrix(pos, pos + d)
        power = float(rng.uniform(*lc.power))
        temperature = float(rng.uniform(*lc.temperature))
        size = float(rng.uniform(*lc.size))
        spot = float(rng.uniform(*lc.spot_size_deg))
        if present:
            out.append(LightPlan(light_id=i, type=lc.type, matrix_world=as_tuple(M), power=power,
                                 temperature=temperature, size=size, spot_size_deg=spot, ies=lc.ies,
                                 ies_scale=1.0 / ies_peak_candela(lc.ies) if lc.ies else 1.0))
    return tuple(out)
