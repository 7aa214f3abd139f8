"""Seeded random streams: one independent numpy Generator per (seed, scene, stage name).

Each stage of the plan draws from its own stream keyed by name, so adding or changing one
stage never shifts the draws of the others.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> list[int]:
    """Stable 128-bit integer words from a stage name (hash, not Python's salted hash())."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()[:16]
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def stream(seed: int, *keys: int | str) -> np.random.Generator:
    """Return a Generator for ``seed`` and a path of keys (ints or stage names).

    ``stream(7, 3, "cameras")`` is the camera stream of scene 3 for seed 7. Same inputs, same
    draws, on every machine.
    """
    entropy: list[int] = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    for k in keys:
        if isinstance(k, str):
            entropy.extend(_name_key(k))
        else:
            entropy.extend([int(k) & 0xFFFFFFFF, (int(k) >> 32) & 0xFFFFFFFF, 0x5EED])
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
