"""The frame of a defect's decal on the surface: where its square map lies, how deep its
projection box reaches. Pure geometry from a defect's plan (position, normal, rotation, map size),
shared by the planner, the label rules and the Blender scene build."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from synthgen.plan.types import DefectPlan


def decal_frame(position, normal, rotation_deg: float) -> np.ndarray:
    """4x4 rigid frame of a defect: origin on the surface, +Z along the surface normal, +X the
    map's right direction (a fixed tangent rotated by ``rotation_deg`` about the normal)."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    ref = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    t = np.cross(ref, n)
    t /= np.linalg.norm(t)
    b = np.cross(n, t)
    a = np.radians(rotation_deg)
    x = np.cos(a) * t + np.sin(a) * b
    y = np.cross(n, x)
    M = np.eye(4)
    M[:3, 0], M[:3, 1], M[:3, 2], M[:3, 3] = x, y, n, np.asarray(position, float)
    return M


def map_side_mm(d: DefectPlan) -> float:
    """Side of the defect's square map on the surface (mm)."""
    return d.map_size_mm or d.size_mm


def decal_half_depth_m(map_mm: float) -> float:
    """Half thickness of the projection box along the normal (m): deep enough to follow gently
    curved surfaces under the decal, shallow enough not to reach unrelated geometry."""
    return max(0.001, 0.25 * map_mm / 1000.0)


def decal_reach_m(d: DefectPlan) -> float:
    """Radius (m) of a sphere about the defect's position that holds its whole decal box (the
    square map, the box depth, and a through hole's far side)."""
    half = map_side_mm(d) / 2000.0
    depth = decal_half_depth_m(map_side_mm(d))
    if d.through_mm is not None:
        depth = max(depth, (d.through_mm[1] + 0.5) / 1000.0)
    return float(np.sqrt(2.0 * half**2 + depth**2))


def decal_matrix(d: DefectPlan) -> np.ndarray:
    """Frame scaled so the decal's map covers local x, y in [-1, 1] and the box z in [-1, 1]."""
    M = decal_frame(d.position, d.normal, d.rotation_deg)
    half = map_side_mm(d) / 2000.0
    return M @ np.diag([half, half, decal_half_depth_m(map_side_mm(d)), 1.0])
