"""Where a part's edges are (pure trimesh/numpy): sharp feature edges and boundary edges, and how
far surface points lie from them. Used by the planner's edge-distance placement constraint
(``surface.max_edge_distance_mm``) for defects that only occur at edges (chips, frayed borders)."""

from __future__ import annotations

import numpy as np
import trimesh


def feature_edges(mesh: trimesh.Trimesh, sharp_deg: float) -> np.ndarray:
    """(E, 2, 3) segments in the mesh frame: edges where the two faces' normals differ by more
    than ``sharp_deg`` degrees, plus boundary edges (edges of one face only, as in open CAD exports)."""
    adj = mesh.face_adjacency_edges[mesh.face_adjacency_angles > np.radians(sharp_deg)]
    counts = np.bincount(mesh.edges_unique_inverse, minlength=len(mesh.edges_unique))
    boundary = mesh.edges_unique[counts == 1]
    edges = np.concatenate([adj.reshape(-1, 2), boundary.reshape(-1, 2)]).astype(np.int64)
    return np.asarray(mesh.vertices)[edges]


def segments_along(segments: np.ndarray, direction, tol_deg: float) -> np.ndarray:
    """The ``segments`` (E, 2, 3) that run within ``tol_deg`` degrees of ``direction`` (either sense)."""
    d = np.asarray(direction, float)
    ab = segments[:, 1] - segments[:, 0]
    cos = np.abs(ab @ d) / np.maximum(np.linalg.norm(ab, axis=1) * np.linalg.norm(d), 1e-30)
    return segments[cos >= np.cos(np.radians(tol_deg))]


def distance_to_segments(points: np.ndarray, segments: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(N,) Euclidean distance from each of ``points`` (N, 3) to the nearest of ``segments`` (E, 2, 3);
    inf when there are no segments."""
    points = np.atleast_2d(np.asarray(points, float))
    if len(segments) == 0:
        return np.full(len(points), np.inf)
    a, b = segments[:, 0], segments[:, 1]
    ab = b - a
    ll = np.maximum((ab * ab).sum(1), 1e-30)
    out = np.empty(len(points))
    for s in range(0, len(points), chunk):
        p = points[s: s + chunk, None, :]                       # (n, 1, 3)
        t = np.clip(((p - a) * ab).sum(2) / ll, 0.0, 1.0)      # (n, E)
        d = p - (a + t[..., None] * ab)
        out[s: s + chunk] = np.sqrt((d * d).sum(2).min(1))
    return out


def faces_near_edges(mesh: trimesh.Trimesh, segments: np.ndarray, max_dist: float) -> np.ndarray:
    """(F,) bool: faces that may hold a point within ``max_dist`` of a segment (a conservative test:
    the centroid's distance minus the face's circumradius about its centroid)."""
    c = np.asarray(mesh.triangles_center)
    rad = np.linalg.norm(np.asarray(mesh.triangles) - c[:, None, :], axis=2).max(1)
    return distance_to_segments(c, segments) - rad <= max_dist
