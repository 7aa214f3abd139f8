"""Small pure rotation helpers (numpy) shared by the camera and light planners."""

from __future__ import annotations

import numpy as np


def look_at_matrix(eye, target, roll_deg: float = 0.0, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 world matrix of an object at ``eye`` whose local -Z points at ``target`` (Blender
    camera/light convention), local +Y as close to ``up`` as possible, then rolled about the
    view axis by ``roll_deg``."""
    eye = np.asarray(eye, float)
    fwd = np.asarray(target, float) - eye
    fwd /= np.linalg.norm(fwd)
    up = np.asarray(up, float)
    if abs(np.dot(fwd, up)) > 0.999:  # looking straight down/up: pick another reference
        up = np.array([0.0, 1.0, 0.0]) if abs(fwd[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    r = np.radians(roll_deg)
    right, true_up = (np.cos(r) * right + np.sin(r) * true_up, -np.sin(r) * right + np.cos(r) * true_up)
    M = np.eye(4)
    M[:3, 0], M[:3, 1], M[:3, 2], M[:3, 3] = right, true_up, -fwd, eye
    return M


def jitter_direction(direction, max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate a unit vector by a random angle in [0, max_deg] about a random perpendicular axis."""
    d = np.asarray(direction, float)
    d = d / np.linalg.norm(d)
    angle = np.radians(rng.uniform(0.0, max_deg)) if max_deg > 0 else 0.0
    phi = rng.uniform(0.0, 2 * np.pi)
    helper = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    a = np.cross(d, helper)
    a /= np.linalg.norm(a)
    b = np.cross(d, a)
    axis = np.cos(phi) * a + np.sin(phi) * b
    # Rodrigues rotation of d about axis (perpendicular to d).
    return np.cos(angle) * d + np.sin(angle) * np.cross(axis, d)


def rot_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    M = np.eye(4)
    M[:2, :2] = [[c, -s], [s, c]]
    return M


def as_tuple(M: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in row) for row in np.asarray(M))
