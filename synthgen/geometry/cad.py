"""CAD loading (STL, OBJ, PLY, glTF/GLB, STEP, COLLADA) with declared units, and cached stable poses.

Pure: trimesh + numpy, no bpy. Meshes come back in metres, centred so that the origin is the
centre of mass, which makes poses and placements independent of the file's own origin.

Real CAD exports are often not clean solids. Loading repairs what it can and says what it did
(``PartMesh.notes``, printed once per file by the preflight check):
- degenerate (zero-area) and duplicate faces are removed;
- a mesh of several bodies stays one rigid part (``PartMesh.bodies``; not a warning);
- an open (non-watertight) mesh keeps its real surface for rendering and defects, while its
  centre of mass and resting poses come from its convex hull, a watertight proxy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text
from synthgen.quiet import quiet_stdout

UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048}
SUPPORTED = {".stl", ".obj", ".ply", ".glb", ".gltf", ".step", ".stp", ".off", ".dae"}
POSE_CACHE_VERSION = 3  # 3: each pose stores its support ratio and COM margin


@dataclass(frozen=True)
class PartMesh:
    """A loaded part in metres, origin at its centre of mass."""

    mesh: trimesh.Trimesh
    sha256: str
    center_mass_offset: np.ndarray  # (3,) file-frame COM in metres, subtracted from vertices
    notes: tuple[str, ...] = ()     # what loading repaired or assumed, for one warning per file
    bodies: int = 1                 # separate connected bodies, kept together as one rigid part


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_raw(path: Path, units: str) -> tuple[trimesh.Trimesh, float, list[str]]:
    """(mesh in the file's numbers, factor to metres, notes)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise SynthgenError(f"{path}: unsupported CAD format '{suffix}' (supported: {sorted(SUPPORTED)})")
    if path.stat().st_size == 0:
        raise SynthgenError(f"{path}: CAD file is empty (0 bytes)")
    if suffix == ".dae":
        from synthgen.geometry.collada_io import load_collada

        return load_collada(path, units, UNIT_SCALE)
    try:
        # OpenCASCADE (STEP) prints parse errors straight to the terminal: keep them off it.
        with quiet_stdout(fds=(1, 2)):
            loaded = trimesh.load(str(path), force="mesh", process=True)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for corrupt/unknown content
        raise SynthgenError(f"{path}: cannot read it as {suffix[1:].upper()}: {_load_problem(suffix, exc)}") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise SynthgenError(f"{path}: CAD file holds no triangles (not a {suffix[1:].upper()} mesh, or empty)")
    return loaded, UNIT_SCALE[units], []


def _load_problem(suffix: str, exc: Exception) -> str:
    """What went wrong, in the user's terms (not a converter's temporary file)."""
    if suffix in (".step", ".stp"):
        return "not a valid STEP (ISO 10303-21) file, or it holds no solid the converter can mesh"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:200]


def repair(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, list[str]]:
    """Drop duplicate faces, and degenerate ones unless that would open a closed surface (a
    zero-area sliver can be what closes it); report open surfaces and inside-out solids."""
    notes = []
    n0 = len(mesh.faces)
    closed = mesh.is_watertight
    mesh.update_faces(mesh.unique_faces())
    cleaned = mesh.copy()
    cleaned.update_faces(cleaned.nondegenerate_faces())
    if len(cleaned.faces) and (cleaned.is_watertight or not closed):
        mesh = cleaned
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) < n0:
        notes.append(f"removed {n0 - len(mesh.faces)} degenerate or duplicate faces of {n0}")
    if len(mesh.faces) == 0:
        return mesh, notes
    if not mesh.is_watertight:
        open_edges = len(trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1))
        notes.append(f"not watertight ({open_edges} open edges): centre of mass and resting poses come from its "
                     "convex hull; defects are placed on its real surface")
    elif mesh.volume < 0:
        mesh.invert()
        notes.append("faces were inside out (negative volume): normals flipped")
    return mesh, notes


@lru_cache(maxsize=64)
def _load_cached(path: str, units: str, digest: str) -> PartMesh:
    mesh, scale, file_notes = _load_raw(Path(path), units)
    mesh = mesh.copy()
    mesh.apply_scale(scale)
    mesh.merge_vertices()
    mesh, notes = repair(mesh)
    notes = file_notes + notes
    if len(mesh.faces) == 0:
        raise SynthgenError(f"{path}: CAD file holds only degenerate (zero-area) triangles")
    com = center_of_mass(mesh)
    mesh.apply_translation(-com)
    return PartMesh(mesh=mesh, sha256=digest, center_mass_offset=com, notes=tuple(notes), bodies=int(mesh.body_count))


def load_part(path: str | Path, units: str) -> PartMesh:
    """Load a CAD file, scale by its declared ``units`` to metres, centre at the centre of mass."""
    if units not in UNIT_SCALE:
        raise SynthgenError(f"{path}: unknown units '{units}' (use one of {sorted(UNIT_SCALE)})")
    p = Path(path)
    if not p.is_file():
        raise SynthgenError(f"{p}: CAD file not found")
    return _load_cached(str(p.resolve()), units, file_sha256(p))


