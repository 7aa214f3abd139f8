"""The camera model after rendering (render.sensor): noise statistics as configured, the cos^4
vignetting of the lens's own field angle, and lens distortion that moves labels with the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthgen.annotate.sensor import (
    add_noise,
    apply_camera_model,
    distortion_maps,
    intrinsics,
    linear_to_srgb,
    srgb_to_linear,
    vignetting_gain,
)
from synthgen.config.job import JobConfig
from synthgen.errors import ConfigError
from synthgen.plan import make_plan
from synthgen.plan.types import CameraPlan, SensorPlan

from conftest import smoke_dict

CAM = CameraPlan(camera_id=0, matrix_world=tuple(tuple(float(i == j) for j in range(4)) for i in range(4)),
                 focal_length_mm=20.0, sensor_width_mm=36.0, use_dof=False, focus_distance=1.0, fstop=8.0,
                 look_at=(0.0, 0.0, 0.0))


def test_noise_keeps_the_mean_and_has_the_configured_variance():
    sp = SensorPlan(camera_id=0, noise_seed=3, pattern_seed=5, full_well_e=5000.0, read_noise_e=20.0)
    rng = np.random.default_rng(0)
    for level in (0.05, 0.3, 0.8):
        lin = np.full((400, 400), level)
        noisy = add_noise(lin, sp, rng)
        want_var = level / sp.full_well_e + (sp.read_noise_e / sp.full_well_e) ** 2
        assert abs(noisy.mean() - level) < 4 * np.sqrt(want_var / lin.size)
        assert noisy.var() == pytest.approx(want_var, rel=0.03)


def test_fixed_pattern_noise_is_the_same_in_every_image_of_a_camera():
    a = SensorPlan(camera_id=0, noise_seed=1, pattern_seed=9, full_well_e=1e9, read_noise_e=0.0, fixed_pattern=0.05)
    b = SensorPlan(camera_id=0, noise_seed=2, pattern_seed=9, full_well_e=1e9, read_noise_e=0.0, fixed_pattern=0.05)
    lin = np.full((64, 64), 0.5)
    na, nb = add_noise(lin, a, np.random.default_rng(1)), add_noise(lin, b, np.random.default_rng(2))
    assert np.corrcoef(na.ravel(), nb.ravel())[0, 1] > 0.99 and (na / 0.5).std() == pytest.approx(0.05, rel=0.1)


def test_vignetting_follows_cos4_of_the_field_angle():
    K = intrinsics(CAM, (320, 240))
    g = vignetting_gain(K, (320, 240), 1.0)
    theta = np.arctan(np.hypot(160.0 - 0.5, 120.0 - 0.5) / K[0, 0])
    assert g[0, 0] == pytest.approx(np.cos(theta) ** 4, rel=1e-6) and g[120, 160] > 0.9999
    assert np.all(vignetting_gain(K, (320, 240), 0.5) >= g)


def test_distorted_labels_equal_the_label_of_the_distorted_image_within_one_pixel():
    # A flat test target: white squares on black, its label map the squares' ids.
    h, w = 240, 320
    labels = np.zeros((h, w), np.int32)
    for k, (x, y) in enumerate([(20, 20), (140, 100), (260, 180), (40, 190)], start=1):
        labels[y:y + 40, x:x + 40] = k
    image = np.where(labels > 0, 255, 0).astype(np.uint8)
    sp = SensorPlan(camera_id=0, noise_seed=0, pattern_seed=0, distortion=(-0.25, 0.05, 0.002, -0.001, 0.0))
    img_d, lab_d = apply_camera_model(image, labels, sp, CAM)
    seen = img_d > 127
    k = np.ones((3, 3), np.uint8)
    assert (seen <= cv2.dilate((lab_d > 0).astype(np.uint8), k).astype(bool)).all()
    assert (cv2.erode((lab_d > 0).astype(np.uint8), k).astype(bool) <= seen).all()
    assert not np.array_equal(lab_d, labels), "barrel distortion moves the corner squares"
    assert sorted(np.unique(lab_d)) == [0, 1, 2, 3, 4]


def test_distortion_map_is_the_inverse_of_opencvs_model():
    K = intrinsics(CAM, (160, 120))
    coeffs = np.array([-0.2, 0.03, 0.001, 0.0005, 0.0])
    mx, my = distortion_maps(K, coeffs, (160, 120))
    ideal = np.stack([mx[::17, ::23].ravel(), my[::17, ::23].ravel()], -1).astype(np.float64)
    norm = (ideal - K[:2, 2]) / K[0, 0]
    proj, _ = cv2.projectPoints(np.c_[norm, np.ones(len(norm))], np.zeros(3), np.zeros(3), K, coeffs)
    ys, xs = np.mgrid[0:120:17, 0:160:23]
    assert np.abs(proj.reshape(-1, 2) - np.stack([xs.ravel(), ys.ravel()], -1)).max() < 0.01


def test_srgb_round_trip():
    v = np.linspace(0, 1, 256)
    assert np.abs(linear_to_srgb(srgb_to_linear(v)) - v).max() < 1e-9


def test_sensor_draws_are_planned_per_camera_and_off_by_default(tmp_path):
    base = smoke_dict(tmp_path / "o")
    plain = make_plan(JobConfig.model_validate(base), 0, cache_dir=None)
    assert plain.sensors == () and "sensors" not in plain.to_dict()
    on = {**base, "render": {**base["render"], "sensor": {"noise": {"enabled": True},
                                                         "distortion": {"enabled": True}}}}
    p1 = make_plan(JobConfig.model_validate(on), 0, cache_dir=None)
    p2 = make_plan(JobConfig.model_validate(on), 0, cache_dir=None)
    assert p1.to_json() == p2.to_json() and len(p1.sensors) == len(p1.cameras)
    assert p1.parts == plain.parts and p1.cameras == plain.cameras, "the sensor stream moves nothing else"
    assert all(s.full_well_e and s.distortion and s.vignetting is None for s in p1.sensors)
    with pytest.raises(ConfigError, match="sensor.distortion"):
        import yaml

        from synthgen.config.job import load_job_config

        bad = {**on, "render": {**on["render"], "crop": {}}}
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
        load_job_config(tmp_path / "bad.yaml")


def test_blur_softens_edges_keeps_the_mean_and_leaves_labels_and_other_draws_alone(tmp_path):
    img = np.zeros((40, 60), np.uint8)
    img[:, 30:] = 200                                      # a sharp vertical edge
    labels = (img > 0).astype(np.int32)
    sp = SensorPlan(camera_id=0, noise_seed=0, pattern_seed=0, blur_sigma_px=1.5)
    out, lab = apply_camera_model(img, labels, sp, CAM)
    assert np.array_equal(lab, labels)                     # blur moves no label
    ramp = ((out[20] > 10) & (out[20] < 190)).sum()
    assert ramp >= 4 and ((img[20] > 10) & (img[20] < 190)).sum() == 0    # the edge now spans pixels
    lin = srgb_to_linear(out / 255.0)
    assert abs(lin.mean() - srgb_to_linear(img / 255.0).mean()) < 2e-3   # light is moved, not made
    base = smoke_dict(tmp_path / "o")
    noise = {**base, "render": {**base["render"], "sensor": {"noise": {"enabled": True}}}}
    both = {**base, "render": {**base["render"], "sensor": {"noise": {"enabled": True},
                                                           "blur": {"enabled": True, "sigma_px": [0.8, 1.2]}}}}
    a = make_plan(JobConfig.model_validate(noise), 0, cache_dir=None)
    b = make_plan(JobConfig.model_validate(both), 0, cache_dir=None)
    assert all(x.blur_sigma_px is None for x in a.sensors) and "blur_sigma_px" not in a.to_json()
    assert all(0.8 <= x.blur_sigma_px <= 1.2 for x in b.sensors)
    assert [x.noise_seed for x in a.sensors] == [x.noise_seed for x in b.sensors], "blur draws from its own stream"


def test_a_linear_camera_image_gets_noise_that_grows_as_the_square_root_of_its_level():
    """Raw renders (a machine-vision camera's gamma 1) are noised in their own values: shot noise in
    grey levels is 255 sqrt(level / full well), so it grows with brightness, where the sRGB-encoded
    path flattens it; a flat image keeps its level, neither decoded nor encoded."""
    sp = SensorPlan(camera_id=0, noise_seed=1, pattern_seed=0, full_well_e=4000.0, read_noise_e=0.0)
    stds = {}
    for grey in (40, 160):
        img = np.full((300, 300), grey, np.uint8)
        out, _ = apply_camera_model(img, None, sp, CAM, linear=True)
        want = 255.0 * np.sqrt(grey / 255.0 / sp.full_well_e)
        assert out.astype(float).std() == pytest.approx(want, rel=0.08), grey
        assert abs(out.astype(float).mean() - grey) < 0.3
        stds[grey] = out.astype(float).std()
        srgb, _ = apply_camera_model(img, None, sp, CAM)
        stds[("srgb", grey)] = srgb.astype(float).std()
    assert stds[160] / stds[40] == pytest.approx(2.0, rel=0.1)            # sqrt(160 / 40)
    assert stds[("srgb", 160)] / stds[("srgb", 40)] < 1.2                  # display encoding flattens it
    blur = SensorPlan(camera_id=0, noise_seed=0, pattern_seed=0, blur_sigma_px=1.0)
    flat = np.full((20, 20), 77, np.uint8)
    assert np.array_equal(apply_camera_model(flat, None, blur, CAM, linear=True)[0], flat)
