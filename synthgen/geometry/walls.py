"""How thick a part's wall is behind a surface patch (pure trimesh ray casting)."""

from __future__ import annotations

import numpy as np
import trimesh


def wall_far_side(mesh: trimesh.Trimesh, points: np.ndarray, normal: np.ndarray, above: float,
                  max_depth: float, min_share: float = 0.9) -> tuple[float, float] | None:
    """Depth range (min, max) below the patch plane of the wall's far side behind ``points``.

    ``points`` (K, 3) lie on the patch plane, ``normal`` is its outward unit normal, all in the
    mesh frame (metres). Each point casts a ray from ``above`` over the plane down ``-normal``;
    its first face that looks along ``normal`` is the near surface, and the next face that looks
    against it is the far side. Rays that miss the part are ignored. Returns None unless at least
    ``min_share`` of the rays that hit the part find a far side within ``max_depth``.
    """
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    if len(points) == 0:
        return None
    origins = np.asarray(points, float) + above * n
    dirs = np.tile(-n, (len(origins), 1))
    locs, ray_idx, tri_idx = mesh.ray.intersects_location(origins, dirs, multiple_hits=True)
    depth = (locs - origins[ray_idx]) @ -n - above  # below the plane: > 0
    facing = mesh.face_normals[tri_idx] @ n
    far, hit = [], 0
    for k in range(len(origins)):
        sel = np.nonzero(ray_idx == k)[0]
        if len(sel) == 0:
            continue
        sel = sel[np.argsort(depth[sel])]
        near = [i for i in sel if facing[i] > 0]
        if not near:
            continue
        hit += 1
        d0 = depth[near[0]]
        back = [i for i in sel if facing[i] < 0 and depth[i] > d0 + 1e-5]  # not a face touching the near one
        if back and depth[back[0]] <= max_depth:
            far.append(depth[back[0]])
    if hit == 0 or len(far) < min_share * hit:
        return None
    return float(min(far)), float(max(far))
