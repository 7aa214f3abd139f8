"""Blender/Cycles rendering at tiny resolution: the part shows up where the plan says it is."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from synthgen.config.job import JobConfig
from synthgen.geometry.cad import load_part
from synthgen.geometry.camera import project
from synthgen.plan import PlacementError, make_plan

from conftest import CAD_DIR, REPO, requires_bpy, run_cli, smoke_dict

pytestmark = [requires_bpy, pytest.mark.blender]


def _render(plan, camera_id, path):
    from synthgen.blender import render
    from synthgen.blender.build import build, clear, start_session

    start_session()
    built = build(plan)
    render.render_camera(built, camera_id)
    render.save_render(path)
    clear()
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float32)


def _part_region(plan, cam):
    """Pixel mask of the convex hull of the parts' projected vertices."""
    import cv2

    w, h = plan.render.resolution
    mask = np.zeros((h, w), np.uint8)
    for p in plan.parts:
        v = load_part(p.path, p.units).mesh.vertices
        M = np.array(p.matrix_world)
        uv, depth = project(v @ M[:3, :3].T + M[:3, 3], cam.matrix_world, cam.focal_length_mm,
                            cam.sensor_width_mm, (w, h))
        hull = cv2.convexHull(uv[depth > 0].astype(np.float32))
        cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1)
    return mask.astype(bool)


def test_smoke_render_shows_the_part_where_projected(tmp_path):
    cfg = JobConfig.model_validate(smoke_dict(tmp_path / "out"))
    plan = make_plan(cfg, 0, cache_dir=None)
    cam = plan.cameras[1]
    with_part = _render(plan, cam.camera_id, tmp_path / "a.png")
    empty = _render(dataclasses.replace(plan, parts=(), defects=()), cam.camera_id, tmp_path / "b.png")
    assert with_part.std() > 5, "image is blank"
    region = _part_region(plan, cam)
    assert 20 < region.sum() < region.size * 0.8, "test set-up: the part should be in view"
    diff = np.abs(with_part - empty).mean(axis=2)
    inside = diff[region].mean()
    far = diff[~_dilate(region, 6)].mean()
    assert inside > 25, f"part not visible in its projected region (mean diff {inside:.1f})"
    assert inside > 4 * far, f"difference is not concentrated on the part ({inside:.1f} vs {far:.1f})"


def _dilate(mask, r):
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


REAL = {"featuretype.STEP": "m", "1002_tray_bottom.STL": "mm", "angle_block.STL": "in",
        "plate_holes.STL": "mm", "idler_riser.STL": "in", "fandisk.obj": "in"}


