"""Pure label-truth rules (issue 11): where defects may be planned, how deep a hole goes, and
when a defect is labelled (contrast, facing) — no render needed."""

from __future__ import annotations

import dataclasses

import numpy as np
import trimesh

from synthgen.annotate.contrast import contrast_check, regions_of
from synthgen.annotate.visibility import visible_defects
from synthgen.config.job import load_job_config
from synthgen.geometry.walls import wall_far_side
from synthgen.plan import PlacementError, make_plan

from conftest import REPO

QS = REPO / "configs" / "quickstart.yaml"


def test_far_side_of_a_thin_wall_is_its_thickness_and_a_thick_wall_is_not_opened():
    plate = trimesh.creation.box((0.1, 0.1, 0.004))  # 4 mm thick, top face at z = +2 mm
    pts = np.array([[x, y, 0.002] for x in (-0.01, 0, 0.01) for y in (-0.01, 0.01)])
    lo, hi = wall_far_side(plate, pts, np.array([0, 0, 1.0]), above=0.005, max_depth=0.03)
    assert abs(lo - 0.004) < 1e-9 and abs(hi - 0.004) < 1e-9
    assert wall_far_side(plate, pts, np.array([0, 0, 1.0]), above=0.005, max_depth=0.003) is None
    # A footprint hanging over the edge: rays that miss the part do not count against it.
    edge = np.array([[0.049, 0, 0.002], [0.06, 0, 0.002]])
    assert np.allclose(wall_far_side(plate, edge, np.array([0, 0, 1.0]), 0.005, 0.03), (0.004, 0.004))


def test_default_surface_filter_never_plans_on_the_belt_face_or_out_of_every_camera():
    cfg = load_job_config(QS)
    data = cfg.model_dump(mode="json")
    for k in data["defects"]["kinds"].values():
        k["count_per_part"] = [2, 2]
    cfg = type(cfg).model_validate(data, context={"config_dir": QS.parent})
    n = 0
    for i in range(8):
        try:
            plan = make_plan(cfg, i, cache_dir=None)
        except PlacementError:
            continue
        eyes = np.array([np.array(c.matrix_world)[:3, 3] for c in plan.cameras])
        for d in plan.defects:
            n += 1
            assert d.normal[2] > -0.5 or d.position[2] > 1e-3, "defect on a face resting on the belt"
            to_cam = eyes - np.array(d.position)
            cos = (to_cam / np.linalg.norm(to_cam, axis=1, keepdims=True)) @ np.array(d.normal)
            assert cos.max() >= np.cos(np.radians(75)) - 0.05, "no camera sees the defect's face"
    assert n > 50


def test_contrast_check_drops_faint_defects_and_cuts_labels_to_what_changes():
    ids = np.zeros((40, 40), np.int32)
    ids[5:15, 5:15] = 1  # 100 px, 60 of them change by 30 levels
    ids[20:30, 20:30] = 2  # 100 px, 10 of them change (a faint defect)
    without = np.full((40, 40, 3), 100, np.uint8)
    with_img = without.copy()
    with_img[5:11, 5:15] = 130
    with_img[20:21, 20:30] = 140
    vis = [{"defect_id": 1, "kind": "a"}, {"defect_id": 2, "kind": "b"}]
    kept, dropped, out = contrast_check(ids, with_img, without, vis, 10, 0.2, 5)
    assert [k["defect_id"] for k in kept] == [1] and [d["defect_id"] for d in dropped] == [2]
    assert dropped[0]["reason"] == "low_contrast" and dropped[0]["contrast"]["changed_fraction"] == 0.1
    assert kept[0]["labelled_pixels"] == 60 and (out == 1).sum() == 60 and not (out == 2).any()
    assert (out[5:11, 5:15] == 1).all(), "the label keeps exactly the changed part"
    # A footprint beyond the label (a rim, a halo): labelled where it changes the image, not elsewhere.
    foot = ids.copy()
    foot[4:16, 4:16] = np.where(ids[4:16, 4:16] == 0, 1, ids[4:16, 4:16])
    with_rim = with_img.copy()
    with_rim[4, 4:16] = 160  # the rim's top row shows; its other sides do not
    kept, _, out = contrast_check(ids, with_rim, without, vis, 10, 0.2, 5, footprint=foot)
    assert (out[4, 4:16] == 1).all() and (out[15, 4:16] == 0).all() and kept[0]["labelled_pixels"] == 72
    _, _, untrimmed = contrast_check(ids, with_img, without, vis, 10, 0.2, 5, trim=False)
    assert (untrimmed == 1).sum() == 100
    assert regions_of(ids, {1}, margin=2) == [(3, 3, 17, 17)]
    assert regions_of(ids, {1, 2}, margin=2, overhead_px=0) == [(3, 3, 17, 17), (18, 18, 32, 32)], \
        "distant labels: two boxes"
    assert regions_of(ids, {1, 2}, margin=2, overhead_px=500) == [(3, 3, 32, 32)], \
        "one render fewer is worth up to overhead_px more pixels"
    ids[15:20, 15:20] = 3  # boxes may overlap (with and without use the same boxes); all labels covered
    covered = np.zeros(ids.shape, bool)
    for x0, y0, x1, y1 in regions_of(ids, {1, 2, 3}, margin=2):
        covered[y0:y1, x0:x1] = True
    assert covered[ids > 0].all()
    ids[14:16, 14:16] = 4  # two labels side by side: their union is barely larger, one box
    assert regions_of(ids, {1, 4}, margin=2) == [(3, 3, 18, 18)]


