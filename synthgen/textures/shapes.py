"""Shape generators: one function per generator name, returning raw fields for one variant.

Every generator has the signature ``gen(rng, res, shape) -> Fields`` and draws only from ``rng``.
Fields are in normalised units: ``height`` roughly -1..1 (0 = undisturbed surface, negative =
depression), ``occlusion``/``encrustation``/``hole`` 0..1, ``rough`` -1..1 (roughness variation
inside the deformed zone). :mod:`synthgen.textures.generate` keeps the types a recipe uses,
applies the border window and derives normals, roughness and the label mask.
Lengths in the shape models are map units (fractions of the map side): ``* res`` gives pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from synthgen.textures.noise import fbm, grid, noise1d, periodic_noise, smoothstep

# Content is kept inside this fraction of the map side from the centre (the border window
# fades the rest; the label mask is always empty on the outer margin).
SAFE_RADIUS = 0.42


@dataclass
class Fields:
    height: np.ndarray
    occlusion: np.ndarray
    encrustation: np.ndarray
    hole: np.ndarray
    rough: np.ndarray


def _zeros(res: int) -> np.ndarray:
    return np.zeros((res, res), np.float32)


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _i(rng: np.random.Generator, r: tuple[int, int]) -> int:
    return int(rng.integers(r[0], r[1] + 1))


# --------------------------------------------------------------------------- strokes


@dataclass
class Stroke:
    """A centre line (N, 2) in pixels (x right, y down) with a width (px) and depth per point."""

    pts: np.ndarray
    width: np.ndarray
    depth: np.ndarray


def stroke_field(res: int, strokes: list[Stroke]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the nearest stroke point and that point's half-width and depth, per pixel.

    The centre lines are resampled every 0.35 px and rasterised as seeds; an exact Euclidean
    distance transform gives each pixel its nearest seed, whose stored sub-pixel position gives a
    sub-pixel distance. Returns ``(dist_px, half_width_px, depth)``; dist is inf with no strokes.
    """
    seed = np.zeros((res, res), bool)
    hw = _zeros(res)
    dep = _zeros(res)
    px = _zeros(res)
    py = _zeros(res)
    xs_all, ys_all, w_all, d_all = [], [], [], []
    for s in strokes:
        p = np.asarray(s.pts, np.float64)
        if len(p) < 2:
            continue
        seg = np.hypot(*np.diff(p, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        n = max(2, int(cum[-1] / 0.35) + 2)
        t = np.linspace(0.0, cum[-1], n)
        w = np.interp(t, cum, s.width)
        keep = w > 1e-3
        xs_all.append(np.interp(t, cum, p[:, 0])[keep])
        ys_all.append(np.interp(t, cum, p[:, 1])[keep])
        w_all.append(w[keep])
        d_all.append(np.interp(t, cum, s.depth)[keep])
    if not xs_all or sum(len(x) for x in xs_all) == 0:
        return np.full((res, res), np.inf, np.float32), hw, dep
    x = np.concatenate(xs_all)
    y = np.concatenate(ys_all)
    w = np.concatenate(w_all)
    d = np.concatenate(d_all)
    inside = (x >= 0) & (x < res) & (y >= 0) & (y < res)
    x, y, w, d = x[inside], y[inside], w[inside], d[inside]
    order = np.argsort(w, kind="stable")  # widest written last where strokes share a pixel
    ix = np.floor(x[order]).astype(int)
    iy = np.floor(y[order]).astype(int)
    seed[iy, ix] = True
    hw[iy, ix] = 0.5 * w[order]
    dep[iy, ix] = d[order]
    px[iy, ix] = x[order]
    py[iy, ix] = y[order]
    _, (ny, nx) = ndimage.distance_transform_edt(~seed, return_indices=True)
    gx, gy = grid(res)
    dist = np.hypot(gx - px[ny, nx], gy - py[ny, nx]).astype(np.float32)
    return dist, hw[ny, nx], dep[ny, nx]


def _curve(start: np.ndarray, headings: np.ndarray, step: float) -> np.ndarray:
    """Polyline from ``start`` following per-step headings (radians, y down)."""
    steps = np.stack([np.cos(headings), np.sin(headings)], axis=1) * step
    return np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)], axis=0)