@pytest.mark.skipif(not CAD_DIR.is_dir(), reason=f"real CAD data not found at {CAD_DIR}")
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_cad_part_renders(name, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["parts"] = [{"name": "real", "path": str(CAD_DIR / name), "units": REAL[name], "count": [1, 1]}]
    d["render"].update(resolution=[64, 48], samples=4)
    ext = load_part(CAD_DIR / name, REAL[name]).mesh.extents.max()
    d["cameras"]["ark"].update(count=1, radius=float(max(0.15, 2.2 * ext)))
    d["stage"] = {"belt": {"size": [max(1.2, 4 * ext), max(0.6, 4 * ext)]}}
    d["placement"] = {"area": [0.01, 0.01]}
    cfg = JobConfig.model_validate(d)
    plan = make_plan(cfg, 0, cache_dir=tmp_path / "cache")
    with_part = _render(plan, 0, tmp_path / "a.png")
    empty = _render(dataclasses.replace(plan, parts=(), defects=()), 0, tmp_path / "b.png")
    region = _part_region(plan, plan.cameras[0])
    diff = np.abs(with_part - empty).mean(axis=2)
    assert region.sum() > 10
    inside, far = diff[region].mean(), diff[~_dilate(region, 4)].mean()
    assert inside > 8 and inside > 3 * far, f"{name}: part not visible in render ({inside:.1f} vs {far:.1f})"


def test_cli_render_writes_images_and_plans_and_resumes(tmp_path, write_config):
    p = write_config(smoke_dict(tmp_path / "out", num_scenes=2))
    res = run_cli("render", str(p))
    assert res.returncode == 0, res.stderr
    assert "rendering on CPU" in res.stderr  # the device actually used is logged
    out = tmp_path / "out"
    records = [json.loads((out / "plans" / f"{s:06d}.json").read_text()) for s in range(2)]
    listed = sorted(c["image"] for r in records for c in r["accepted_cameras"])
    imgs = sorted(f"images/{i.name}" for i in (out / "images").glob("*.png"))
    assert imgs and imgs == listed, "exactly the accepted cameras are rendered"
    assert records[0]["plan"]["scene_index"] == 0 and len(records[0]["plan"]["cameras"]) == 3
    mtimes = {i.name: i.stat().st_mtime_ns for i in (out / "images").glob("*.png")}
    res2 = run_cli("render", str(p), "--num-scenes", "3")
    assert res2.returncode == 0, res2.stderr
    assert "(2 already done)" in res2.stderr
    after = {i.name: i.stat().st_mtime_ns for i in (out / "images").glob("*.png")}
    assert all(after[k] == v for k, v in mtimes.items()), "finished scenes must not be re-rendered"
    assert (out / "plans" / "000002.json").is_file()


def test_missing_gpu_is_an_error_not_a_silent_cpu_render(tmp_path, write_config):
    p = write_config(smoke_dict(tmp_path / "out"))
    res = run_cli("render", str(p), "--device", "OPTIX")
    import bpy

    prefs = bpy.context.preferences.addons["cycles"].preferences
    prefs.compute_device_type = "OPTIX"
    prefs.refresh_devices()
    if any(d.type == "OPTIX" for d in prefs.devices):
        pytest.skip("this machine has an OptiX GPU")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "render.device: OPTIX requested but no OPTIX device" in res.stderr
    assert not list((tmp_path / "out").glob("images/*.png"))
    d = smoke_dict(tmp_path / "out2")
    d["render"]["fallback"] = "cpu"
    d["render"]["device"] = "CUDA"
    p2 = write_config(d, "fallback.yaml")
    res2 = run_cli("render", str(p2))
    assert res2.returncode == 0, res2.stderr
    assert "rendering on CPU because render.fallback is 'cpu'" in res2.stderr
    assert len(list((tmp_path / "out2" / "images").glob("*.png"))) >= 1


def test_no_data_block_growth_between_scenes_on_the_real_path(tmp_path):
    """Build (defects included), the defect-ID pass and contrast check, a final render, clear:
    data-block counts stay constant over scenes, without purging anything untagged."""
    import bpy

    from synthgen.blender import render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.blender.verify import verify_scene
    from synthgen.plan.library import plan_scene

    d = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    for part in d["parts"]:
        part["path"] = str((REPO / "configs" / part["path"]).resolve())
    for light in d["lights"]:
        if light.get("ies"):
            light["ies"] = str((REPO / "configs" / light["ies"]).resolve())
    d["out"] = str(tmp_path)
    d["render"].update(resolution=[48, 36], samples=1, denoise=False)
    d["cameras"]["ark"]["count"] = 2
    cfg = JobConfig.model_validate(d)
    start_session()
    kinds = ("objects", "meshes", "materials", "lights", "cameras", "images", "node_groups", "textures",
             "worlds", "collections")

    def counts():
        return {k: len(getattr(bpy.data, k)) for k in kinds}

    seen = []
    for i in range(10):
        try:
            plan = plan_scene(cfg, i, cache_dir=tmp_path / "cache")
        except PlacementError:
            continue
        built = build(plan)
        assert len(built.defects) == len(plan.defects) > 0
        verify_scene(built, cfg)
        render.render_camera(built, 0)
        render.save_render(tmp_path / "last.png")
        clear()
        seen.append(counts())
    assert len(seen) >= 6
    # After the first scenes have created each distinct part mesh once, nothing accumulates.
    assert seen[-1] == seen[3], f"data-blocks grow between scenes: {seen[3]} -> {seen[-1]}"
    assert seen[-1]["objects"] == 0 and seen[-1]["materials"] == 0 and seen[-1]["images"] <= 1


def test_the_camera_model_changes_images_and_moves_labels_with_the_distortion(tmp_path, write_config):
    from pycocotools.coco import COCO

    # Parts placed off the optical axis, where a barrel distortion moves pixels by several pixels.
    plain = write_config(smoke_dict(tmp_path / "plain", num_scenes=2, placement={"area": [0.25, 0.15]}), "plain.yaml")
    d = smoke_dict(tmp_path / "cam", num_scenes=2, placement={"area": [0.25, 0.15]})
    d["render"]["sensor"] = {"noise": {"enabled": True, "full_well_e": [2000, 2000]},
                             "vignetting": {"enabled": True, "strength": [1, 1]},
                             "distortion": {"enabled": True, "k1": [-0.5, -0.5]}}
    cam = write_config(d, "cam.yaml")
    for p in (plain, cam):
        res = run_cli("render", str(p))
        assert res.returncode == 0, res.stderr
    a, b = tmp_path / "plain", tmp_path / "cam"
    names = sorted(f.name for f in (a / "images").glob("*.png"))
    assert names and names == sorted(f.name for f in (b / "images").glob("*.png"))
    coco = COCO(str(b / "annotations" / "coco.json"))
    moved = 0
    for n in names:
        ia = np.asarray(Image.open(a / "images" / n)).astype(float)
        ib = np.asarray(Image.open(b / "images" / n)).astype(float)
        assert np.abs(ia - ib).mean() > 1.0, "the camera model changes the image"
        ma, mb = (np.asarray(Image.open(x / "masks" / "instance" / n)) for x in (a, b))
        moved += int(not np.array_equal(ma, mb))
        img = next(i for i in coco.loadImgs(coco.getImgIds()) if i["file_name"] == n)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
            assert np.array_equal(coco.annToMask(ann).astype(bool), mb == ann["id"] % 1000), "COCO follows the masks"
    assert moved, "the distortion moves the labels"