def test_a_change_blurred_across_an_edge_joins_its_label_and_nothing_further_does():
    """A defect ends at an edge (its footprint stops there); defocus spreads its change 2 px onto
    the neighbouring face. Those pixels join its label; a change 6 px away, another defect's pixels
    and a dropped defect's pixels do not."""
    ids = np.zeros((40, 40), np.int32)
    ids[10:20, 10:20] = 1  # its face ends at row 20 (the edge)
    ids[10:20, 30:36] = 2  # a faint neighbour, dropped
    without = np.full((40, 40, 3), 100, np.uint8)
    with_img = without.copy()
    with_img[10:22, 10:20] = 60  # the defect, and its blur over the edge (rows 20, 21)
    with_img[26, 10:20] = 60  # 6 px below: something else
    with_img[10:20, 20:22] = 60  # blur to the side, towards the dropped neighbour ...
    with_img[10:20, 30] = 60  # ... and one column of the neighbour itself (17 %: dropped)
    vis = [{"defect_id": 1, "kind": "a"}, {"defect_id": 2, "kind": "b"}]
    kept, dropped, out = contrast_check(ids, with_img, without, vis, 10, 0.2, 5, footprint=ids.copy(), spill_px=2)
    assert [k["defect_id"] for k in kept] == [1] and [d["defect_id"] for d in dropped] == [2]
    assert (out[20:22, 10:20] == 1).all(), "the change blurred over the edge is labelled"
    assert (out[26] == 0).all(), "a change beyond spill_px is not this defect's"
    assert (out[:, 30] == 0).all(), "a dropped defect's own pixels are not handed to its neighbour"
    assert (out[10:20, 20:22] == 1).all() and kept[0]["labelled_pixels"] == 100 + 20 + 20
    _, _, strict = contrast_check(ids, with_img, without, vis, 10, 0.2, 5, footprint=ids.copy())
    assert (strict == 1).sum() == 100, "spill_px 0: the label stops at the footprint"


def test_region_label_mode_labels_a_low_contrast_region_whole_and_in_one_piece():
    """A region of different texture changes every pixel a little and none by min_contrast: the
    default rule drops it, label: region keeps its whole footprint (holes filled) in one piece."""
    import cv2

    rng = np.random.default_rng(0)
    ids = np.zeros((80, 80), np.int32)
    ids[10:60, 10:70] = 1
    ids[30:34, 30:34] = 0  # the ID pass missed a few pixels inside (a soft mask's threshold)
    without = np.full((80, 80, 3), 100, np.uint8)
    with_img = without.copy()
    with_img[10:60, 10:70] = 100 + rng.choice([-4, 4], (50, 60, 1))  # 4 levels everywhere, never over 10
    vis = [{"defect_id": 1, "kind": "Uneven"}]
    kept, dropped, out = contrast_check(ids, with_img, without, vis, 10, 0.2, 5)
    assert not kept and dropped[0]["reason"] == "low_contrast"
    kept, dropped, out = contrast_check(ids, with_img, without, vis, 10, 0.2, 5, region_kinds=frozenset({"Uneven"}))
    assert [k["defect_id"] for k in kept] == [1] and not dropped
    assert (out[10:60, 10:70] == 1).all() and (out == 1).sum() == 50 * 60  # the missed pixels included
    assert cv2.connectedComponents((out == 1).astype(np.uint8))[0] == 2  # background + one piece
    # A region that does not change the image is still dropped.
    kept, dropped, _ = contrast_check(ids, without, without, vis, 10, 0.2, 5, region_kinds=frozenset({"Uneven"}))
    assert not kept and dropped[0]["reason"] == "low_contrast"


