"""Per-defect geometry: cut a part's mesh along each defect's decal box and give every region of
faces its own material, so a shading point evaluates only the defects whose boxes cover it.

A part with defects gets its own copy of the (shared) part mesh. Each defect's square map spans
local x, y in [-1, 1] of its decal frame (``decal_matrix``); the copy is bisected along the four
side planes of that square, restricted to faces near the box, so every face afterwards lies
wholly inside or wholly outside each square. A face's *cover set* is the defects whose box
(the square, and the depth range of the decal and of a through hole's far side) it meets. Faces
with equal cover sets share a material slot: slot 0 has no defects (the part's own material),
slot k the part's material with the decals of cover set k chained in plan order.

Geometry does not move (cuts add vertices on existing edges and edges across existing faces), so
the final render and the defect-ID pass see the same surface, and a decal's own gates still decide
every pixel: a box's cover set is a superset of where its gate is on. Cost per shading point is
that of the defects that overlap there, which the planner bounds (``MAX_STACKED_DEFECTS``).
"""

from __future__ import annotations

import bmesh
import bpy
import numpy as np

from synthgen.blender.decal import THROUGH_TOL_MM
from synthgen.blender.shading import TAG
from synthgen.geometry.decal import decal_half_depth_m, decal_matrix, map_side_mm
from synthgen.plan.types import DefectPlan

NORMALS = "sg_corner_normal"
EPS = 1e-4  # slack in decal units (fractions of the map's half side) for the inside tests


def depth_range(d: DefectPlan) -> tuple[float, float]:
    """Range of decal z (units of the box's half depth) where the defect can change the surface:
    the box |z| < 1, deepened to a through hole's far side."""
    lo = -1.0
    if d.through_mm is not None:
        hd = decal_half_depth_m(map_side_mm(d))
        lo = min(lo, -(d.through_mm[1] + THROUGH_TOL_MM) / 1000.0 / hd)
    return lo - EPS, 1.0 + EPS


def to_decal(part_matrix: np.ndarray, d: DefectPlan) -> np.ndarray:
    """4x4 map from part-local coordinates to the defect's decal coordinates."""
    return np.linalg.inv(np.linalg.inv(part_matrix) @ decal_matrix(d))


