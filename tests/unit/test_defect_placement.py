"""Defect placement in the plan: on the surface, inside the allowed cone, sized and seeded."""

from __future__ import annotations

import numpy as np
import trimesh

from synthgen.config.job import load_job_config
from synthgen.geometry.cad import load_part
from synthgen.geometry.decal import decal_frame
from synthgen.plan import PlacementError, make_plan

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
    from synthgen.plan.library import resolve_library

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
    from synthgen.config.job import JobConfig

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


def _box_config(tmp_path, surface: dict):
    """A 60 x 40 x 8 mm block on the quickstart stage, every kind placed once with ``surface``."""
    from synthgen.config.job import JobConfig

    trimesh.creation.box((60.0, 40.0, 8.0)).export(tmp_path / "block.stl")
    data = load_job_config(QS).model_dump(mode="json")
    data["parts"] = [{"name": "block", "path": str(tmp_path / "block.stl"), "units": "mm", "count": [1, 1]}]
    data["parts_per_scene"] = [1, 1]
    for k in data["defects"]["kinds"].values():
        k["surface"] = {**k["surface"], **surface}
        k["count_per_part"] = [1, 1]
    return JobConfig.model_validate(data, context={"config_dir": QS.parent})


def _edge_distance_mm(plan, d) -> float:
    """Distance (mm) of a defect centre on the block to the block's nearest edge, analytically: on
    the face whose normal is axis k, min over the other axes j of (half extent j - |x_j|)."""
    p = plan.parts[0]
    M = np.array(p.matrix_world)
    x = np.linalg.inv(M) @ np.array([*d.position, 1.0])
    half = np.array([30.0, 20.0, 4.0]) / 1000.0
    k = int(np.argmax(np.abs(x[:3]) / half))
    return 1000.0 * min(half[j] - abs(x[j]) for j in range(3) if j != k)


def test_edge_constraint_keeps_defects_within_d_of_an_edge(tmp_path):
    near = _box_config(tmp_path, {"max_edge_distance_mm": 2.0})
    dist = [_edge_distance_mm(pl, d) for pl in _plans(near, 6) for d in pl.defects]
    assert len(dist) >= 20
    assert max(dist) <= 2.0 + 1e-6
    anywhere = _box_config(tmp_path, {})
    free = [_edge_distance_mm(pl, d) for pl in _plans(anywhere, 6) for d in pl.defects]
    assert max(free) > 5.0  # without the constraint, defects land well inside the faces


def _x_edge_distance_mm(plan, d) -> float:
    """Distance (mm) of a defect centre on the block to the nearest edge running along the block's x."""
    x = np.linalg.inv(np.array(plan.parts[0].matrix_world)) @ np.array([*d.position, 1.0])
    half = np.array([30.0, 20.0, 4.0]) / 1000.0
    gap = half - np.abs(x[:3])
    k = int(np.argmin(gap))  # the face the centre lies on
    if k == 0:  # an end face: the x edges end at its corners
        return 1000.0 * float(np.hypot(gap[1], gap[2]))
    return 1000.0 * float(gap[2] if k == 1 else gap[1])


def test_an_edge_direction_keeps_defects_at_the_edges_that_run_along_it(tmp_path):
    """The twin's cracks start at a tile's ends, not its long sides: with edge_direction only edges
    along that axis of the part count."""
    along = _box_config(tmp_path, {"max_edge_distance_mm": 2.0, "edge_direction": [1.0, 0.0, 0.0]})
    dist = [_x_edge_distance_mm(pl, d) for pl in _plans(along, 6) for d in pl.defects]
    assert len(dist) >= 20 and max(dist) <= 2.0 + 1e-6
    anyedge = _box_config(tmp_path, {"max_edge_distance_mm": 2.0})
    assert max(_x_edge_distance_mm(pl, d) for pl in _plans(anyedge, 6) for d in pl.defects) > 5.0


def test_edge_constraint_with_no_sharp_edge_places_nothing(tmp_path):
    # a 90-degree box edge is not sharp when only edges over 95 degrees count
    cfg = _box_config(tmp_path, {"max_edge_distance_mm": 2.0, "sharp_edge_deg": 95.0})
    assert all(not pl.defects for pl in _plans(cfg, 3))


def test_edges_of_an_open_sheet_are_its_boundary():
    from synthgen.geometry.edges import distance_to_segments, feature_edges

    sheet = trimesh.creation.box((0.06, 0.04, 0.002))
    top = sheet.face_normals[:, 2] > 0.9
    sheet.update_faces(top)  # only the top face: an open, flat sheet
    segs = feature_edges(sheet, 30.0)
    d = distance_to_segments(np.array([[0.0, 0.0, 0.001], [0.029, 0.0, 0.001], [0.0, -0.0195, 0.001]]), segs)
    assert np.allclose(d, [0.02, 0.001, 0.0005])