# --------------------------------------------------------------------------- scratch


def scratch(rng: np.random.Generator, res: int, sh) -> Fields:
    """Several roughly parallel, gently curved strokes of varying width and depth (V grooves
    with raised burrs), sometimes interrupted (tool chatter)."""
    n = _i(rng, sh.strokes)
    theta0 = rng.uniform(0.0, np.pi)
    bend = np.radians(_u(rng, sh.bend_deg)) * rng.choice([-1.0, 1.0])
    centre = res / 2 + rng.normal(0.0, 0.04 * res, 2)
    gaps = [_u(rng, sh.spacing) * res for _ in range(n - 1)]
    offsets = np.concatenate([[0.0], np.cumsum(gaps)]) if n > 1 else np.zeros(1)
    offsets -= offsets.mean()
    normal = np.array([-np.sin(theta0), np.cos(theta0)])
    strokes = []
    for i in range(n):
        length = _u(rng, sh.length) * res * 2 * SAFE_RADIUS
        m = max(8, int(length / 1.5))
        t = np.linspace(0.0, 1.0, m)
        heading = (theta0 + np.radians(rng.normal(0.0, sh.angle_jitter_deg)) + bend * (t - 0.5)
                   + np.radians(2.5) * noise1d(rng, m, 6))
        pts = _curve(np.zeros(2), heading[:-1], length / (m - 1))
        pts -= pts[len(pts) // 2]
        shift = rng.uniform(-0.12, 0.12) * res
        pts += centre + normal * offsets[i] + np.array([np.cos(theta0), np.sin(theta0)]) * shift
        env = np.sin(np.pi * np.clip(t, 0, 1)) ** 0.4
        w_max = _u(rng, sh.width) * res
        width = np.maximum(w_max * env * (0.8 + 0.2 * noise1d(rng, m, 5)), 0.0)
        depth = rng.uniform(0.35, 1.0) * env ** 0.6 * np.clip(0.75 + 0.25 * noise1d(rng, m, 7), 0.2, 1.2)
        if rng.random() < sh.skip_prob:
            width[noise1d(rng, m, 10) < -0.7] = 0.0
        strokes.append(Stroke(pts, width, depth))
    dist, hw, dep = stroke_field(res, strokes)
    hw = np.maximum(hw, 0.6)
    r = dist / hw
    groove = -dep * np.clip(1.0 - r, 0.0, 1.0) ** 0.8
    lips = sh.burr * dep * np.exp(-(((r - 1.5) / 0.45) ** 2)) * (r < 3.0)
    height = cv2.GaussianBlur(groove + lips, (0, 0), 0.6)
    occ = smoothstep(2.2, 1.2, r) * (dep > 0.05)
    rough = np.clip(fbm(rng, res, 16, 3) * 0.5, -1, 1)
    enc = smoothstep(1.2, 0.5, r) * (dep > 0.05)  # exposed bare metal / debris along the groove
    return Fields(height.astype(np.float32), occ.astype(np.float32), enc.astype(np.float32), _zeros(res), rough)


# --------------------------------------------------------------------------- dent


def _elliptic_rho(rng, res, centre, radius, aspect, angle):
    gx, gy = grid(res)
    dx, dy = gx - centre[0], gy - centre[1]
    ca, sa = np.cos(angle), np.sin(angle)
    u = (ca * dx + sa * dy) / (radius * np.sqrt(aspect))
    v = (-sa * dx + ca * dy) * np.sqrt(aspect) / radius
    return np.hypot(u, v).astype(np.float32), np.arctan2(v, u).astype(np.float32)


def dent(rng: np.random.Generator, res: int, sh) -> Fields:
    """A smooth depression (irregular elliptic outline) with a slightly raised rim."""
    aspect = _u(rng, sh.aspect)
    reach = np.sqrt(aspect) * 1.45 * (1.0 + 2.0 * sh.irregularity)
    radius = min(_u(rng, sh.radius) * res, SAFE_RADIUS * res / reach)
    centre = res / 2 + rng.normal(0.0, 0.02 * res, 2)
    rho, th = _elliptic_rho(rng, res, centre, radius, aspect, rng.uniform(0, np.pi))
    rho = rho / (1.0 + sh.irregularity * periodic_noise(rng, th, 2, 7, 1.5))
    p = _u(rng, sh.sharpness)
    bowl = -np.clip(1.0 - rho ** (2.0 * p), 0.0, 1.0) ** 2
    rim = _u(rng, sh.rim) * np.exp(-(((rho - 1.08) / 0.2) ** 2))
    scuff = 0.015 * fbm(rng, res, 12, 3) * smoothstep(1.1, 0.6, rho)
    height = (bowl + rim + scuff) * rng.uniform(0.6, 1.0)
    occ = smoothstep(1.4, 1.05, rho)
    rough = np.clip(0.6 * fbm(rng, res, 8, 3), -1, 1)
    enc = smoothstep(0.8, 0.2, rho) * np.clip(0.5 + 0.5 * fbm(rng, res, 10, 3), 0, 1)
    return Fields(height.astype(np.float32), occ, enc.astype(np.float32), _zeros(res), rough)


# --------------------------------------------------------------------------- crack


def _crack_network(rng, res, origin, headings, length, w0, branch_prob, branch_angle, max_gen, wiggle_deg,
                   lo, hi) -> list[Stroke]:
    """Jagged random walks from ``origin`` (one per heading) with tapering width and branches."""
    step = res / 128.0
    wig = np.radians(wiggle_deg)
    stack = [(np.asarray(origin, float), float(h), float(length), float(w0), 0) for h in headings]
    out: list[Stroke] = []
    while stack:
        pos, h0, L, w_start, gen = stack.pop()
        n = max(2, int(L / step))
        pts = [pos.copy()]
        h = h0
        drift = h0
        for k in range(1, n + 1):
            drift += rng.normal(0.0, wig * 0.25)
            h = h + rng.normal(0.0, wig) + 0.3 * (drift - h)
            nxt = pts[-1] + step * np.array([np.cos(h), np.sin(h)])
            if not (lo <= nxt[0] <= hi and lo <= nxt[1] <= hi):
                break
            pts.append(nxt)
            frac = k / n
            if gen < max_gen and frac < 0.8 and rng.random() < branch_prob:
                ang = np.radians(rng.uniform(*branch_angle)) * rng.choice([-1.0, 1.0])
                stack.append((nxt.copy(), h + ang, (L - k * step) * rng.uniform(0.35, 0.8),
                              w_start * (1 - frac) ** 0.7 * 0.75, gen + 1))
        p = np.array(pts)
        t = np.linspace(0.0, 1.0, len(p))
        width = w_start * (1.0 - t) ** 0.7 * (0.85 + 0.15 * noise1d(rng, len(p), 6))
        out.append(Stroke(p, np.maximum(width, 0.0), np.clip(width / max(w0, 1e-6), 0, 1) ** 0.5))
    return out


def _crack_fields(res, strokes, w0, through):
    dist, hw, dep = stroke_field(res, strokes)
    hwc = np.maximum(hw, 0.5)
    r = dist / hwc
    groove = -np.maximum(dep, 0.25) * np.clip(1.0 - r, 0.0, 1.0) ** 0.7 * (hw > 0.05)
    occ = smoothstep(3.0, 1.5, r) * (hw > 0.05)
    hole = (np.clip(hwc - dist + 0.5, 0.0, 1.0) * (2 * hw > through * w0)).astype(np.float32)
    return groove.astype(np.float32), occ.astype(np.float32), hole, dist, hw


def crack(rng: np.random.Generator, res: int, sh) -> Fields:
    """A branching crack: jagged arms from an origin, width tapering to the tips."""
    arms = _i(rng, sh.arms)
    theta = rng.uniform(*np.radians(sh.heading_deg))
    heads = [theta + 2 * np.pi * a / arms + rng.normal(0, 0.25) for a in range(arms)]
    if arms == 2:
        heads = [theta, theta + np.pi + rng.normal(0, 0.3)]
    origin = res / 2 + rng.normal(0.0, 0.04 * res, 2)
    w0 = _u(rng, sh.width) * res
    margin = (1 - 2 * SAFE_RADIUS) / 2 * res
    strokes = _crack_network(rng, res, origin, heads, _u(rng, sh.length) * res, w0, sh.branch_prob,
                             sh.branch_angle_deg, sh.max_generations, sh.wiggle_deg, margin, res - margin)
    groove, occ, hole, dist, hw = _crack_fields(res, strokes, w0, sh.through_width)
    height = cv2.GaussianBlur(groove, (0, 0), 0.5)
    enc = smoothstep(4.0, 0.5, dist) * np.clip(0.6 + 0.4 * fbm(rng, res, 24, 2), 0, 1) * (hw > 0.05)
    rough = np.clip(0.5 * fbm(rng, res, 16, 2), -1, 1)
    return Fields(height, occ, enc.astype(np.float32), hole, rough)


# --------------------------------------------------------------------------- burn / mark


def _blob_field(rng, res, sh, centre, radius):
    aspect = _u(rng, sh.aspect)
    rho, _th = _elliptic_rho(rng, res, centre, radius, aspect, rng.uniform(0, np.pi))
    n = fbm(rng, res, 3, 6, 0.6)
    return 1.0 - rho + sh.roughness * 0.35 * n, rho


def blob(rng: np.random.Generator, res: int, sh, kind: str) -> Fields:
    """Irregular soft blob from thresholded fractal noise; burn = dark core with a discoloured
    halo and speckle; mark = flatter stain with a darker dried edge and satellite spots."""
    reach = np.sqrt(sh.aspect[1]) * (1.0 + sh.roughness * 0.6 + sh.softness)
    radius = min(_u(rng, sh.radius) * res, SAFE_RADIUS * res / reach)
    centre = res / 2 + rng.normal(0.0, 0.03 * res, 2)
    f, _rho = _blob_field(rng, res, sh, centre, radius)
    for _ in range(_i(rng, sh.satellites)):
        a = rng.uniform(0, 2 * np.pi)
        dist = radius * rng.uniform(1.0, 1.5)
        c = centre + dist * np.array([np.cos(a), np.sin(a)])
        rs = radius * rng.uniform(0.06, 0.2)
        gx, gy = grid(res)
        fs = 1.0 - np.hypot(gx - c[0], gy - c[1]) / rs + 0.15 * fbm(rng, res, 8, 3)
        f = np.maximum(f, fs * (rs / radius))  # same edge slope in map units
    s = sh.softness
    core = smoothstep(-s, s, f)
    halo = sh.halo * smoothstep(-s - 0.45, s, f) * np.clip(0.55 + 0.35 * fbm(rng, res, 6, 4), 0, 1)
    fine = fbm(rng, res, 32, 3)
    if kind == "burn":  # charred core darkest in the middle, heat-tinted halo
        inner = smoothstep(-0.05, 0.45, f)
        enc = (0.6 * core + 0.4 * inner) * np.clip(0.94 + 0.06 * fine, 0, 1)
        enc = np.maximum(cv2.GaussianBlur(enc.astype(np.float32), (0, 0), res / 120.0), halo * 0.5)
    else:
        edge = np.exp(-((f / (3 * s + 0.02)) ** 2))
        enc = core * ((1 - sh.ring) * np.clip(0.8 + 0.1 * fine, 0, 1) + sh.ring * edge)
        enc = np.maximum(enc, core * 0.55)
        enc = np.maximum(enc, halo * 0.4)
    enc = np.clip(enc, 0, 1).astype(np.float32)
    if kind == "burn":  # blistered, slightly raised scale
        height = 0.5 * core * np.clip(fine, -1, 1) + 0.2 * core
    else:  # a thin deposit
        height = 0.6 * core + 0.1 * core * fine
    height = cv2.GaussianBlur(height.astype(np.float32), (0, 0), 1.0)
    rough = np.clip(fine * 0.6, -1, 1)
    return Fields(height, core.astype(np.float32), enc, _zeros(res), rough)


def burn(rng, res, sh) -> Fields:
    return blob(rng, res, sh, "burn")


def mark(rng, res, sh) -> Fields:
    return blob(rng, res, sh, "mark")


# --------------------------------------------------------------------------- crater