def _face_corners(me: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(corner positions (L, 3), each face's first corner (F,)): read once per mesh."""
    co = np.empty(len(me.vertices) * 3, np.float64)
    me.vertices.foreach_get("co", co)
    lv = np.empty(len(me.loops), np.int64)
    me.loops.foreach_get("vertex_index", lv)
    starts = np.empty(len(me.polygons), np.int64)
    me.polygons.foreach_get("loop_start", starts)
    return co.reshape(-1, 3)[lv], starts


def _face_bounds(corners: np.ndarray, starts: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face, min and max of its corners' decal coordinates (F, 3) each."""
    q = corners @ D[:3, :3].T + D[:3, 3]
    return np.minimum.reduceat(q, starts, axis=0), np.maximum.reduceat(q, starts, axis=0)


def _near(lo: np.ndarray, hi: np.ndarray, zr: tuple[float, float]) -> np.ndarray:
    """Indices of faces whose decal-space bounds meet the box [-1, 1]^2 x zr."""
    ok = (lo[:, 0] <= 1 + EPS) & (hi[:, 0] >= -1 - EPS) & (lo[:, 1] <= 1 + EPS) & (hi[:, 1] >= -1 - EPS)
    ok &= (lo[:, 2] <= zr[1]) & (hi[:, 2] >= zr[0])
    return np.flatnonzero(ok)


class _Faces:
    """Insertion-ordered faces with their part-local bounds, for fast box queries (numpy)."""

    def __init__(self) -> None:
        self.faces: list = []
        self.alive: dict = {}  # face -> row
        self.lo = np.empty((64, 3))
        self.hi = np.empty((64, 3))
        self.on = np.zeros(64, bool)

    def add(self, f) -> None:
        n = len(self.faces)
        if n == len(self.on):
            self.lo, self.hi = np.resize(self.lo, (2 * n, 3)), np.resize(self.hi, (2 * n, 3))
            self.on = np.concatenate([self.on, np.zeros(n, bool)])
        co = np.array([v.co[:] for v in f.verts])
        self.lo[n], self.hi[n], self.on[n] = co.min(axis=0), co.max(axis=0), True
        self.faces.append(f)
        self.alive[f] = n

    def drop(self, f) -> None:
        row = self.alive.pop(f, None)
        if row is not None:
            self.on[row] = False

    def meeting(self, box: tuple[np.ndarray, np.ndarray], among=None) -> list:
        """Live faces (of ``among``, or all) whose bounds meet ``box``, in insertion order."""
        if among is not None:
            return [f for f in among if self._meets(self.alive[f], box)]
        n = len(self.faces)
        ok = self.on[:n] & np.all(self.lo[:n] <= box[1], axis=1) & np.all(self.hi[:n] >= box[0], axis=1)
        return [self.faces[i] for i in np.flatnonzero(ok)]

    def _meets(self, row: int, box) -> bool:
        return bool(np.all(self.lo[row] <= box[1]) and np.all(self.hi[row] >= box[0]))


def _box_aabb(D: np.ndarray, zr: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Part-local bounds of a defect's box [-1, 1]^2 x zr."""
    L = np.linalg.inv(D)
    c = np.array([[x, y, z, 1.0] for x in (-1, 1) for y in (-1, 1) for z in zr]) @ L.T
    return c[:, :3].min(axis=0) - 1e-6, c[:, :3].max(axis=0) + 1e-6


def _inside(f, D: np.ndarray, zr: tuple[float, float]) -> bool:
    """Whether a face (already cut along the box's sides) lies in the square and meets the depth range."""
    q = np.array([v.co[:] for v in f.verts]) @ D[:3, :3].T + D[:3, 3]
    c = q.mean(axis=0)
    return abs(c[0]) < 1 and abs(c[1]) < 1 and q[:, 2].min() <= zr[1] and q[:, 2].max() >= zr[0]


def cut_regions(obj: bpy.types.Object, part_matrix: np.ndarray,
                defects: list[DefectPlan]) -> list[tuple[int, ...]]:
    """Give ``obj`` its own mesh, cut along the decal squares of ``defects`` (in plan order), with
    each face's material index set to its cover set's index. Returns the cover sets by slot:
    ``[(), (ids...), ...]`` (slot 0: no defect). Materials are the caller's to assign.

    Only faces that meet a box are cut, and each cut runs across those faces only, so a large flat
    face gets a few strips per defect rather than a grid over the whole part."""
    me = obj.data.copy()
    for k in list(me.keys()):
        del me[k]
    me[TAG] = 1
    me.name = f"{obj.name}_regions"
    boxes = []
    cand: dict[int, None] = {}
    corners, starts = _face_corners(me)
    for d in defects:
        D = to_decal(part_matrix, d)
        zr = depth_range(d)
        boxes.append((d, D, zr, _box_aabb(D, zr)))
        cand.update(dict.fromkeys(_near(*_face_bounds(corners, starts, D), zr).tolist()))
    # Keep the shading: each corner's normal travels with the cut as a corner attribute
    # (interpolated along split edges) and is set back as a custom normal, so a new vertex on a
    # smooth surface shades as the point of the old face it lies on, not as a new mesh vertex.
    nl = len(me.loops)
    normals = np.empty(nl * 3, np.float32)
    me.corner_normals.foreach_get("vector", normals)
    me.attributes.new(NORMALS, "FLOAT_VECTOR", "CORNER").data.foreach_set("vector", normals)
    bm = bmesh.new()
    bm.from_mesh(me)
    bm.faces.ensure_lookup_table()
    active = _Faces()  # insertion-ordered: the cuts are deterministic
    for i in sorted(cand):
        active.add(bm.faces[i])
    for _d, D, _zr, box in boxes:
        near = active.meeting(box)
        L = np.linalg.inv(D)
        for axis in (0, 1):
            for side in (-1.0, 1.0):
                if not near:
                    break
                point = np.zeros(4)
                point[axis], point[3] = side, 1.0
                edges = list(dict.fromkeys(e for f in near for e in f.edges))
                verts = list(dict.fromkeys(v for f in near for v in f.verts))
                res = bmesh.ops.bisect_plane(bm, geom=[*near, *edges, *verts], dist=1e-7,
                                             plane_co=tuple((L @ point)[:3]), plane_no=tuple(D[axis, :3]))
                for f in near:
                    active.drop(f)
                out = [g for g in res["geom"] if isinstance(g, bmesh.types.BMFace)]
                for f in out:
                    active.add(f)
                near = active.meeting(box, out)
    cover: dict = {}
    for d, D, zr, box in boxes:
        for f in active.meeting(box):
            if _inside(f, D, zr):
                cover.setdefault(f, []).append(d.defect_id)
    sets: list[tuple[int, ...]] = [()]
    index = {(): 0}
    for f in active.alive:
        key = tuple(cover.get(f, ()))
        if key not in index:
            index[key] = len(sets)
            sets.append(key)
        f.material_index = index[key]
    bm.to_mesh(me)
    bm.free()
    nl = len(me.loops)
    normals = np.empty(nl * 3, np.float32)
    me.attributes[NORMALS].data.foreach_get("vector", normals)
    me.attributes.remove(me.attributes[NORMALS])
    me.normals_split_custom_set(normals.reshape(nl, 3).tolist())
    obj.data = me
    return sets
