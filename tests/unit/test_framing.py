"""Automatic framing: the same config frames a 30 mm cube and a 1.2 m panel alike, where a fixed
arc loses one or the other."""

from __future__ import annotations

import numpy as np
import trimesh

from synthgen.config.job import JobConfig
from synthgen.geometry.cad import load_part
from synthgen.geometry.camera import points_in_view, project
from synthgen.plan import make_plan

from conftest import smoke_dict


def _cfg(tmp_path, extents, framing):
    path = tmp_path / f"box_{int(extents[0])}.stl"
    trimesh.creation.box(extents).export(path)
    d = smoke_dict(tmp_path / "out", parts=[{"name": "p", "path": str(path), "units": "mm"}],
                   stage={"belt": {"size": [3.0, 2.0]}}, placement={"area": [0.2, 0.2]})
    d["render"]["resolution"] = [320, 240]
    if framing:
        d["cameras"]["framing"] = {"fill": 0.6}
    return JobConfig.model_validate(d)


def _coverage(plan):
    """(fraction of the image's shorter side spanned by the part, all of it in view) per camera."""
    p = plan.parts[0]
    M = np.array(p.matrix_world)
    v = load_part(p.path, p.units).mesh.convex_hull.vertices @ M[:3, :3].T + M[:3, 3]
    out = []
    for cam in plan.cameras:
        uv, _ = project(v, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, (320, 240))
        span = max(np.ptp(uv[:, 0]), np.ptp(uv[:, 1])) / 240
        out.append((span, bool(points_in_view(v, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm,
                                                (320, 240)).all())))
    return out


def test_framing_fills_the_image_for_a_small_and_a_large_part(tmp_path):
    for extents in ((30.0, 30.0, 30.0), (1200.0, 600.0, 20.0)):
        plan = make_plan(_cfg(tmp_path, extents, True), 0, cache_dir=None)
        mid = _coverage(plan)[len(plan.cameras) // 2]
        assert mid[1] and 0.35 < mid[0] < 0.9, f"{extents}: spans {mid[0]:.2f} of the image"
        assert np.allclose(plan.cameras[0].look_at[:2], np.array(plan.parts[0].matrix_world)[:2, 3], atol=0.05)


def test_a_fixed_arc_loses_one_of_them(tmp_path):
    small = _coverage(make_plan(_cfg(tmp_path, (30.0, 30.0, 30.0), False), 0, cache_dir=None))
    large = _coverage(make_plan(_cfg(tmp_path, (1200.0, 600.0, 20.0), False), 0, cache_dir=None))
    small_span = max(s for s, _ in small)
    large_fits = [ok for _, ok in large]
    assert small_span < 0.3 or not all(large_fits), (
        f"a fixed arc served both: the 30 mm cube spans up to {small_span:.2f} of the image (should be under 0.3, "
        f"too small) and the 1.2 m panel fits in every camera ({large_fits}; some should not)")


def test_inspection_tiling_covers_a_large_part_with_overlapping_top_down_tiles(tmp_path):
    d = _cfg(tmp_path, (1800.0, 900.0, 20.0), False).model_dump(mode="json")
    d["placement"]["yaw_deg"] = [0.0, 0.0]  # the panel's long side along the belt
    d["cameras"].update(tiling={"tile_m": 0.4, "overlap": 0.1}, position_jitter=0.0, aim_jitter_deg=0.0,
                        roll_jitter_deg=0.0, focal_length_mm=[35.0, 35.0])
    plan = make_plan(JobConfig.model_validate(d), 0, cache_dir=None)
    assert len(plan.cameras) == 15  # 5 x 3 tiles of 0.4 m with 10 % overlap over 1.8 x 0.9 m
    p = plan.parts[0]
    M = np.array(p.matrix_world)
    v = load_part(p.path, p.units).mesh.vertices @ M[:3, :3].T + M[:3, 3]
    top = v[:, 2].max()
    lo, hi = v[:, :2].min(0), v[:, :2].max(0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 40), np.linspace(lo[1], hi[1], 20))
    pts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, top)], -1)
    seen = np.zeros(len(pts), bool)
    for cam in plan.cameras:
        R = np.array(cam.matrix_world)[:3, :3]
        assert R[2, 2] > 0.999, "tiles look straight down"
        seen |= points_in_view(pts, cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, (320, 240))
        # Each tile spans 0.4 m along the image's shorter side (240 px) at the part's top.
        uv, _ = project(np.array([[0, 0, top], [0, 0.4, top]]) + [*np.array(cam.matrix_world)[:2, 3], 0],
                        cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm, (320, 240))
        assert abs(np.ptp(uv[:, 1]) - 240) < 2
    assert seen.all(), f"{(~seen).sum()} points of the part's top are in no tile"


def test_closeups_look_square_at_sampled_defects_from_the_configured_field(tmp_path):
    """Close-up cameras come after the arc, each aimed at its own defect from within the tilt
    range of its normal, at the distance where field_m spans the image's shorter side."""
    d = smoke_dict(tmp_path / "out")
    d["render"]["resolution"] = [320, 240]
    d["cameras"]["closeups"] = {"count": 2, "field_m": 0.05, "tilt_deg": [0, 10]}
    d["cameras"].update(position_jitter=0.0, aim_jitter_deg=0.0, roll_jitter_deg=0.0, focal_length_mm=[40, 40])
    for k in d["defects"]["kinds"].values():
        k["count_per_part"] = [2, 2]
    cfg = JobConfig.model_validate(d)
    plan = make_plan(cfg, 0)
    arc = cfg.cameras.ark.count
    close = plan.cameras[arc:]
    assert len(close) == 2 and [c.camera_id for c in close] == [arc, arc + 1]
    positions = {tuple(np.round(x.position, 9)): x for x in plan.defects}
    seen = set()
    for cam in close:
        target = tuple(np.round(cam.look_at, 9))
        assert target in positions, "aimed at a defect"
        seen.add(target)
        defect = positions[target]
        C = np.array(cam.matrix_world)
        view = C[:3, 3] - np.array(defect.position)
        dist = np.linalg.norm(view)
        assert np.degrees(np.arccos(view @ np.array(defect.normal) / dist)) <= 10.0 + 1e-6
        # 0.05 m over the 240 px side at 40 mm on a 36 mm-wide sensor
        assert abs(dist - 0.025 / (36.0 * 240 / 320 / 2 / 40)) < 1e-6
        uv, _ = project(np.array([defect.position]), cam.matrix_world, cam.focal_length_mm, cam.sensor_width_mm,
                        (320, 240))
        assert np.allclose(uv[0], (160, 120), atol=1.0), "the defect is at the image centre"
    assert len(seen) == 2, "each close-up at its own defect"
    assert make_plan(cfg, 0) == plan
    d["cameras"]["closeups"] = None
    assert make_plan(JobConfig.model_validate(d), 0).cameras == plan.cameras[:arc], "the arc is unchanged"
