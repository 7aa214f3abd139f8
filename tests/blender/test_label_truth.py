"""Labels equal what the image shows (issue 11): a hole damages only what it labels, a hole
through a thin wall is see-through and labelled from both sides, a defect that does not change
the image is dropped with its reason, and size_mm is the defect's real extent."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
import trimesh
from PIL import Image

from synthgen.config.job import JobConfig
from synthgen.geometry.cad import load_part
from synthgen.plan import make_plan
from synthgen.plan.defects import hole_through
from synthgen.plan.frames import as_tuple, look_at_matrix
from synthgen.plan.library import resolve_library

from blender_fixtures import disc_variant, plate_config, top_kind
from conftest import requires_bpy

pytestmark = [requires_bpy, pytest.mark.blender]


def _render(plan, tmp_path, name, enabled=True):
    """Per camera: (image (H, W, 3) float, ID map) of ``plan``, defects on or off."""
    from synthgen.blender import defects, render
    from synthgen.blender.build import build, built_id_pass, clear, start_session

    start_session()
    built = build(plan)
    out = {}
    with built_id_pass(built) as idp:
        ids = {c.camera_id: idp.render_ids(c.camera_id) for c in plan.cameras}
    defects.set_enabled(built, {d.defect_id for d in plan.defects} if enabled else set())
    for c in plan.cameras:
        render.render_camera(built, c.camera_id)
        render.save_render(tmp_path / f"{name}_{c.camera_id}.png")
        img = np.asarray(Image.open(tmp_path / f"{name}_{c.camera_id}.png").convert("RGB")).astype(np.float32)
        out[c.camera_id] = (img, ids[c.camera_id])
    clear()
    return out


def _part_scene(tmp_path, boxes, hole_at_mm, normal, size_mm=16.0, resolution=(320, 240)):
    """A part made of axis-aligned boxes (mm: centre, size), resting on its first box, with one
    round hole (radius 0.6 of the map half-width) at file point ``hole_at_mm`` facing ``normal``."""
    mesh = trimesh.util.concatenate([trimesh.creation.box(s, trimesh.transformations.translation_matrix(c))
                                     for c, s in boxes])
    path = tmp_path / "part.stl"
    mesh.export(path)
    disc_variant(tmp_path / "lib" / "disc" / "000", types=("hole",), hole_r=0.6)
    kind = {**top_kind(size_mm, ("hole",)), "surface": {"max_angle_deg": 180, "visible_from_cameras": False}}
    # 16 samples: at 4 the light that the hole lets through changes the noise of nearby pixels.
    data = plate_config(tmp_path, {"disc": kind}, resolution=resolution, samples=16)
    data["parts"][0]["path"] = str(path)
    cfg = JobConfig.model_validate(data)
    lib = resolve_library(cfg, cfg.seed, tmp_path / "cache")
    plan = make_plan(cfg, 0, cache_dir=tmp_path / "cache", library=lib)
    pm = load_part(path, "mm")
    # Rest the part as modelled (first box on the belt): world = file coordinates in metres.
    M = np.eye(4)
    M[:3, 3] = pm.center_mass_offset
    plan = dataclasses.replace(plan, parts=(dataclasses.replace(plan.parts[0], matrix_world=as_tuple(M)),))
    local = np.asarray(hole_at_mm, float) / 1000.0 - pm.center_mass_offset
    n = M[:3, :3] @ np.asarray(normal, float)
    d = dataclasses.replace(plan.defects[0], position=tuple(M[:3, :3] @ local + M[:3, 3]), normal=tuple(n))
    d = dataclasses.replace(d, through_mm=hole_through(d, pm.mesh, M, 30.0))
    return dataclasses.replace(plan, defects=(d,)), d


def _unlabelled_share(with_img, without_img, ids):
    changed = np.abs(with_img - without_img).max(axis=2) > 25
    lab = cv2.dilate((ids > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return changed.sum(), (changed & ~lab).sum() / max(1, changed.sum())


def test_hole_beside_a_perpendicular_wall_leaves_the_wall_intact(tmp_path):
    # Plate 100 x 100 x 3 mm with a wall 3 mm thick, 15 mm tall standing 4-7 mm from the hole's
    # centre, inside its 8 mm radius: the old 30 mm through-cut opened the wall's top and sides.
    boxes = [((0, 0, 1.5), (100, 100, 3)), ((5.5, 0, 10.5), (3, 60, 15))]
    plan, d = _part_scene(tmp_path, boxes, (0, 0, 3), (0, 0, 1))
    assert d.through_mm is not None and abs(d.through_mm[0] - 3.0) < 0.05 and abs(d.through_mm[1] - 3.0) < 0.05
    on = _render(plan, tmp_path, "on")[0]
    off = _render(plan, tmp_path, "off", enabled=False)[0]
    n_changed, unlabelled = _unlabelled_share(on[0], off[0], on[1])
    assert n_changed > 100, "the hole must show"
    assert unlabelled < 0.02, f"{100 * unlabelled:.1f} % of the changed pixels are unlabelled"
    g = on[0][..., 1] - np.maximum(on[0][..., 0], on[0][..., 2])
    assert (g[on[1] == d.defect_id] > 40).mean() > 0.6, "the belt shows through the labelled hole"


def test_hole_through_a_thin_wall_is_see_through_and_labelled_on_both_sides(tmp_path):
    # Base plate with a 2 mm fin standing on it; the hole is on the fin's +x face, 20 mm up, and
    # one camera looks at each side of the fin from 0.2 m, slightly from above.
    boxes = [((0, 0, 1.5), (100, 100, 3)), ((0, 0, 23), (2, 80, 40))]
    plan, d = _part_scene(tmp_path, boxes, (1, 0, 23), (1, 0, 0), resolution=(200, 150))
    assert d.through_mm is not None and abs(d.through_mm[0] - 2.0) < 0.05
    p, n = np.array(d.position), np.array(d.normal)
    cams = []
    for cid, side in enumerate((1.0, -1.0)):
        eye = p + side * 0.2 * n + np.array([0, 0, 0.05])
        cams.append(dataclasses.replace(plan.cameras[0], camera_id=cid, matrix_world=as_tuple(look_at_matrix(eye, p)),
                                        look_at=tuple(p)))
    plan = dataclasses.replace(plan, cameras=tuple(cams))
    on = _render(plan, tmp_path, "on")
    off = _render(plan, tmp_path, "off", enabled=False)
    for cid in (0, 1):
        img, ids = on[cid]
        lab = ids == d.defect_id
        assert lab.sum() > 80, f"camera {cid} (side {'front' if cid == 0 else 'back'}) labels the opening"
        g = img[..., 1] - np.maximum(img[..., 0], img[..., 2])
        core = cv2.erode(lab.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert (g[core] > 40).mean() > 0.8, f"camera {cid}: the belt shows through the hole"
        _, unlabelled = _unlabelled_share(img, off[cid][0], ids)
        assert unlabelled < 0.02, f"camera {cid}: {100 * unlabelled:.1f} % of the changed pixels unlabelled"


def test_defect_that_does_not_change_the_image_is_dropped_with_its_reason(tmp_path):
    from synthgen.pipeline import run_render

    results = {}
    for name, colour in (("invisible", [0.5, 0.5, 0.5]), ("visible", [0.7, 0.05, 0.02])):
        root = tmp_path / name
        vdir = disc_variant(root / "lib" / "disc" / "000", types=("encrustation",), enc_r=(0.0, 0.6))
        meta = json.loads((vdir / "meta.json").read_text())
        meta["material"] = {"base_color": colour, "roughness": 0.5, "metallic": 0.0}  # invisible: the plate's own
        (vdir / "meta.json").write_text(json.dumps(meta))
        cfg = JobConfig.model_validate(plate_config(root, {"disc": top_kind(20.0, ("encrustation",))}))
        stats = run_render(cfg, progress=False)
        rec = json.loads((root / "out" / "plans" / "000000.json").read_text())
        results[name] = (stats, rec)
    stats, rec = results["invisible"]
    assert rec["status"] == "rejected" and stats.images == 0
    check = rec["camera_checks"][0]
    assert check["status"] == "no_defect"
    dropped = check["dropped_defects"][0]
    assert dropped["reason"] == "low_contrast"
    assert dropped["visible_pixels"] > 50 and dropped["contrast"]["changed_fraction"] < 0.2
    assert "low_contrast" in rec["reason"] and stats.drop_reasons == {"low_contrast": 1}
    stats, rec = results["visible"]
    assert rec["status"] == "accepted" and stats.images == 1
    kept = rec["accepted_cameras"][0]["visible_defects"][0]
    assert kept["contrast"]["changed_fraction"] > 0.8


def test_size_mm_is_the_real_extent_of_the_mask_on_a_flat_plate(tmp_path):
    # A round mask of diameter 0.6 map sides: size_mm = 10 must give a 10 mm disc, so the map
    # square is 16.7 mm. Tolerance 0.7 mm: one image pixel (0.56 mm at the plate) plus one map
    # pixel (0.13 mm), the quantisation of the two rasters.
    disc_variant(tmp_path / "lib" / "disc" / "000", types=("encrustation",), enc_r=(0.0, 0.6))
    cfg = JobConfig.model_validate(plate_config(tmp_path, {"disc": top_kind(10.0, ("encrustation",))},
                                                resolution=(320, 240)))
    lib = resolve_library(cfg, cfg.seed, tmp_path / "cache")
    plan = make_plan(cfg, 0, cache_dir=tmp_path / "cache", library=lib)
    d = plan.defects[0]
    assert d.size_mm == 10.0 and abs(d.map_size_mm - 10.0 / 0.6) < 0.2
    _, ids = _render(plan, tmp_path, "a")[0]
    ys, xs = np.nonzero(ids == d.defect_id)
    cam = plan.cameras[0]
    dist = np.array(cam.matrix_world)[2][3] - d.position[2]
    mm_per_px = 1000.0 * dist * cam.sensor_width_mm / cam.focal_length_mm / plan.render.resolution[0]
    extent = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) * mm_per_px
    assert abs(extent - 10.0) <= 0.7, f"label extent {extent:.2f} mm for size_mm 10"


def test_every_changed_pixel_is_labelled_even_beyond_the_nominal_mask(tmp_path):
    # A library variant whose mask.png (radius 0.35) is smaller than the red encrustation it
    # draws (radius 0.7), as a hand-made or generated map with a halo can be: the dataset's label
    # must follow what changes in the image, not the nominal mask.
    from synthgen.blender import defects, render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.pipeline import run_render
    from synthgen.plan.library import written_plan

    vdir = disc_variant(tmp_path / "lib" / "disc" / "000", types=("encrustation",), enc_r=(0.0, 0.7))
    n = 128
    yy, xx = np.mgrid[0:n, 0:n]
    small = np.hypot(xx + 0.5 - n / 2, yy + 0.5 - n / 2) / (n / 2) < 0.35
    Image.fromarray((small * 255).astype(np.uint8)).save(vdir / "mask.png")
    cfg = JobConfig.model_validate(plate_config(tmp_path, {"disc": top_kind(15.0, ("encrustation",))}, samples=8))
    stats = run_render(cfg, progress=False)
    assert stats.images == 1
    out = tmp_path / "out"
    rec = json.loads((out / "plans" / "000000.json").read_text())
    plan = written_plan(cfg, rec, out)
    start_session()
    built = build(plan)
    defects.set_enabled(built, set())
    render.render_camera(built, 0)
    render.save_render(tmp_path / "without.png")
    clear()
    with_img = np.asarray(Image.open(out / "images" / "000000_00.png").convert("RGB")).astype(np.float32)
    without = np.asarray(Image.open(tmp_path / "without.png").convert("RGB")).astype(np.float32)
    inst = np.asarray(Image.open(out / "masks" / "instance" / "000000_00.png"))
    n_changed, unlabelled = _unlabelled_share(with_img, without, inst)
    assert n_changed > 100 and unlabelled < 0.02, f"{100 * unlabelled:.1f} % of {n_changed} changed pixels unlabelled"
    kept = rec["accepted_cameras"][0]["visible_defects"][0]
    assert kept["labelled_pixels"] > 2.5 * kept["visible_pixels"], "the label grew from the small mask to the ring"


@pytest.mark.parametrize("spill_px", [0, 2])
def test_a_defect_at_a_part_edge_has_its_change_across_the_edge_labelled(tmp_path, spill_px):
    """A dark disc at the plate's edge, the camera slightly out of focus: the blur carries the
    defect's change over the edge onto the belt, where its footprint (and the ID pass) stops.
    With the default spill_px (widened to the blur radius) those pixels are labelled; with
    spill_px 0 they are not, which is what a user saw along the edges of a box-shaped housing."""
    from synthgen.blender import defects, render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.blender.verify import verify_scene

    disc_variant(tmp_path / "lib" / "disc" / "000", types=("encrustation",), enc_r=(0.0, 0.6))
    data = plate_config(tmp_path, {"disc": top_kind(24.0, ("encrustation",))}, samples=16)
    data["verification"]["spill_px"] = spill_px
    cfg = JobConfig.model_validate(data)
    lib = resolve_library(cfg, cfg.seed, tmp_path / "cache")
    plan = make_plan(cfg, 0, cache_dir=tmp_path / "cache", library=lib)
    part = np.array(plan.parts[0].matrix_world)
    edge = part[:3, :3] @ np.array([0.05, 0.0, 0.0015]) + part[:3, 3]  # the middle of the top face's +x edge
    d = dataclasses.replace(plan.defects[0], position=tuple(edge), normal=tuple(part[:3, 2]), through_mm=None)
    # Focused 4 cm in front of the plate at f/1.4 (0.25 m, 50 mm lens): a blur radius of 4 px.
    cam = dataclasses.replace(plan.cameras[0], use_dof=True, focus_distance=0.21, fstop=1.4)
    plan = dataclasses.replace(plan, defects=(d,), cameras=(cam,))
    start_session()
    built = build(plan)
    verdict = verify_scene(built, cfg)
    assert [v["defect_id"] for v in verdict.accepted[0].visible] == [d.defect_id]
    ids = verdict.accepted[0].ids
    imgs = []
    for on in ({d.defect_id}, set()):
        defects.set_enabled(built, on)
        render.render_camera(built, 0)
        render.save_render(tmp_path / "r.png")
        imgs.append(np.asarray(Image.open(tmp_path / "r.png").convert("RGB")).astype(np.float32))
    clear()
    n_changed, unlabelled = _unlabelled_share(imgs[0], imgs[1], ids)
    assert n_changed > 100, "the disc must show"
    if spill_px:
        assert unlabelled < 0.02, f"{100 * unlabelled:.1f} % of {n_changed} changed pixels unlabelled"
    else:
        assert unlabelled > 0.03, "without the spill the blur across the edge is unlabelled (the test's premise)"