def test_a_defect_facing_away_is_dropped_even_if_its_label_leaks_onto_a_visible_face():
    cfg = load_job_config(QS)
    plan = make_plan(cfg, 0, cache_dir=None)
    cam = plan.cameras[len(plan.cameras) // 2]
    eye = np.array(cam.matrix_world)[:3, 3]
    d = plan.defects[0]
    away = dataclasses.replace(d, normal=tuple(-(eye - np.array(d.position)) / np.linalg.norm(eye - d.position)),
                               through_mm=None)
    ids = np.zeros(plan.render.resolution[::-1], np.int32)
    ids[10:30, 10:30] = away.defect_id  # 400 px seen through a leak onto a neighbouring face
    vis, dropped = visible_defects(ids, (away,), cam, plan.render.resolution, 12, 0.1)
    assert vis == [] and dropped[0]["reason"] == "facing_away" and dropped[0]["visible_fraction"] == 0.0


def test_a_hole_over_a_steeply_slanted_far_side_stays_blind(tmp_path):
    from PIL import Image

    from synthgen.plan.defects import hole_through
    from synthgen.plan.types import DefectPlan

    vdir = tmp_path / "v"
    vdir.mkdir()
    yy, xx = np.mgrid[0:64, 0:64]
    disc = ((np.hypot(xx - 31.5, yy - 31.5) < 20) * 255).astype(np.uint8)
    for name in ("hole", "mask"):
        Image.fromarray(disc).save(vdir / f"{name}.png")
    d = DefectPlan(defect_id=1, part_instance_id=1, kind="hole", types=("hole",), variant=0, variant_dir=str(vdir),
                   size_mm=20.0, depth_mm=0.0, position=(0.0, 0.0, 0.02), normal=(0.0, 0.0, 1.0), rotation_deg=0.0,
                   local_position=(0.0, 0.0, 0.02), local_normal=(0.0, 0.0, 1.0), face_index=0, material=None,
                   map_size_mm=32.0)
    flat = trimesh.creation.box((0.1, 0.1, 0.004), trimesh.transformations.translation_matrix((0, 0, 0.018)))
    assert np.allclose(hole_through(d, flat, np.eye(4), 30.0), (4.0, 4.0))
    # Top at z = 20 mm, 24 mm wide; bottom rising from 2 mm to 16 mm across it: 5-17 mm deep under the hole.
    pts = [(x, y, 0.02) for x in (-0.012, 0.012) for y in (-0.05, 0.05)]
    pts += [(-0.012, y, 0.002) for y in (-0.05, 0.05)] + [(0.012, y, 0.016) for y in (-0.05, 0.05)]
    wedge = trimesh.convex.convex_hull(np.array(pts))
    assert hole_through(d, wedge, np.eye(4), 30.0) is None


def test_defocus_blur_radius_grows_with_the_distance_from_the_focus_plane():
    from types import SimpleNamespace

    from synthgen.geometry.camera import blur_radius_px

    M = np.eye(4)
    M[2, 3] = 0.25  # 0.25 m above the origin, 50 mm lens, 36 mm sensor, 160 px wide
    cam = SimpleNamespace(use_dof=True, focal_length_mm=50.0, sensor_width_mm=36.0, fstop=2.0,
                          focus_distance=0.22, matrix_world=M)
    r = blur_radius_px(cam, np.array([[0.0, 0.0, 0.0]]), 160)
    assert abs(r - 0.5 * 0.0025 / (2.0 * 0.17) * 0.03 / 0.25 * 1000 / 36 * 160) < 1e-6  # thin lens
    assert blur_radius_px(cam, np.array([[0.0, 0.0, 0.03]]), 160) < 1e-9, "a point in the focus plane is sharp"
    assert blur_radius_px(SimpleNamespace(**{**vars(cam), "use_dof": False}), np.zeros((1, 3)), 160) == 0.0