def test_a_yaw_range_is_measured_from_the_parts_own_x_axis(tmp_path):
    """With placement.yaw_deg [0, 0], every resting pose lays the part's x axis along the belt."""
    from synthgen.config.job import JobConfig

    trimesh.creation.box((60.0, 20.0, 8.0)).export(tmp_path / "bar.stl")
    data = load_job_config(QS).model_dump(mode="json")
    data["parts"] = [{"name": "bar", "path": str(tmp_path / "bar.stl"), "units": "mm", "count": [1, 1]}]
    data["parts_per_scene"] = [1, 1]
    data["placement"]["yaw_deg"] = [0.0, 0.0]
    cfg = JobConfig.model_validate(data, context={"config_dir": QS.parent})
    lying = 0
    for plan in _plans(cfg, 12):
        R = np.array(plan.parts[0].matrix_world)[:3, :3]
        if abs(R[2, 0]) < 0.5:   # lying: the bar's long axis runs along the belt, whatever face is down
            assert R[0, 0] > 0.999
            lying += 1
        else:                    # standing on an end: its y axis does
            assert R[0, 1] > 0.999
    assert lying >= 6


def test_a_kinds_rotation_range_bounds_the_planned_rotation_and_orients_its_frame():
    """rotation_deg [-5, 5] keeps every planned rotation in range; on a face facing up the map's
    +x then lies along -y of the world within 5 degrees (the reference tangent)."""
    from synthgen.config.job import JobConfig

    data = load_job_config(QS).model_dump(mode="json")
    for k in data["defects"]["kinds"].values():
        k["surface"] = {"direction": [0, 0, 1], "max_angle_deg": 10}
        k["count_per_part"] = [1, 1]
        k["rotation_deg"] = [-5, 5]
    cfg = JobConfig.model_validate(data, context={"config_dir": QS.parent})
    n = 0
    for plan in _plans(cfg, 4):
        for d in plan.defects:
            n += 1
            assert -5 <= d.rotation_deg <= 5
            x = decal_frame(d.position, d.normal, d.rotation_deg)[:3, 0]
            assert x @ np.array([0.0, -1.0, 0.0]) > np.cos(np.radians(5 + 10))  # plus the face's tilt
    assert n >= 8


def test_log_uniform_sizes_put_half_the_defects_below_the_geometric_mean_and_move_nothing_else():
    from types import SimpleNamespace

    from synthgen.dataset.job import config_hash
    from synthgen.plan.defects import draw_size

    lo, hi = 1.0, 16.0
    sizes = {}
    for dist in ("uniform", "log_uniform"):
        rng = np.random.default_rng(3)
        sizes[dist] = np.array([draw_size(SimpleNamespace(size_mm=(lo, hi), size_dist=dist), rng)
                                for _ in range(4000)])
        assert sizes[dist].min() >= lo and sizes[dist].max() <= hi
    assert abs(np.mean(sizes["log_uniform"] < 4.0) - 0.5) < 0.03  # geometric mean of 1 and 16
    assert abs(np.mean(sizes["uniform"] < 8.5) - 0.5) < 0.03      # arithmetic mean
    assert np.mean(sizes["log_uniform"] < 2.0) > 0.2              # a quarter of the octaves: many small ones

    from synthgen.config.job import JobConfig

    data = load_job_config(QS).model_dump(mode="json")
    cfg = JobConfig.model_validate(data, context={"config_dir": QS.parent})
    for k in data["defects"]["kinds"].values():
        assert k.pop("size_dist") == "uniform"
    assert config_hash(JobConfig.model_validate(data, context={"config_dir": QS.parent})) == config_hash(cfg)
    for k in data["defects"]["kinds"].values():
        k["size_dist"] = "log_uniform"
    cfg_log = JobConfig.model_validate(data, context={"config_dir": QS.parent})
    assert config_hash(cfg_log) != config_hash(cfg)  # the sizes change, so the dataset's hash does
    a, b = make_plan(cfg, 2, cache_dir=None), make_plan(cfg_log, 2, cache_dir=None)
    assert len(a.defects) == len(b.defects) > 0
    for da, db in zip(a.defects, b.defects):  # one draw either way: positions and rotations stay put
        assert da.position == db.position and da.rotation_deg == db.rotation_deg
        lo_k, hi_k = cfg.defects.kinds[da.kind].size_mm
        assert lo_k <= db.size_mm <= hi_k
