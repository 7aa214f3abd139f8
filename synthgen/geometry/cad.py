"""CAD loading (STL, OBJ, PLY, glTF/GLB, STEP) with declared units, and cached stable poses.

Pure: trimesh + numpy, no bpy. Meshes come back in metres, centred so that the origin is the
centre of mass, which makes poses and placements independent of the file's own origin.
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

UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048}
SUPPORTED = {".stl", ".obj", ".ply", ".glb", ".gltf", ".step", ".stp", ".off"}
POSE_CACHE_VERSION = 2


@dataclass(frozen=True)
class PartMesh:
    """A loaded part in metres, origin at its centre of mass."""

    mesh: trimesh.Trimesh
    sha256: str
    center_mass_offset: np.ndarray  # (3,) file-frame COM in metres, subtracted from vertices


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_raw(path: Path) -> trimesh.Trimesh:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise SynthgenError(f"{path}: unsupported CAD format '{suffix}' (supported: {sorted(SUPPORTED)})")
    try:
        loaded = trimesh.load(str(path), force="mesh", process=True)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for corrupt/unknown content
        raise SynthgenError(f"{path}: cannot load CAD file: {type(exc).__name__}: {exc}") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise SynthgenError(f"{path}: CAD file holds no triangles")
    return loaded


@lru_cache(maxsize=64)
def _load_cached(path: str, units: str, digest: str) -> PartMesh:
    mesh = _load_raw(Path(path)).copy()
    mesh.apply_scale(UNIT_SCALE[units])
    mesh.merge_vertices()
    mesh.remove_unreferenced_vertices()
    com = center_of_mass(mesh)
    mesh.apply_translation(-com)
    return PartMesh(mesh=mesh, sha256=digest, center_mass_offset=com)


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
                 min_probability: float = 0.0, max_poses: int = 8) -> list[tuple[np.ndarray, float]]:
    """Resting poses of a part on a horizontal plane, with their probabilities.

    Computed once per file (keyed by its SHA-256 and units) with trimesh's quasi-static drop
    analysis and cached as JSON under ``cache_dir/poses``. Each 4x4 transform maps the centred
    mesh so that it rests on z = 0. Probabilities of the kept poses are renormalised to sum 1.
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
        poses = []
        for T, pr in zip(transforms, probs):
            T = np.asarray(T, dtype=float)
            v = trimesh.transform_points(mesh.vertices, T)
            T[2, 3] -= v[:, 2].min()  # exact contact with z = 0
            poses.append({"transform": T.tolist(), "probability": float(pr)})
        data = {"version": POSE_CACHE_VERSION, "sha256": part.sha256, "units": units, "poses": poses}
        if cache_file is not None:
            atomic_write_text(cache_file, json.dumps(data))
    poses = [(np.array(p["transform"], dtype=float), p["probability"]) for p in data["poses"]]
    poses.sort(key=lambda tp: -tp[1])
    kept = [tp for tp in poses if tp[1] >= min_probability][:max_poses] or poses[:1]
    total = sum(p for _, p in kept)
    return [(T, p / total if total > 0 else 1.0 / len(kept)) for T, p in kept]


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
