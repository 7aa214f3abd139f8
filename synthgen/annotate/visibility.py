"""Pure visibility checks and label bookkeeping (numpy; no render).

- ``part_in_view``: at least one vertex of a part inside the camera's field of view, with
  Blender's intrinsics (geometry only, before any render).
- ``projected_area_px``: the unoccluded pixel area a defect's label would cover, from its
  decal square projected by the camera, times the fraction of the map its mask fills. It is the
  denominator of the visible fraction (visible pixels / projected pixels).
- ``visible_defects``: from a defect-ID map, which defects pass the thresholds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from synthgen.geometry.cad import load_part
from synthgen.geometry.camera import points_in_view, project
from synthgen.plan.defects import decal_frame
from synthgen.plan.types import CameraPlan, DefectPlan, PartPlan


def part_in_view(part: PartPlan, cam: CameraPlan, resolution: tuple[int, int]) -> bool:
    v = trimesh.transform_points(load_part(part.path, part.units).mesh.vertices, np.array(part.matrix_world))
    return bool(points_in_view(v, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, resolution).any())


@lru_cache(maxsize=4096)
def mask_fill_fraction(variant_dir: str) -> float:
    """Fraction of the map square covered by the label mask (mask.png > 0.5)."""
    p = Path(variant_dir) / "mask.png"
    m = np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0
    return float((m > 0.5).mean())


def projected_area_px(d: DefectPlan, cam: CameraPlan, resolution: tuple[int, int]) -> float:
    """Pixels the defect's label covers if nothing occludes it (0 when it faces away)."""
    M = decal_frame(d.position, d.normal, d.rotation_deg)
    eye = np.array(cam.matrix_world, float)[:3, 3]
    if np.dot(np.array(d.normal), eye - np.array(d.position)) <= 0:
        return 0.0
    half = d.size_mm / 2000.0
    corners = np.array([[-half, -half, 0, 1], [half, -half, 0, 1], [half, half, 0, 1], [-half, half, 0, 1]])
    pts = (M @ corners.T).T[:, :3]
    uv, depth = project(pts, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, resolution)
    if (depth <= 0).any():
        return 0.0
    x, y = uv[:, 0], uv[:, 1]
    quad = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    fill = mask_fill_fraction(d.variant_dir) if d.variant_dir else 1.0
    return float(quad * fill)


def visible_defects(ids: np.ndarray, defects: tuple[DefectPlan, ...], cam: CameraPlan,
                    resolution: tuple[int, int], min_pixels: int, min_fraction: float) -> tuple[list[dict], list[dict]]:
    """Split defects into (visible, dropped) records for one camera from its ID map (H, W)."""
    counts = np.bincount(ids.ravel(), minlength=max((d.defect_id for d in defects), default=0) + 1)
    visible, dropped = [], []
    for d in defects:
        px = int(counts[d.defect_id]) if d.defect_id < len(counts) else 0
        proj = projected_area_px(d, cam, resolution)
        frac = px / proj if proj > 0 else (1.0 if px > 0 else 0.0)
        rec = {"defect_id": d.defect_id, "kind": d.kind, "part_instance_id": d.part_instance_id,
               "visible_pixels": px, "projected_pixels": round(proj, 2), "visible_fraction": round(min(frac, 1.0), 4)}
        (visible if px >= max(1, min_pixels) and frac >= min_fraction else dropped).append(rec)
    return visible, dropped
