"""Defect placement on part surfaces (pure): kind, surface point, normal, size, rotation, variant."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from synthgen.geometry.cad import load_part
from synthgen.geometry.decal import decal_frame, decal_half_depth_m, decal_reach_m, map_side_mm
from synthgen.geometry.edges import distance_to_segments, faces_near_edges, feature_edges, segments_along
from synthgen.geometry.walls import wall_far_side
from synthgen.plan.defect_maps import hole_points, mask_extent_fraction
from synthgen.plan.types import CameraPlan, DefectPlan, PartPlan
from synthgen.textures.recipes import EDGE_DIRECTION_TOL_DEG

CONTACT_TOL_M = 1e-4  # faces this close to the belt plane, facing down, rest on it
THROUGH_SPREAD_MM = 1.0  # a far side whose depth varies by more (and by more than half its depth) is not opened
EDGE_TRIES = 64  # surface points drawn per defect before an edge-constrained defect is given up
# At most this many defects' decal boxes may cover one point of a part: each covering defect adds
# its decal to that region's shader, and Cycles' shader stack is bounded (measured with the
# heaviest decal, dent + encrustation + hole: 10 stacked overflow on a brushed finish, 11 on a
# plain one; 9 render on every finish). A defect that would overlap as many earlier ones on its
# part is not placed.
MAX_STACKED_DEFECTS = 8


def _best_incidence_cos(normals_world: np.ndarray, centroids_world: np.ndarray,
                        camera_eyes: np.ndarray | None) -> np.ndarray | None:
    """(F,) cosine of the smallest angle between each face's normal and the direction to a
    camera (None without cameras); computed once per part, shared by every kind."""
    if camera_eyes is None or not len(camera_eyes):
        return None
    to_cam = camera_eyes[None, :, :] - centroids_world[:, None, :]  # (F, C, 3)
    to_cam /= np.linalg.norm(to_cam, axis=2, keepdims=True)
    return np.einsum("fcj,fj->fc", to_cam, normals_world).max(axis=1)


def _surface_candidates(normals_world: np.ndarray, resting: np.ndarray, surface,
                        incidence_cos: np.ndarray | None) -> np.ndarray:
    """Indices of faces that may receive a defect of a kind with ``surface`` (SurfaceFilter):
    never faces ``resting`` on the belt; if ``visible_from_cameras``, only faces whose front some
    camera sees at under ``max_incidence_deg``; and within the optional cone."""
    ok = ~resting
    if surface.max_angle_deg < 180.0:
        d = np.asarray(surface.direction, float)
        d = d / np.linalg.norm(d)
        ok &= normals_world @ d >= np.cos(np.radians(surface.max_angle_deg)) - 1e-9
    if surface.visible_from_cameras and incidence_cos is not None:
        ok &= incidence_cos >= np.cos(np.radians(surface.max_incidence_deg))
    return np.nonzero(ok)[0]


def sample_surface_point(vertices: np.ndarray, faces: np.ndarray, areas: np.ndarray, candidates: np.ndarray,
                         rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Area-weighted face among ``candidates`` and a uniform point on it (barycentric)."""
    w = areas[candidates]
    f = int(candidates[rng.choice(len(candidates), p=w / w.sum())])
    r1, r2 = rng.uniform(size=2)
    s = np.sqrt(r1)
    a, b, c = vertices[faces[f]]
    return f, (1 - s) * a + s * (1 - r2) * b + s * r2 * c


_EDGE_ZONES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _edge_zone(pm, units: str, surface) -> tuple[np.ndarray, np.ndarray]:
    """(feature-edge segments, faces that may hold a point near them) of a part for a kind's
    ``surface`` filter; computed once per file and setting, not once per scene."""
    key = (pm.sha256, units, surface.sharp_edge_deg, surface.max_edge_distance_mm, surface.edge_direction)
    if key not in _EDGE_ZONES:
        segs = feature_edges(pm.mesh, surface.sharp_edge_deg)
        if surface.edge_direction is not None:
            segs = segments_along(segs, surface.edge_direction, EDGE_DIRECTION_TOL_DEG)
        _EDGE_ZONES[key] = (segs, faces_near_edges(pm.mesh, segs, surface.max_edge_distance_mm / 1000.0))
    return _EDGE_ZONES[key]


def variant_material(variant_dir: str | None) -> dict | None:
    """Encrustation PBR parameters stored with a library variant (meta.json), if any."""
    if not variant_dir:
        return None
    meta = Path(variant_dir) / "meta.json"
    if not meta.is_file():
        return None
    m = json.loads(meta.read_text()).get("material")
    return dict(m) if m else None


