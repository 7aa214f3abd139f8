"""Seeded noise and small field helpers (numpy + OpenCV). Randomness only from the given Generator."""

from __future__ import annotations

import cv2
import numpy as np


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``e0`` to 1 at ``e1`` (either order)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def value_noise(rng: np.random.Generator, res: int, cells: int) -> np.ndarray:
    """Smooth noise: a ``cells`` x ``cells`` grid of normal draws, bicubically upsampled to res x res."""
    cells = int(max(2, min(cells, res)))
    g = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(g, (res, res), interpolation=cv2.INTER_CUBIC)


def fbm(rng: np.random.Generator, res: int, base_cells: int = 4, octaves: int = 5,
        persistence: float = 0.55) -> np.ndarray:
    """Fractal (fBm) noise with zero mean and unit standard deviation, float32 (res, res)."""
    out = np.zeros((res, res), np.float32)
    amp = 1.0
    for o in range(octaves):
        cells = base_cells * (2 ** o)
        if cells > res:
            break
        out += amp * value_noise(rng, res, cells)
        amp *= persistence
    out -= out.mean()
    s = out.std()
    return out / s if s > 0 else out


def periodic_noise(rng: np.random.Generator, theta: np.ndarray, k_min: int = 2, k_max: int = 24,
                   falloff: float = 1.2) -> np.ndarray:
    """Smooth 2π-periodic noise of the angle ``theta`` (random Fourier series, amplitude ∝ k^-falloff),
    normalised to unit standard deviation over a full turn."""
    ks = np.arange(k_min, k_max + 1, dtype=np.float64)
    amp = ks ** (-falloff)
    amp /= np.sqrt(0.5 * (amp ** 2).sum())
    ph = rng.uniform(0.0, 2 * np.pi, len(ks))
    out = np.zeros_like(theta, dtype=np.float64)
    for k, a, p in zip(ks, amp, ph):
        out += a * np.cos(k * theta + p)
    return out.astype(np.float32)


def noise1d(rng: np.random.Generator, n: int, knots: int) -> np.ndarray:
    """Smooth 1-D noise of ``n`` samples through ``knots`` normal draws (unit-ish std)."""
    knots = max(2, knots)
    k = rng.standard_normal(knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), k).astype(np.float32)


def grid(res: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x right, y down), float32 (res, res) each."""
    c = np.arange(res, dtype=np.float32) + 0.5
    return np.meshgrid(c, c)


def border_window(res: int, margin: int) -> np.ndarray:
    """1 inside, smoothly 0 on the outer ``margin`` pixels (exactly 0 on the first ``margin`` rows/cols)."""
    d = np.minimum(np.arange(res), np.arange(res)[::-1]).astype(np.float32)
    w = smoothstep(float(margin), float(2 * margin), d)
    return np.minimum.outer(w, w).astype(np.float32)


def warp(field: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Sample ``field`` at (x + dx, y + dy) (pixels), bilinear, zero outside."""
    res_y, res_x = field.shape
    xs, ys = np.meshgrid(np.arange(res_x, dtype=np.float32), np.arange(res_y, dtype=np.float32))
    return cv2.remap(field.astype(np.float32), xs + dx.astype(np.float32), ys + dy.astype(np.float32),
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
