"""The plan is pure, seeded and physically sensible."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from shapely.geometry import Point

from synthgen.config.job import JobConfig, load_job_config
from synthgen.geometry.cad import load_part, support_polygon
from synthgen.plan import PlacementError, make_plan

from conftest import REPO, requires_magnetic_tile, run_cli, smoke_dict

QUICKSTART = REPO / "configs" / "quickstart.yaml"


@pytest.fixture(scope="module")
def qs_cfg():
    return load_job_config(QUICKSTART)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = run_cli("plan", str(QUICKSTART), "--scene", "2", "--no-cache")
    b = run_cli("plan", str(QUICKSTART), "--scene", "2", "--no-cache")
    c = run_cli("plan", str(QUICKSTART), "--scene", "2", "--no-cache", "--seed", "99")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout


def test_stages_draw_from_independent_streams(qs_cfg):
    base = make_plan(qs_cfg, 1, cache_dir=None)
    data = qs_cfg.model_dump()
    data["lights"].append({"type": "point", "position": [0, 0, 1]})
    data["cameras"]["focal_length_mm"] = [20.0, 25.0]
    changed = make_plan(JobConfig.model_validate(data), 1, cache_dir=None)
    assert changed.parts == base.parts  # parts and materials untouched by light/camera edits
    assert changed.stage == base.stage
    # The appended light (probability 1) comes last; the lights before it keep every draw.
    assert changed.lights[:-1] == base.lights and len(changed.lights) == len(base.lights) + 1
    assert changed.lights[-1].type == "point" and changed.lights[-1].light_id == len(qs_cfg.lights)
    assert changed.cameras != base.cameras


def _plans(cfg, n):
    """Plans of the first n scenes that can be placed (a tight scene may be skipped by design)."""
    out = []
    for scene in range(n):
        try:
            out.append(make_plan(cfg, scene, cache_dir=None))
        except PlacementError:
            continue
    assert len(out) >= n * 2 // 3, "most quickstart scenes should be placeable"
    return out


def _world_vertices(part_plan):
    pm = load_part(part_plan.path, part_plan.units)
    M = np.array(part_plan.matrix_world)
    return trimesh.transform_points(pm.mesh.vertices, M), M


def test_sampled_poses_rest_on_the_belt(qs_cfg):
    for plan in _plans(qs_cfg, 12):
        for p in plan.parts:
            v, M = _world_vertices(p)
            assert abs(v[:, 2].min()) < 1e-6, "lowest vertex must touch the belt (z = 0)"
            com = M[:3, 3]  # the mesh is centred on its centre of mass
            assert com[2] > 0
            support = support_polygon(v, tol=1e-4)
            assert support.buffer(1e-6).contains(Point(com[0], com[1])), (
                f"{p.name}: centre of mass outside the support polygon (would tip over)")


def test_placements_never_overlap_and_stay_on_belt(qs_cfg):
    from synthgen.geometry.cad import footprint

    for plan in _plans(qs_cfg, 15):
        prints = [footprint(_world_vertices(p)[0]) for p in plan.parts]
        for i in range(len(prints)):
            for j in range(i + 1, len(prints)):
                assert prints[i].distance(prints[j]) >= qs_cfg.placement.clearance - 1e-9
            for rail in qs_cfg.stage.obstacles:
                x0, y0 = rail.center[0] - rail.size[0] / 2, rail.center[1] - rail.size[1] / 2
                from shapely.geometry import box

                assert not prints[i].intersects(box(x0, y0, x0 + rail.size[0], y0 + rail.size[1]))


def test_impossible_placement_is_reported_not_crashed(tmp_path):
    d = smoke_dict(tmp_path / "o")
    d["parts"][0]["count"] = [6, 6]
    d["parts_per_scene"] = [6, 6]
    d["placement"] = {"area": [0.01, 0.01], "max_attempts": 20}
    cfg = JobConfig.model_validate(d)
    with pytest.raises(PlacementError, match="20 attempts"):
        make_plan(cfg, 0, cache_dir=None)


def test_stable_poses_cached_by_file_hash(tmp_path, qs_cfg):
    make_plan(qs_cfg, 0, cache_dir=tmp_path)
    files = list((tmp_path / "poses").glob("*.json"))
    assert files and all(len(f.name.split("_")[0]) == 64 for f in files)
    before = {f.name: f.stat().st_mtime_ns for f in files}
    make_plan(qs_cfg, 0, cache_dir=tmp_path)  # second plan reads, does not rewrite
    assert {f.name: f.stat().st_mtime_ns for f in (tmp_path / "poses").glob("*.json")} == before


def test_units_are_applied(tmp_path):
    mm = load_part(REPO / "assets" / "parts" / "bracket.stl", "mm").mesh.extents
    inch = load_part(REPO / "assets" / "parts" / "bracket.stl", "in").mesh.extents
    assert np.allclose(mm, [0.08, 0.05, 0.06], atol=1e-4)
    assert np.allclose(inch / mm, 25.4)


def test_cameras_form_an_arc_aimed_at_the_look_at_point(qs_cfg):
    data = qs_cfg.model_dump()
    data["cameras"].update(position_jitter=0.0, aim_jitter_deg=0.0, roll_jitter_deg=0.0)
    plan = make_plan(JobConfig.model_validate(data), 0, cache_dir=None)
    a = qs_cfg.cameras.ark
    assert len(plan.cameras) == a.count == 9
    for c in plan.cameras:
        M = np.array(c.matrix_world)
        eye = M[:3, 3]
        assert np.isclose(np.linalg.norm(eye - np.array(a.look_at)), a.radius)
        forward = -M[:3, 2]
        to_target = (np.array(a.look_at) - eye) / np.linalg.norm(np.array(a.look_at) - eye)
        assert np.dot(forward, to_target) > 0.9999
        assert eye[2] > 0


@requires_magnetic_tile
def test_top_down_cameras_keep_the_configured_image_up():
    """The twin's near-top-down cameras show the belt's y axis (the tile's length) up the image,
    within the roll jitter, whatever tilt the position and aim jitters leave; with the default
    (vertical) reference their orientation would follow that tilt."""
    cfg = load_job_config(REPO / "configs" / "twin_magnetic_tile.yaml")
    assert tuple(cfg.cameras.image_up) == (0, 1, 0)
    limit = cfg.cameras.roll_jitter_deg + 0.5
    worst_default = 0.0
    for scene in range(6):
        for up, cams in ((True, make_plan(cfg, scene, cache_dir=None).cameras),
                         (False, make_plan(cfg.model_copy(update={"cameras": cfg.cameras.model_copy(
                             update={"image_up": (0.0, 0.0, 1.0)})}), scene, cache_dir=None).cameras)):
            for c in cams:
                M = np.array(c.matrix_world)
                # world +y seen in the image: its angle from the camera's up (local +Y) axis
                y_img = np.array([M[:3, 0] @ [0, 1, 0], M[:3, 1] @ [0, 1, 0]])
                angle = abs(np.degrees(np.arctan2(y_img[0], y_img[1])))
                if up:
                    assert angle <= limit, (scene, c.camera_id, angle)
                else:
                    worst_default = max(worst_default, angle)
    assert worst_default > 3 * limit  # the problem the setting solves


def test_zero_image_up_is_a_named_config_error():
    data = load_job_config(QUICKSTART).model_dump(mode="json")
    data["cameras"]["image_up"] = [0, 0, 0]
    with pytest.raises(Exception, match="image_up"):
        JobConfig.model_validate(data, context={"config_dir": REPO / "configs"})


@requires_magnetic_tile
def test_albedo_streaks_and_speckle_are_drawn_only_when_asked_for(qs_cfg):
    """A material preset's albedo_variation and speckle are drawn in their ranges and seeded; a
    preset without them gets none."""
    twin = load_job_config(REPO / "configs" / "twin_magnetic_tile.yaml")
    preset = twin.materials[0].model_copy(update={"albedo_variation": (0.4, 0.75), "speckle": (0.15, 0.35)})
    twin = twin.model_copy(update={"materials": [preset]})
    mats = [make_plan(twin, s, cache_dir=None).parts[0].material for s in range(4)]
    for m in mats:
        assert preset.albedo_variation[0] <= m.albedo_variation <= preset.albedo_variation[1]
        assert preset.speckle[0] <= m.speckle <= preset.speckle[1]
    assert len({m.albedo_variation for m in mats}) == 4
    assert make_plan(twin, 2, cache_dir=None).parts[0].material == mats[2]
    plain = make_plan(qs_cfg, 0, cache_dir=None)
    assert all(p.material.albedo_variation == 0 and p.material.speckle == 0 for p in plain.parts)


def test_the_pixel_filter_width_is_planned_and_a_default_plan_stays_as_it_was(qs_cfg):
    import json

    from synthgen.plan.types import plan_from_dict

    plain = make_plan(qs_cfg, 0, cache_dir=None)
    assert plain.render.filter_width_px == 1.5
    assert "filter_width_px" not in json.loads(plain.to_json())["render"], "Cycles' default is not written"
    sharp_cfg = qs_cfg.model_copy(update={"render": qs_cfg.render.model_copy(update={"filter_width_px": 0.8})})
    sharp = make_plan(sharp_cfg, 0, cache_dir=None)
    assert sharp.render.filter_width_px == 0.8
    assert plan_from_dict(json.loads(sharp.to_json())).render.filter_width_px == 0.8
    assert plan_from_dict(json.loads(plain.to_json())).render.filter_width_px == 1.5


def test_healthy_share_plans_defect_free_scenes_and_leaves_the_others_as_they_were(qs_cfg):
    """defects.healthy_share: that share of scenes is planned without any defect (a line's parts
    are mostly good); the other scenes keep every draw, and a share of 0 changes no plan."""
    data = qs_cfg.model_dump()
    data["verification"]["render_without_defects"] = True
    base = JobConfig.model_validate(data)
    data["defects"]["healthy_share"] = 0.5
    half = JobConfig.model_validate(data)
    data["defects"]["healthy_share"] = 1.0
    every = JobConfig.model_validate(data)
    placeable, healthy = 0, 0
    for scene in range(16):
        try:
            a, b = (make_plan(cfg, scene, cache_dir=None) for cfg in (base, half))
        except PlacementError:
            continue
        placeable += 1
        assert a.defects, "the quickstart places defects on every scene"
        if b.defects:
            assert b == a
        else:
            healthy += 1
            assert b.parts == a.parts and b.lights == a.lights and b.cameras == a.cameras
        if placeable <= 3:
            c = make_plan(every, scene, cache_dir=None)
            assert c.defects == () and c.parts == a.parts and c.cameras == a.cameras
    assert placeable >= 10 and 2 <= healthy <= placeable - 2, (placeable, healthy)  # about half