def plan_defects(parts: tuple[PartPlan, ...], defects_cfg, library_variants: dict[str, list[str]] | None,
                 rng: np.random.Generator, cameras: tuple[CameraPlan, ...] = ()) -> tuple[DefectPlan, ...]:
    """Place defects on every part instance.

    For each part and each kind (in name order), draw a count from the kind's
    ``count_per_part`` (times its ``weight``, the fraction drawn); each defect gets an area-weighted surface point among the faces its
    ``surface`` filter allows (seen by one of ``cameras``, not resting on the belt, in the cone,
    and with ``max_edge_distance_mm`` within that distance of an edge of the part: points are
    redrawn until one is, or the defect is given up), the face normal as orientation, a uniform
    rotation about it, a real extent (mm) from the kind's range and a library variant. The map
    square is scaled so the variant's label mask spans that extent. Hole types get the far side of the wall behind them (``through_mm``).
    ``library_variants`` maps kind -> variant folders (None: variant index only, folder unset).
    """
    out: list[DefectPlan] = []
    kinds = sorted(defects_cfg.kinds.items())
    eyes = np.array([np.array(c.matrix_world)[:3, 3] for c in cameras]) if cameras else None
    for p in parts:
        placed: list[tuple[np.ndarray, float]] = []  # (position, reach) of this part's defects
        pm = load_part(p.path, p.units)
        M = np.array(p.matrix_world)
        R = M[:3, :3]
        v_local = np.asarray(pm.mesh.vertices)
        faces = np.asarray(pm.mesh.faces)
        areas = np.asarray(pm.mesh.area_faces)
        n_local = np.asarray(pm.mesh.face_normals)
        n_world = n_local @ R.T
        c_world = np.asarray(pm.mesh.triangles_center) @ R.T + M[:3, 3]
        resting = (c_world[:, 2] < CONTACT_TOL_M) & (n_world[:, 2] < -0.5)
        incidence_cos = _best_incidence_cos(n_world, c_world, eyes)
        for kind, recipe in kinds:
            lo, hi = recipe.count_per_part
            count = int(rng.integers(lo, hi + 1))
            if recipe.weight != 1.0:  # an expected-count multiplier; weight 1 draws nothing more
                scaled = count * recipe.weight
                count = int(scaled) + int(rng.uniform() < scaled - int(scaled))
            near_edge = recipe.surface.max_edge_distance_mm is not None
            cands = _surface_candidates(n_world, resting, recipe.surface, incidence_cos)
            if near_edge:
                segs, zone = _edge_zone(pm, p.units, recipe.surface)
                cands = cands[zone[cands]]
            for _ in range(count):
                if len(cands) == 0 or areas[cands].sum() <= 0:
                    break
                for _try in range(EDGE_TRIES if near_edge else 1):
                    f, pos_local = sample_surface_point(v_local, faces, areas, cands, rng)
                    if not near_edge or (distance_to_segments(pos_local[None], segs)[0]
                                         <= recipe.surface.max_edge_distance_mm / 1000.0):
                        break
                else:
                    continue  # no point near an edge found: this defect is not placed
                size = draw_size(recipe, rng)
                rot = float(rng.uniform(*recipe.rotation_deg))
                nvar = len(library_variants.get(kind, [])) if library_variants else defects_cfg.variants_per_kind
                variant = int(rng.integers(0, max(1, nvar)))
                vdir = library_variants[kind][variant] if library_variants and library_variants.get(kind) else None
                d = DefectPlan(
                    defect_id=len(out) + 1,
                    part_instance_id=p.instance_id,
                    kind=kind,
                    types=tuple(sorted(recipe.types)),
                    variant=variant,
                    variant_dir=vdir,
                    size_mm=size,
                    depth_mm=float(getattr(recipe, "depth_mm", 0.0) or 0.0),
                    position=tuple(float(x) for x in R @ pos_local + M[:3, 3]),
                    normal=tuple(float(x) for x in n_world[f]),
                    rotation_deg=rot,
                    local_position=tuple(float(x) for x in pos_local),
                    local_normal=tuple(float(x) for x in n_local[f]),
                    face_index=f,
                    material=variant_material(vdir),
                    map_size_mm=size / mask_extent_fraction(vdir),
                )
                if "hole" in d.types:
                    d = replace(d, through_mm=hole_through(d, pm.mesh, M, recipe.through_max_mm))
                pos, r = np.asarray(d.position), decal_reach_m(d)
                if sum(np.linalg.norm(pos - q) < r + rq for q, rq in placed) >= MAX_STACKED_DEFECTS:
                    continue  # too many decals would stack here
                placed.append((pos, r))
                out.append(d)
    return tuple(out)


def hole_through(d: DefectPlan, mesh, part_matrix: np.ndarray, max_mm: float) -> tuple[float, float] | None:
    """Depth range (mm) of the far side of the wall behind ``d``'s hole footprint, or None when
    the wall is thicker than ``max_mm`` there, its far side is far from parallel, or the variant
    has no hole."""
    pts = hole_points(d.variant_dir)
    if len(pts) == 0 or max_mm <= 0:
        return None
    F = decal_frame(d.position, d.normal, d.rotation_deg)
    half = map_side_mm(d) / 2000.0
    world = F[:3, 3] + half * (pts[:, :1] * F[:3, 0] + pts[:, 1:] * F[:3, 1])
    Minv = np.linalg.inv(part_matrix)
    local = world @ Minv[:3, :3].T + Minv[:3, 3]
    n_local = Minv[:3, :3] @ np.asarray(d.normal, float)
    r = wall_far_side(mesh, local, n_local, decal_half_depth_m(map_side_mm(d)), max_mm / 1000.0)
    if r is None:
        return None
    lo, hi = 1000.0 * r[0], 1000.0 * r[1]
    # The far side is opened in a slab of depths; a steeply slanted or stepped far side would need
    # a deep slab that could reach other faces, so such a hole stays blind (front only).
    return (lo, hi) if hi - lo <= max(THROUGH_SPREAD_MM, 0.5 * lo) else None


def draw_size(recipe, rng: np.random.Generator) -> float:
    """A defect's size from ``recipe.size_mm`` by ``recipe.size_dist``; one draw from ``rng`` either way, so
    the rest of a plan's stream does not move when the distribution changes."""
    lo, hi = recipe.size_mm
    u = float(rng.uniform(0.0, 1.0))
    if recipe.size_dist == "log_uniform":
        return float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))))
    return float(lo + u * (hi - lo))
