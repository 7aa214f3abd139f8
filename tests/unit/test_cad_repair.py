"""Real-world CAD as exports deliver it: open surfaces, several bodies, degenerate faces, inches,
COLLADA, and resting poses no real part would keep. Small procedural meshes of each."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from synthgen.config.job import JobConfig
from synthgen.geometry.cad import load_part, stable_poses
from synthgen.plan import make_plan

from conftest import smoke_dict


def _box_mm(tmp_path, name="box.stl", extents=(60.0, 40.0, 20.0)):
    path = tmp_path / name
    trimesh.creation.box(extents).export(path)
    return path


def _open_box(tmp_path):
    b = trimesh.creation.box((60.0, 40.0, 20.0))
    open_box = trimesh.Trimesh(b.vertices, b.faces[b.face_normals[:, 2] < 0.5], process=False)  # no lid
    path = tmp_path / "open_box.stl"
    open_box.export(path)
    return path


def test_an_open_mesh_rests_on_its_hull_and_gets_defects_on_its_real_surface(tmp_path):
    path = _open_box(tmp_path)
    pm = load_part(path, "mm")
    assert not pm.mesh.is_watertight
    assert any("not watertight (4 open edges)" in n and "convex hull" in n for n in pm.notes), pm.notes
    # The centre of mass is the hull's (the box's centre), not a meaningless open-surface integral.
    assert np.allclose(pm.center_mass_offset, [0, 0, 0], atol=1e-9)
    poses = stable_poses(pm, "mm", None)
    assert len(poses) >= 3
    data = smoke_dict(tmp_path / "out", parts=[{"name": "tray", "path": str(path), "units": "mm"}],
                      placement={"area": [0.05, 0.05]})
    cfg = JobConfig.model_validate(data)
    # resting open side up, the tray's floor is hidden by its walls from some cameras and a scene
    # may have no defect: enough scenes to hold several
    plans = [make_plan(cfg, i, cache_dir=None) for i in range(8)]
    local = [np.array(d.local_position) for p in plans for d in p.defects]
    assert len(local) >= 8
    dist = np.abs(trimesh.proximity.signed_distance(pm.mesh, np.array(local)))
    assert dist.max() < 1e-6, "every defect sits on the open mesh's real faces"


def test_several_bodies_are_one_rigid_part(tmp_path):
    a = trimesh.creation.box((30.0, 30.0, 10.0))
    b = trimesh.creation.box((30.0, 30.0, 10.0))
    b.apply_translation((50.0, 0, 0))
    path = tmp_path / "two.stl"
    trimesh.util.concatenate([a, b]).export(path)
    pm = load_part(path, "mm")
    assert pm.bodies == 2 and pm.notes == (), "two clean bodies need no warning"
    assert np.allclose(pm.mesh.extents, [0.08, 0.03, 0.01])
    # The centre of mass lies between the two equal bodies, and the pair rests flat.
    assert np.allclose(pm.center_mass_offset, [0.025, 0, 0], atol=1e-9)
    T, _ = stable_poses(pm, "mm", None)[0]
    assert np.ptp(trimesh.transform_points(pm.mesh.vertices, T)[:, 2]) == pytest.approx(0.01, abs=1e-9)


def test_a_degenerate_sliver_that_closes_a_solid_is_kept(tmp_path):
    # One of the two faces along a box edge A-B is split at the edge's midpoint M; the zero-area
    # triangle (A, B, M) is what joins the split side to the other: removing it opens the solid.
    b = trimesh.creation.box((60.0, 40.0, 20.0))
    a, bb = (int(x) for x in b.edges_unique[0])
    v = np.vstack([b.vertices, (b.vertices[a] + b.vertices[bb]) / 2])
    on_edge = [f for f in b.faces.tolist() if {a, bb} <= set(f)]
    faces = [f for f in b.faces.tolist() if f not in on_edge[:1]]
    c = next(x for x in on_edge[0] if x not in (a, bb))
    faces += [[a, 8, c], [8, bb, c], [a, bb, 8]]
    path = tmp_path / "sliver.stl"
    mesh = trimesh.Trimesh(v, faces, process=False)
    assert mesh.is_watertight and mesh.nondegenerate_faces().sum() == len(faces) - 1
    mesh.export(path)
    pm = load_part(path, "mm")
    assert pm.mesh.is_watertight and pm.notes == ()


def test_degenerate_faces_are_removed_and_counted(tmp_path):
    b = trimesh.creation.box((60.0, 40.0, 20.0))
    faces = np.vstack([b.faces, [[0, 1, 1], [2, 2, 2]], b.faces[:1]])  # two zero-area, one duplicate
    path = tmp_path / "degenerate.stl"
    trimesh.Trimesh(b.vertices, faces, process=False).export(path)
    pm = load_part(path, "mm")
    assert len(pm.mesh.faces) == 12 and pm.mesh.is_watertight
    assert any("removed 3 degenerate or duplicate faces of 15" in n for n in pm.notes), pm.notes


def test_a_file_in_inches_is_the_same_part_as_its_millimetre_twin(tmp_path):
    mm = load_part(_box_mm(tmp_path, "mm.stl", (25.4, 50.8, 12.7)), "mm")
    inch = load_part(_box_mm(tmp_path, "in.stl", (1.0, 2.0, 0.5)), "in")
    assert np.allclose(mm.mesh.extents, inch.mesh.extents) and np.allclose(inch.mesh.extents, [0.0254, 0.0508, 0.0127])
    assert inch.notes == ()


def test_collada_loads_with_declared_units(tmp_path):
    pytest.importorskip("collada", reason="pycollada (a synthgen dependency) is not installed")
    path = tmp_path / "part.dae"
    trimesh.creation.box((60.0, 40.0, 20.0)).export(path)
    pm = load_part(path, "mm")
    assert np.allclose(sorted(pm.mesh.extents), [0.02, 0.04, 0.06])


def test_robustness_filter_drops_a_low_poly_disc_standing_on_a_rim_facet(tmp_path):
    disc = trimesh.creation.cylinder(radius=40.0, height=10.0, sections=12)
    path = tmp_path / "pulley.stl"
    disc.export(path)
    pm = load_part(path, "mm")
    upright = lambda T: abs(T[2, 2]) > 0.999
    every = stable_poses(pm, "mm", None, 0.0, 32)
    assert any(not upright(T) for T, _ in every), "the drop analysis offers rim poses"
    robust = stable_poses(pm, "mm", None, 0.0, 32, min_support_ratio=0.5)
    assert robust and all(upright(T) for T, _ in robust)
    assert sum(p for _, p in robust) == pytest.approx(1.0)


def test_robustness_filter_keeps_poses_whose_centre_of_mass_is_well_inside_the_support(tmp_path):
    # A 20 x 40 x 60 mm block: on its 40 x 60 face the centre of mass is 20 mm from the support's
    # edge, on the other faces 10 mm. A 15 mm margin keeps only the two broad-face poses.
    pm = load_part(_box_mm(tmp_path, extents=(20.0, 40.0, 60.0)), "mm")
    poses = stable_poses(pm, "mm", None, 0.0, 32, min_com_margin=0.015)
    heights = sorted({round(float(np.ptp(trimesh.transform_points(pm.mesh.vertices, T)[:, 2])), 6)
                      for T, _ in poses})
    assert heights == [0.02]
    all_heights = {round(float(np.ptp(trimesh.transform_points(pm.mesh.vertices, T)[:, 2])), 6)
                   for T, _ in stable_poses(pm, "mm", None, 0.0, 32)}
    assert all_heights == {0.02, 0.04, 0.06}


def test_the_filter_is_a_config_field_and_off_by_default(tmp_path):
    path = tmp_path / "pulley.stl"
    trimesh.creation.cylinder(radius=40.0, height=10.0, sections=12).export(path)
    base = smoke_dict(tmp_path / "out", parts=[{"name": "pulley", "path": str(path), "units": "mm"}],
                      placement={"area": [0.05, 0.05], "max_poses": 16, "stable_pose_min_probability": 0.0})
    assert JobConfig.model_validate(base).placement.min_support_ratio == 0.0
    strict = {**base, "placement": {**base["placement"], "min_support_ratio": 0.5}}
    cfg = JobConfig.model_validate(strict)
    for i in range(12):
        M = np.array(make_plan(cfg, i, cache_dir=None).parts[0].matrix_world)
        assert abs(M[2, 2]) > 0.999, f"scene {i}: the pulley stands on its rim"
