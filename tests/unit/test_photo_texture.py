"""A material's texture from photos of healthy surfaces (``materials[].photo_texture``): the
photo's lighting is divided out, the planner draws a photo per part from the seed, plans name it
relative to the config, and a bad source is one line naming the field."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from synthgen.config.job import load_job_config
from synthgen.plan import make_plan
from synthgen.textures.photo import reflectance

from conftest import run_cli, smoke_dict


def _stripes(path, period=16, lit=True, size=(240, 200)):
    """Vertical stripes (grey 80 / 160), optionally under a strong left-to-right lighting ramp."""
    h, w = size
    x = np.arange(w)
    img = np.where((x // (period // 2)) % 2 == 0, 80.0, 160.0)[None, :].repeat(h, 0)
    if lit:
        img = img * np.linspace(0.4, 1.4, w)[None, :]
    cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))
    return path


def _config(tmp_path, write_config, **photo):
    (tmp_path / "photos").mkdir(exist_ok=True)
    for i in range(3):
        _stripes(tmp_path / "photos" / f"good_{i}.png", period=8 + 8 * i)
    data = smoke_dict(tmp_path / "out")
    data["materials"] = [{"name": "ground", "finish": "brushed", "base_color": {"min": [0.3] * 3, "max": [0.3] * 3},
                          "photo_texture": {"images": "photos", "px_per_mm": [4, 8], **photo}}]
    return write_config(data)


def test_reflectance_keeps_the_surface_and_divides_out_the_lighting(tmp_path):
    r = reflectance(_stripes(tmp_path / "lit.png"), detrend_px=20, margin=0.1, strength=1.0)
    assert r.shape == (240 - 48, 200 - 40)  # 10 % trimmed on each side
    inner = r[:, 30:-30]
    assert abs(float(inner.mean()) - 1.0) < 0.1
    # stripes survive, the 3.5x lighting ramp does not: left and right thirds read alike
    third = inner.shape[1] // 3
    assert abs(float(inner[:, :third].mean()) - float(inner[:, -third:].mean())) < 0.1
    bright, dark = np.percentile(inner, 90), np.percentile(inner, 10)
    assert bright / dark > 2.5  # 160 vs 80 in display values is about 5x in linear light
    assert float(r.std(axis=0).max()) < 1e-3  # nothing varies along the stripes
    flat = cv2.imwrite(str(tmp_path / "flat.png"), np.full((50, 60), 120, np.uint8))
    assert flat and np.allclose(reflectance(tmp_path / "flat.png", 20, 0.0, 1.0), 1.0, atol=1e-4)
    assert np.allclose(reflectance(tmp_path / "lit.png", 20, 0.1, 0.0), 1.0)  # strength 0: no texture
    half = reflectance(tmp_path / "lit.png", 20, 0.1, 0.5)
    assert np.allclose(half - 1.0, 0.5 * (r - 1.0), atol=1e-5)
    # above 1 the variation is amplified (what the render softens), and never goes below 0
    more = reflectance(tmp_path / "lit.png", 20, 0.1, 1.5)
    assert np.allclose(more - 1.0, np.maximum(-1.0, 1.5 * (r - 1.0)), atol=1e-5)
    assert float((more - 1.0).std()) > 1.4 * float((r - 1.0).std()) and float(more.min()) >= 0.0


def test_a_linear_photo_keeps_its_own_contrast_and_an_srgb_one_is_decoded_first(tmp_path):
    """A machine-vision camera's photo (gamma 1) is light already: grey 160 against 80 is twice the
    reflectance. Read as sRGB, the same stripes would be about 2.9 times (the display curve)."""
    path = _stripes(tmp_path / "flatlit.png", lit=False)
    lin = reflectance(path, detrend_px=20, margin=0.1, strength=1.0, encoding="linear")
    srgb = reflectance(path, detrend_px=20, margin=0.1, strength=1.0)
    inner = (slice(None), slice(30, -30))
    ratio = lambda r: float(np.percentile(r[inner], 95) / np.percentile(r[inner], 5))
    assert ratio(lin) == pytest.approx(2.0, rel=0.05)
    assert ratio(srgb) == pytest.approx(((160 / 255 + 0.055) / (80 / 255 + 0.055)) ** 2.4, rel=0.05)


def test_each_part_draws_a_photo_from_the_seed_and_plans_name_it_relative_to_the_config(tmp_path, write_config):
    path = _config(tmp_path, write_config)
    cfg = load_job_config(path)
    photos = {str(p.resolve()) for p in (tmp_path / "photos").iterdir()}
    drawn = [make_plan(cfg, s, cache_dir=None).parts[0].material.photo for s in range(6)]
    for ph in drawn:
        assert ph.path in photos and 4 <= ph.px_per_mm <= 8 and all(0 <= o <= 1 for o in ph.offset)
    assert len({ph.path for ph in drawn}) >= 2 and len({ph.px_per_mm for ph in drawn}) == 6
    assert make_plan(cfg, 3, cache_dir=None).parts[0].material.photo == drawn[3]
    out = run_cli("plan", str(path), "--scene", "3", "--no-cache")
    assert out.returncode == 0, out.stderr
    written = json.loads(out.stdout)["parts"][0]["material"]["photo"]
    assert written["path"] == "photos/" + drawn[3].path.rsplit("/", 1)[1]  # portable: no machine's paths


def test_a_split_file_gives_the_photos_of_its_chosen_lists(tmp_path, write_config):
    _config(tmp_path, write_config)
    split = {"healthy": {"train": [{"image": "photos/good_0.png"}, {"image": "photos/good_1.png"}],
                         "test": [{"image": "photos/good_2.png"}]}}
    (tmp_path / "split.json").write_text(json.dumps(split))
    cfg = load_job_config(_config(tmp_path, write_config, images="split.json", keys=["healthy.train"]))
    assert cfg.materials[0].photo_texture.photos() == tuple(
        str((tmp_path / "photos" / f"good_{i}.png").resolve()) for i in (0, 1))  # never the test photo


@pytest.mark.parametrize("photo, words", [
    ({"images": "nowhere"}, ["photo_texture.images", "file not found"]),
    ({"images": "split.json", "keys": ["healthy.val"]}, ["photo_texture", "keys", "healthy.val"]),
    ({"images": "empty"}, ["photo_texture", "no photos"]),
    ({"px_per_mm": [8, 4]}, ["photo_texture.px_per_mm", "greater than max"]),
])
def test_a_bad_photo_source_is_one_line_naming_the_field(tmp_path, write_config, photo, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "split.json").write_text(json.dumps({"healthy": {"train": [{"image": "photos/good_0.png"}]}}))
    out = run_cli("validate", str(_config(tmp_path, write_config, **photo)))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)