def center_of_mass(mesh: trimesh.Trimesh) -> np.ndarray:
    """Centre of mass of a solid of uniform density; falls back to the convex hull when the
    mesh is not watertight (open CAD exports), where the volume integral is meaningless."""
    if mesh.is_watertight and mesh.volume > 0:
        return np.asarray(mesh.center_mass, dtype=float)
    hull = mesh.convex_hull
    return np.asarray(hull.center_mass, dtype=float)


def stable_poses(part: PartMesh, units: str, cache_dir: str | Path | None,
                 min_probability: float = 0.0, max_poses: int = 8, min_support_ratio: float = 0.0,
                 min_com_margin: float = 0.0) -> list[tuple[np.ndarray, float]]:
    """Resting poses of a part on a horizontal plane, with their probabilities.

    Computed once per file (keyed by its SHA-256 and units) with trimesh's quasi-static drop
    analysis on the convex hull and cached as JSON under ``cache_dir/poses``. Each 4x4 transform
    maps the centred mesh so that it rests on z = 0. Poses that are unlikely
    (``min_probability``) or not robust (support area below ``min_support_ratio`` of the
    footprint, or the centre of mass closer than ``min_com_margin`` metres to the support's edge)
    are dropped; if none is left, the most robust one is kept. Probabilities of the kept poses are
    renormalised to sum 1.
    """
    cache_file = None
    data = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / "poses" / f"{part.sha256}_{units}.json"
        if cache_file.is_file():
            try:
                data = json.loads(cache_file.read_text())
                if data.get("version") != POSE_CACHE_VERSION:
                    data = None
            except (OSError, ValueError):
                data = None  # a torn or stale cache entry is recomputed, never trusted
    if data is None:
        mesh = part.mesh
        # COM is the origin (we centred it). Deterministic: no sampling (n_samples=1, sigma=0).
        transforms, probs = trimesh.poses.compute_stable_poses(mesh, center_mass=np.zeros(3))
        if len(transforms) == 0:
            transforms, probs = [np.eye(4)], np.array([1.0])
        hull = mesh.convex_hull.vertices
        poses = []
        for T, pr in zip(transforms, probs):
            T = np.asarray(T, dtype=float)
            v = trimesh.transform_points(mesh.vertices, T)
            T[2, 3] -= v[:, 2].min()  # exact contact with z = 0
            ratio, margin = pose_robustness(trimesh.transform_points(hull, T), T[:2, 3])
            poses.append({"transform": T.tolist(), "probability": float(pr), "support_ratio": ratio,
                          "com_margin": margin})
        data = {"version": POSE_CACHE_VERSION, "sha256": part.sha256, "units": units, "poses": poses}
        if cache_file is not None:
            atomic_write_text(cache_file, json.dumps(data))
    poses = sorted(data["poses"], key=lambda p: -p["probability"])
    robust = poses
    if min_support_ratio > 0 or min_com_margin > 0:
        robust = [p for p in poses if p["support_ratio"] >= min_support_ratio and p["com_margin"] >= min_com_margin]
    if not robust:
        robust = [max(poses, key=lambda p: (p["com_margin"], p["support_ratio"]))]
    kept = [p for p in robust if p["probability"] >= min_probability][:max_poses] or robust[:1]
    total = sum(p["probability"] for p in kept)
    return [(np.array(p["transform"], dtype=float), p["probability"] / total if total > 0 else 1.0 / len(kept))
            for p in kept]


def pose_robustness(hull_vertices: np.ndarray, com_xy: np.ndarray) -> tuple[float, float]:
    """How firmly a resting part stands: (support polygon area / footprint area, distance in metres
    from the centre of mass's projection to the support polygon's edge, negative outside).

    Contact points are the hull vertices within 0.1 % of the part's size (at least 10 µm) of the
    lowest point, so a scanned part's noisy base still counts as one support."""
    from shapely.geometry import Point

    size = float(np.ptp(hull_vertices, axis=0).max())
    support = support_polygon(hull_vertices, tol=max(1e-5, 1e-3 * size))
    area = footprint(hull_vertices).area
    ratio = float(support.area / area) if area > 0 else 0.0
    c = Point(float(com_xy[0]), float(com_xy[1]))
    if support.area <= 0:
        margin = -float(support.distance(c))
    else:
        margin = float(support.exterior.distance(c)) * (1.0 if support.contains(c) else -1.0)
    return round(ratio, 6), round(margin, 9)


def support_polygon(vertices: np.ndarray, tol: float = 1e-5):
    """2D convex hull (shapely) of the vertices touching the lowest z: the support polygon."""
    from shapely.geometry import MultiPoint

    zmin = vertices[:, 2].min()
    contact = vertices[vertices[:, 2] <= zmin + tol][:, :2]
    return MultiPoint([tuple(p) for p in contact]).convex_hull


def footprint(vertices: np.ndarray):
    """2D convex hull (shapely) of the vertices projected on the belt plane."""
    from shapely.geometry import MultiPoint

    hull = trimesh.convex.convex_hull(vertices) if len(vertices) > 4 else None
    pts = hull.vertices[:, :2] if hull is not None else vertices[:, :2]
    return MultiPoint([tuple(p) for p in pts]).convex_hull
