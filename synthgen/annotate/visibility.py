"""Pure visibility checks and label bookkeeping (numpy; no render).

- ``part_in_view``: at least one vertex of a part inside the camera's field of view, with
  Blender's intrinsics (geometry only, before any render).
- ``projected_area_px``: the unoccluded pixel area a defect's label would cover, from its
  decal square projected by the camera, times the fraction of the map its mask fills (for a
  through hole, plus its far-side opening when the camera is on that side). It is the
  denominator of the visible fraction (visible pixels / projected pixels).
- ``visible_defects``: from a defect-ID map, which defects pass the thresholds, and why the
  others do not.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import trimesh

from synthgen.geometry.cad import load_part
from synthgen.geometry.camera import points_in_view, project
from synthgen.geometry.decal import decal_frame, map_side_mm
from synthgen.plan.defect_maps import mask_fill_fraction
from synthgen.plan.types import CameraPlan, DefectPlan, PartPlan

# Why a defect is not labelled in a camera (recorded per camera and counted per run).
FACING_AWAY = "facing_away"  # its surface turns away from the camera (anything seen is a leak)
TOO_FEW_PIXELS = "too_few_pixels"  # under verification.min_visible_pixels (hidden, outside, tiny)
MOSTLY_HIDDEN = "mostly_hidden"  # under verification.min_visible_fraction of its projected area
LOW_CONTRAST = "low_contrast"  # the image barely changes under its label (verification.min_contrast)


def part_in_view(part: PartPlan, cam: CameraPlan, resolution: tuple[int, int]) -> bool:
    v = trimesh.transform_points(load_part(part.path, part.units).mesh.vertices, np.array(part.matrix_world))
    return bool(points_in_view(v, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, resolution).any())


def _square_px(position, normal, rotation_deg: float, half: float, cam: CameraPlan,
               resolution: tuple[int, int]) -> float:
    """Projected pixel area of a square of half side ``half`` (m); 0 when it faces away."""
    eye = np.array(cam.matrix_world, float)[:3, 3]
    if np.dot(np.asarray(normal), eye - np.asarray(position)) <= 0:
        return 0.0
    M = decal_frame(position, normal, rotation_deg)
    corners = np.array([[-half, -half, 0, 1], [half, -half, 0, 1], [half, half, 0, 1], [-half, half, 0, 1]])
    pts = (M @ corners.T).T[:, :3]
    uv, depth = project(pts, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, resolution)
    if (depth <= 0).any():
        return 0.0
    x, y = uv[:, 0], uv[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def projected_area_px(d: DefectPlan, cam: CameraPlan, resolution: tuple[int, int]) -> float:
    """Pixels the defect's label covers if nothing occludes it (0 when it faces away)."""
    half = map_side_mm(d) / 2000.0
    front = _square_px(d.position, d.normal, d.rotation_deg, half, cam, resolution)
    front *= mask_fill_fraction(d.variant_dir) if d.variant_dir else 1.0
    if d.through_mm is None or not d.variant_dir:
        return front
    n = np.asarray(d.normal, float)
    behind = np.asarray(d.position) - n * (sum(d.through_mm) / 2000.0)
    back = _square_px(behind, tuple(-n), -d.rotation_deg, half, cam, resolution)
    return front + back * mask_fill_fraction(d.variant_dir, "hole")


def visible_defects(ids: np.ndarray, defects: tuple[DefectPlan, ...], cam: CameraPlan,
                    resolution: tuple[int, int], min_pixels: int, min_fraction: float) -> tuple[list[dict], list[dict]]:
    """Split defects into (visible, dropped) records for one camera from its ID map (H, W).

    A defect whose surface faces away from the camera (projected area 0) is dropped even if
    some of its label leaks onto a neighbouring face that the camera sees."""
    counts = np.bincount(ids.ravel(), minlength=max((d.defect_id for d in defects), default=0) + 1)
    visible, dropped = [], []
    for d in defects:
        px = int(counts[d.defect_id]) if d.defect_id < len(counts) else 0
        proj = projected_area_px(d, cam, resolution)
        frac = px / proj if proj > 0 else 0.0
        rec = {"defect_id": d.defect_id, "kind": d.kind, "part_instance_id": d.part_instance_id,
               "visible_pixels": px, "projected_pixels": round(proj, 2), "visible_fraction": round(min(frac, 1.0), 4)}
        if proj <= 0:
            rec["reason"] = FACING_AWAY
        elif px < max(1, min_pixels):
            rec["reason"] = TOO_FEW_PIXELS
        elif frac < min_fraction:
            rec["reason"] = MOSTLY_HIDDEN
        (dropped if "reason" in rec else visible).append(rec)
    return visible, dropped


def reasons_text(reasons: Counter) -> str:
    """'12 dropped: 9 too_few_pixels, 3 facing_away' (most frequent first), or '0 dropped'."""
    total = sum(reasons.values())
    if not total:
        return "0 dropped"
    return f"{total} dropped: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
