"""Defect placement in the plan: on the surface, inside the allowed cone, sized and seeded."""

from __future__ import annotations

import numpy as np
import trimesh

from synthgen.config import load_job_config
from synthgen.geometry.cad import load_part
from synthgen.plan import PlacementError, make_plan
from synthgen.plan.defects import decal_frame

from conftest import REPO

QS = REPO / "configs" / "quickstart.yaml"


def _plans(cfg, n=10, library=None):
    out = []
    for i in range(n):
        try:
            out.append(make_plan(cfg, i, cache_dir=None, library=library))
        except PlacementError:
            pass
    return out


def test_defects_lie_on_the_part_surface_with_its_normal(tmp_path):
    from synthgen.pipeline import resolve_library

    cfg = load_job_config(QS)
    plans = _plans(cfg, library=resolve_library(cfg, cfg.seed, tmp_path))
    n_def = 0
    for plan in plans:
        parts = {p.instance_id: p for p in plan.parts}
        for d in plan.defects:
            n_def += 1
            p = parts[d.part_instance_id]
            mesh = load_part(p.path, p.units).mesh.copy()
            mesh.apply_transform(np.array(p.matrix_world))
            _closest, dist, _tri = trimesh.proximity.closest_point(mesh, [d.position])
            assert dist[0] < 1e-6, "defect centre must be on the part surface"
            assert np.dot(mesh.face_normals[d.face_index], d.normal) > 0.9999
            lo, hi = cfg.defects.kinds[d.kind].size_mm
            assert lo <= d.size_mm <= hi
            assert d.variant_dir and (np.array(decal_frame(d.position, d.normal, d.rotation_deg))[:3, 2] @ d.normal) > 0.9999
    assert n_def > 10


def test_surface_cone_restricts_faces_and_plans_are_deterministic():
    cfg = load_job_config(QS)
    data = cfg.model_dump(mode="json")
    for k in data["defects"]["kinds"].values():
        k["surface"] = {"direction": [0, 0, 1], "max_angle_deg": 20}
        k["count_per_part"] = [1, 1]
    from synthgen.config import JobConfig

    cfg2 = JobConfig.model_validate(data, context={"config_dir": QS.parent})
    total = 0
    for plan in _plans(cfg2, 6):
        assert len(plan.defects) <= 8 * len(plan.parts)  # a part with no upward face gets none
        total += len(plan.defects)
        for d in plan.defects:
            assert d.normal[2] >= np.cos(np.radians(20)) - 1e-9
    assert total >= 8 * 6
    a = make_plan(cfg2, 1, cache_dir=None).to_json()
    b = make_plan(cfg2, 1, cache_dir=None).to_json()
    assert a == b


def test_ply_and_glb_load_with_declared_units(tmp_path):
    src = load_part(REPO / "assets" / "parts" / "flange.stl", "mm").mesh
    scaled = src.copy()
    scaled.apply_scale(1000.0)  # back to millimetres in the file
    for ext in ("ply", "glb"):
        f = tmp_path / f"flange.{ext}"
        scaled.export(f)
        got = load_part(f, "mm").mesh
        assert np.allclose(got.extents, src.extents, rtol=1e-4), ext
