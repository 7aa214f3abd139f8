"""Motion blur from the belt (issue 16): blurred renders differ from static ones only along the
belt's direction, the decal moves with its part, and a defect's label under blur is where it
shows for more than half the exposure (so it lies inside its sharp label)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from PIL import Image

from synthgen.config.job import JobConfig
from synthgen.plan import make_plan
from synthgen.plan.library import resolve_library

from blender_fixtures import disc_variant, plate_config, top_kind
from conftest import requires_bpy

pytestmark = [requires_bpy, pytest.mark.blender]

SPEED, EXPOSURE = 0.5, 0.012  # 6 mm of travel during the exposure


def _plan(tmp_path, blur: bool):
    disc_variant(tmp_path / "lib" / "disc" / "000", types=("encrustation",), enc_r=(0.0, 0.7))
    data = plate_config(tmp_path, {"disc": top_kind(30.0, ("encrustation",))}, resolution=(200, 150), samples=64)
    data["placement"]["yaw_deg"] = [0, 0]  # plate edges along and across the belt
    data["render"]["motion_blur"] = {"enabled": blur, "belt_speed_m_s": [SPEED, SPEED],
                                     "exposure_ms": [EXPOSURE * 1000, EXPOSURE * 1000], "id_steps": 8}
    cfg = JobConfig.model_validate(data)
    return make_plan(cfg, 0, cache_dir=tmp_path / "cache", library=resolve_library(cfg, cfg.seed, tmp_path / "cache"))


def _render(plan, tmp_path, name: str):
    from synthgen.blender import render
    from synthgen.blender.build import build, built_id_pass, clear, start_session

    start_session()
    built = build(plan)
    cam = plan.cameras[0].camera_id
    with built_id_pass(built) as idp:
        ids = idp.render_ids(cam)
    render.render_camera(built, cam)
    render.save_render(tmp_path / f"{name}.png")
    clear()
    return np.asarray(Image.open(tmp_path / f"{name}.png").convert("L")).astype(np.float32), ids


def _belt_direction_in_image(plan) -> np.ndarray:
    """Unit (x right, y down) image direction of the belt's +x for the top-down camera."""
    C = np.array(plan.cameras[0].matrix_world)
    u = np.array([C[0, 0], -C[0, 1]])  # world x in camera x (right) and -camera y (down)
    return u / np.linalg.norm(u)


def test_blur_acts_only_along_the_belt_and_labels_keep_half_the_exposure(tmp_path):
    static_plan, blur_plan = _plan(tmp_path, False), _plan(tmp_path, True)
    assert static_plan.render.motion_blur is None
    assert blur_plan.render.motion_blur == pytest.approx((SPEED, EXPOSURE, 8))
    assert dataclasses.replace(blur_plan, render=static_plan.render) == static_plan, "blur changes nothing else"
    still, ids_still = _render(static_plan, tmp_path, "still")
    moving, ids_moving = _render(blur_plan, tmp_path, "moving")

    # Where the still image has an edge, the blur changes it only if the edge crosses the belt.
    gx = cv2.Sobel(still, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(still, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    edge = mag > 0.3 * mag.max()
    u = _belt_direction_in_image(static_plan)
    along = np.abs(gx * u[0] + gy * u[1]) / np.maximum(mag, 1e-6)  # 1: edge across the motion
    diff = np.abs(moving - still)
    across, parallel = edge & (along > 0.9), edge & (along < 0.3)
    assert across.sum() > 30 and parallel.sum() > 30
    assert diff[across].mean() > 12, "edges across the belt smear"
    assert diff[parallel].mean() < 0.35 * diff[across].mean(), "edges along the belt stay sharp"

    # The decal moves with the part, and its label is where the blurred image is more than half
    # defect: for this convex disc, the sharp label at mid-exposure.
    d = static_plan.defects[0].defect_id
    sharp, blurred = ids_still == d, ids_moving == d
    assert sharp.sum() > 300
    assert (blurred & ~sharp).sum() <= 0.01 * blurred.sum()
    assert blurred.sum() >= 0.9 * sharp.sum()
    rgb = np.asarray(Image.open(tmp_path / "moving.png").convert("RGB")).astype(np.float32)
    red = rgb[..., 0] - rgb[..., 1]  # the disc is red, the plate grey, the belt green
    core = cv2.erode(sharp.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    mostly_defect = red > 0.5 * np.median(red[core])
    near = cv2.dilate(sharp.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    a, b = mostly_defect & near, blurred
    assert (a & b).sum() / (a | b).sum() > 0.9
    # The disc smears with the plate (a decal left behind in world space would stay sharp).
    still_rgb = np.asarray(Image.open(tmp_path / "still.png").convert("RGB")).astype(np.float32)
    still_red = still_rgb[..., 0] - still_rgb[..., 1]
    rx = cv2.Sobel(still_red, cv2.CV_32F, 1, 0, ksize=3)
    ry = cv2.Sobel(still_red, cv2.CV_32F, 0, 1, ksize=3)
    rim = (np.hypot(rx, ry) > 0.3 * np.hypot(rx, ry).max()) & near
    rim_across = rim & (np.abs(rx * u[0] + ry * u[1]) > 0.9 * np.hypot(rx, ry))
    assert rim_across.sum() > 10
    assert np.abs(red - still_red)[rim_across].mean() > 15
