"""The ``band`` generator: a strip across the whole map with ragged long edges, for a region of
different surface finish (an uneven grinding band at the end of a ground part).

The strip runs along the map's x axis. Its encrustation is streaked across the strip (the
grinding direction of a band at a part's end), so a ``tint`` material shows the band as a
brighter, streakier region of the surface's own texture. Where the map is wider than the part,
the strip spans the part.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from synthgen.textures.noise import fbm, grid, noise1d, smoothstep
from synthgen.textures.shapes import Fields, _u

STREAK_DEPTH = 0.45  # the largest share of the encrustation a streak removes (streaks: 1)


def band(rng: np.random.Generator, res: int, sh) -> Fields:
    _gx, gy = grid(res)
    half = 0.5 * _u(rng, sh.width) * res
    centre = res / 2 + _u(rng, sh.offset) * res
    knots = max(3, int(res * sh.edge_scale))

    def edge():  # smooth wobble: the knots' straight segments rounded off
        return gaussian_filter1d(noise1d(rng, res, knots), res / knots / 2.0, mode="nearest")[None, :]

    top = centre - half + sh.raggedness * res * edge()
    bottom = centre + half + sh.raggedness * res * edge()
    s = max(0.5, sh.softness * res)
    inside = smoothstep(-s, s, gy - top) * smoothstep(-s, s, bottom - gy)
    streaks = noise1d(rng, res, max(4, res // 3))[None, :]  # one value per column: streaks across the strip
    # Streaks take at most 45 % off the encrustation, so it stays above the mask's 0.5 everywhere
    # inside: the label is the whole band, in one piece, however streaky it looks.
    enc = inside * (1.0 - STREAK_DEPTH * sh.streaks * 0.5 * (1.0 - np.tanh(streaks)))
    fine = fbm(rng, res, 24, 3)
    height = 0.3 * inside * fine
    rough = np.clip(0.5 * fine, -1, 1)
    zeros = np.zeros((res, res), np.float32)
    return Fields(height.astype(np.float32), inside.astype(np.float32), enc.astype(np.float32), zeros, rough)
