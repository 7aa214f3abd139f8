"""Shape generators of missing or pushed-out material: craters (pits with a rim), holes (through
the wall or blind) and breaks (a chipped-out core with cracks and shards). Same contract as
:mod:`synthgen.textures.shapes`: ``gen(rng, res, shape) -> Fields``, drawing only from ``rng``.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from synthgen.textures.noise import fbm, grid, periodic_noise, smoothstep
from synthgen.textures.shapes import (
    SAFE_RADIUS,
    Fields,
    Stroke,
    _crack_fields,
    _crack_network,
    _elliptic_rho,
    _i,
    _u,
    _zeros,
)


def crater(rng: np.random.Generator, res: int, sh) -> Fields:
    """A bowl with a sharp raised rim, a scorched floor and rayed ejecta."""
    ej = _u(rng, sh.ejecta)
    radius = min(_u(rng, sh.radius) * res, SAFE_RADIUS * res / (ej * (1 + 2 * sh.irregularity)))
    centre = res / 2 + rng.normal(0.0, 0.02 * res, 2)
    rho, th = _elliptic_rho(rng, res, centre, radius, rng.uniform(1.0, 1.25), rng.uniform(0, np.pi))
    rho = rho / (1.0 + sh.irregularity * periodic_noise(rng, th, 2, 9, 1.3))
    rim_h = _u(rng, sh.rim)
    bowl = -np.clip(1.0 - rho ** 2, 0.0, 1.0)
    rim = rim_h * np.where(rho < 1.0, np.exp(-(((rho - 1.0) / 0.12) ** 2)),
                           np.exp(-(((rho - 1.0) / 0.3) ** 2)))
    floor = 0.06 * fbm(rng, res, 16, 3) * smoothstep(1.0, 0.5, rho)
    rays = smoothstep(-0.4, 1.0, periodic_noise(rng, th, 3, max(4, _i(rng, sh.rays)), 0.6))
    speck = smoothstep(-0.7, 0.5, fbm(rng, res, 24, 3))
    reach = smoothstep(ej, 1.0, rho)
    ejecta = np.clip(rays * reach * speck, 0, 1) * (rho > 0.95)
    height = cv2.GaussianBlur((bowl + rim + floor + 0.08 * ejecta).astype(np.float32), (0, 0), 0.7)
    height /= max(1e-6, -height.min())
    interior = smoothstep(1.1, 0.7, rho) * np.clip(0.7 + 0.3 * fbm(rng, res, 12, 3), 0, 1)
    enc = np.maximum(interior, ejecta * 0.95)
    occ = smoothstep(1.4, 1.1, rho)
    rough = np.clip(0.6 * fbm(rng, res, 20, 3), -1, 1)
    return Fields(height.astype(np.float32), occ, enc.astype(np.float32), _zeros(res), rough)


# --------------------------------------------------------------------------- hole


def hole(rng: np.random.Generator, res: int, sh) -> Fields:
    """A through hole with a jagged, torn rim and a raised burr ring around it."""
    reach = (1.0 + 2 * sh.irregularity + 2 * sh.jaggedness) + 2.2 * sh.lip_width
    radius = min(_u(rng, sh.radius) * res, SAFE_RADIUS * res / reach)
    centre = res / 2 + rng.normal(0.0, 0.02 * res, 2)
    rho, th = _elliptic_rho(rng, res, centre, radius, rng.uniform(1.0, 1.3), rng.uniform(0, np.pi))
    rho_s = rho / (1.0 + sh.irregularity * periodic_noise(rng, th, 2, 7, 1.4))
    rho = rho_s / (1.0 + sh.jaggedness * periodic_noise(rng, th, 8, 64, 0.5))
    sd = (1.0 - rho) * radius + 0.6 * sh.jaggedness / 0.06 * fbm(rng, res, max(8, res // 6), 2)
    hole_m = np.clip(sd + 0.5, 0.0, 1.0)
    lw = sh.lip_width
    ring = np.exp(-(((np.maximum(rho_s, 1.0) - 1.0) / lw) ** 2))
    lip = _u(rng, sh.lip) * ring * np.clip(0.7 + 0.3 * fbm(rng, res, 10, 3), 0, 1.3)
    dish = -0.3 * smoothstep(1.0 + 2.5 * lw, 1.0, rho_s)  # material pushed in around the hole
    height = cv2.GaussianBlur((lip + dish).astype(np.float32), (0, 0), 0.8)
    occ = np.maximum(smoothstep(1.0 + 1.6 * lw, 1.0 + 0.8 * lw, rho_s), hole_m)
    enc = smoothstep(1.0 + 1.2 * lw, 1.0, rho_s) * np.clip(0.6 + 0.4 * fbm(rng, res, 16, 3), 0, 1)
    rough = np.clip(0.6 * fbm(rng, res, 16, 3), -1, 1)
    return Fields(height, occ.astype(np.float32), enc.astype(np.float32), hole_m.astype(np.float32), rough)


# --------------------------------------------------------------------------- break


def _shard(rng, centre, size, n_min=3, n_max=6) -> np.ndarray:
    """An angular polygon (chipped-out shard) around ``centre``."""
    n = int(rng.integers(n_min, n_max + 1))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = size * rng.uniform(0.45, 1.0, n)
    return np.stack([centre[0] + r * np.cos(ang), centre[1] + r * np.sin(ang)], axis=1)


def _fill_polys(res: int, polys: list[np.ndarray]) -> np.ndarray:
    """Anti-aliased filled polygons (pixel-centre convention), float32 0..1."""
    img = np.zeros((res, res), np.uint8)
    sh = 4
    pts = [np.round((p - 0.5) * (1 << sh)).astype(np.int32) for p in polys]
    if pts:
        cv2.fillPoly(img, pts, 255, lineType=cv2.LINE_AA, shift=sh)
    return img.astype(np.float32) / 255.0


def break_(rng: np.random.Generator, res: int, sh) -> Fields:
    """Impact break: radial crack network with branches, a chipped-out core and shards missing
    along the cracks, a depression around the impact and dust/debris."""
    centre = res / 2 + rng.normal(0.0, 0.03 * res, 2)
    margin = (1 - 2 * SAFE_RADIUS) / 2 * res
    rd = min(_u(rng, sh.dent_radius) * res, SAFE_RADIUS * res / 1.3)
    rc = _u(rng, sh.core_radius) * res
    n = _i(rng, sh.cracks)
    theta = rng.uniform(0, 2 * np.pi)
    heads = [theta + 2 * np.pi * k / max(n, 1) + rng.normal(0, 0.35) for k in range(n)]
    w0 = _u(rng, sh.crack_width) * res
    strokes: list[Stroke] = []
    for h in heads:
        length = rng.uniform(0.7, 1.35) * rd
        strokes += _crack_network(rng, res, centre, [h], length, w0, sh.branch_prob, (25.0, 55.0), 2, 12.0,
                                  margin, res - margin)
    groove, cocc, chole, dist, _hw = _crack_fields(res, strokes, w0, 0.55)
    polys = [_shard(rng, centre, rc, 7, 12)]
    main = [s for s in strokes if len(s.pts) > 4]
    for _ in range(_i(rng, sh.chips)):
        if not main:
            break
        s = main[int(rng.integers(len(main)))]
        k = int(rng.integers(len(s.pts) // 6, max(len(s.pts) // 6 + 1, len(s.pts) * 2 // 3)))
        polys.append(_shard(rng, s.pts[k], _u(rng, sh.chip_size) * res * 0.5))
    hole_m = np.maximum(_fill_polys(res, polys), chole)
    gx, gy = grid(res)
    rho = np.hypot(gx - centre[0], gy - centre[1]) / rd
    th = np.arctan2(gy - centre[1], gx - centre[0])
    rho = rho / (1.0 + 0.15 * periodic_noise(rng, th, 2, 7, 1.3))
    dish = -0.55 * np.clip(1.0 - rho ** 2, 0, 1) ** 2
    dh = ndimage.distance_transform_edt(hole_m < 0.5).astype(np.float32)
    chipped_edge = 0.25 * np.exp(-((dh / (0.015 * res + 1)) ** 2)) * (hole_m < 0.5)
    height = dish + groove + chipped_edge + 0.05 * fbm(rng, res, 16, 3) * smoothstep(1.2, 0.3, rho)
    height = cv2.GaussianBlur(height.astype(np.float32), (0, 0), 0.6)
    height /= max(1e-6, np.abs(height).max())
    near = np.minimum(dh, dist)
    dust = (smoothstep(0.045 * res, 0.0, near) * smoothstep(-0.5, 0.9, fbm(rng, res, 20, 3))
            * smoothstep(1.2, 0.8, rho))
    dust = np.maximum(dust, 0.7 * smoothstep(0.02 * res, 0.0, dh))
    enc = (dust * (hole_m < 0.5)).astype(np.float32)
    occ = np.maximum(smoothstep(0.9, 0.65, rho), np.maximum(cocc, smoothstep(0.03 * res, 0.0, dh)))
    rough = np.clip(0.6 * fbm(rng, res, 16, 3), -1, 1)
    return Fields(height, occ.astype(np.float32), enc, hole_m.astype(np.float32), rough)
