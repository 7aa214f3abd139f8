"""Part placement: which parts, which resting pose, where on the belt — overlap-free."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon, box

from synthgen.config.job import PartConfig, PlacementConfig, StageConfig
from synthgen.errors import SynthgenError
from synthgen.geometry.cad import PartMesh, footprint, load_part, stable_poses
from synthgen.plan.frames import rot_z

log = logging.getLogger(__name__)


class PlacementError(SynthgenError):
    """No overlap-free placement within the attempt budget: the scene is skipped, not crashed."""


@dataclass(frozen=True)
class Placement:
    part: PartConfig
    mesh: PartMesh
    pose_index: int
    pose_probability: float
    yaw_deg: float
    matrix_world: np.ndarray  # 4x4
    footprint: Polygon


def choose_parts(parts: list[PartConfig], total_range: tuple[int, int], rng: np.random.Generator) -> list[int]:
    """Indices of the part configs present in a scene, respecting each part's count range and
    the scene's total range. Minimum counts are always honoured."""
    counts = [p.count[0] for p in parts]
    target = int(rng.integers(total_range[0], total_range[1] + 1))
    while sum(counts) < target:
        room = [i for i, p in enumerate(parts) if counts[i] < p.count[1] and p.weight > 0]
        if not room:
            break
        w = np.array([parts[i].weight for i in room], float)
        counts[room[int(rng.choice(len(room), p=w / w.sum()))]] += 1
    return [i for i, c in enumerate(counts) for _ in range(c)]


def align_to_x(T: np.ndarray) -> np.ndarray:
    """``T`` (a resting pose) turned about vertical so that the part's own x axis (or its y axis,
    when x points up or down) runs along the world x axis: a yaw range then means the same turn
    for every pose. The stable-pose analysis leaves that turn arbitrary."""
    R = np.asarray(T)[:3, :3]
    axis = R[:, 0] if np.hypot(R[0, 0], R[1, 0]) > 0.5 else R[:, 1]
    return rot_z(-np.degrees(np.arctan2(axis[1], axis[0]))) @ np.asarray(T, float)


def place_parts(parts: list[PartConfig], placement: PlacementConfig, stage: StageConfig,
                parts_per_scene: tuple[int, int], rng: np.random.Generator,
                cache_dir: str | None) -> list[Placement]:
    """Drop parts on their stable poses at random overlap-free belt positions.

    Each instance picks a resting pose by its probability, a yaw about vertical and an in-plane
    position in ``placement.area``; its footprint (convex hull on the belt plane, grown by the
    clearance) must stay on the belt and clear of other parts and obstacles. Raises
    PlacementError after ``max_attempts`` failed tries for one instance.
    """
    belt_x, belt_y = stage.belt.size
    belt_poly = box(-belt_x / 2, -belt_y / 2, belt_x / 2, belt_y / 2)
    blocked = [box(o.center[0] - o.size[0] / 2, o.center[1] - o.size[1] / 2,
                   o.center[0] + o.size[0] / 2, o.center[1] + o.size[1] / 2) for o in stage.obstacles]
    placed: list[Placement] = []
    ax, ay = placement.area
    for idx in choose_parts(parts, parts_per_scene, rng):
        pc = parts[idx]
        pm = load_part(pc.path, pc.units)
        poses = stable_poses(pm, pc.units, cache_dir, placement.stable_pose_min_probability, placement.max_poses,
                             placement.min_support_ratio, placement.min_com_margin_mm / 1000.0)
        probs = np.array([p for _, p in poses])
        if tuple(placement.yaw_deg) != (0.0, 360.0):  # a yaw range is relative to the part's own axes
            poses = [(align_to_x(T), p) for T, p in poses]
        hull = pm.mesh.convex_hull.vertices
        for attempt in range(placement.max_attempts):
            k = int(rng.choice(len(poses), p=probs / probs.sum()))
            yaw = float(rng.uniform(*placement.yaw_deg))
            xy = rng.uniform([-ax / 2, -ay / 2], [ax / 2, ay / 2])
            M = rot_z(yaw) @ poses[k][0]
            M[:2, 3] += xy
            pts = hull @ M[:3, :3].T + M[:3, 3]
            fp = footprint(pts)
            grown = fp.buffer(placement.clearance / 2)
            if not belt_poly.contains(fp):
                continue
            if any(grown.intersects(b) for b in blocked):
                continue
            if any(grown.intersects(q.footprint.buffer(placement.clearance / 2)) for q in placed):
                continue
            placed.append(Placement(pc, pm, k, float(poses[k][1]), yaw, M, fp))
            break
        else:
            size = float(np.ptp(hull, axis=0).max())
            if size > min(belt_x, belt_y):
                raise PlacementError(
                    f"could not place part '{pc.name}': it is {size:.3g} m across with units '{pc.units}', larger "
                    f"than the belt ({belt_x:g} x {belt_y:g} m); check parts[{idx}].units or stage.belt.size")
            raise PlacementError(
                f"could not place part '{pc.name}' (instance {len(placed) + 1}) without overlap in "
                f"{placement.max_attempts} attempts; enlarge placement.area or reduce parts_per_scene"
            )
    return placed
