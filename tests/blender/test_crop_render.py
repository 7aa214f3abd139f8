"""Output cropped to the part's surface (``render.crop``) and greyscale output (``render.color_mode``):
the image and every mask are cut to the same rectangle, which lies inside the part."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen.config.job import JobConfig

from blender_fixtures import disc_variant, plate_config, top_kind
from conftest import requires_bpy

pytestmark = [requires_bpy, pytest.mark.blender]


def _render(tmp_path, name: str, **render):
    from synthgen.pipeline import run_render

    disc_variant(tmp_path / "lib" / "break" / "000", types=("encrustation",))
    data = plate_config(tmp_path, {"break": top_kind(25.0, types=("encrustation",))}, out=tmp_path / name,
                        resolution=(160, 120), samples=4)
    data["cameras"]["ark"]["radius"] = 0.4  # the plate fills the middle of the frame, belt around it
    data["render"].update(render)
    cfg = JobConfig.model_validate(data, context={"config_dir": tmp_path})
    stats = run_render(cfg, progress=False)
    assert stats.images == 1
    root = tmp_path / name
    coco = json.loads((root / "annotations" / "coco.json").read_text())
    rec = json.loads(next((root / "plans").glob("*.json")).read_text())
    return root, coco, rec


CROP = {"inset_px": 2, "min_size": [16, 16]}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crop")
    return _render(tmp, "full"), _render(tmp, "crop", crop=CROP)


@pytest.fixture(scope="module")
def grey(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grey")
    return _render(tmp, "full"), _render(tmp, "grey", crop=CROP, color_mode="BW")


def test_crop_is_inside_the_part_and_excludes_the_belt(both):
    (froot, fcoco, _), (_croot, _ccoco, crec) = both
    x0, y0, x1, y1 = crec["accepted_cameras"][0]["crop"]
    assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 120
    assert (x1 - x0) * (y1 - y0) < 0.8 * 160 * 120          # the belt around the plate is cut away
    full = np.asarray(Image.open(froot / "images" / fcoco["images"][0]["file_name"]).convert("RGB")).astype(int)
    region = full[y0:y1, x0:x1]
    belt = (region[..., 1] > region[..., 0] + 40)             # the belt is bright green, the plate grey
    assert belt.sum() == 0
    outside = np.ones(full.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert (full[..., 1] > full[..., 0] + 40)[outside].any()  # ...and the belt is in the frame


def test_cropped_image_and_masks_match_the_full_frame(both):
    (froot, _fcoco, _), (croot, ccoco, crec) = both
    x0, y0, x1, y1 = crec["accepted_cameras"][0]["crop"]
    name = ccoco["images"][0]["file_name"]
    img = Image.open(croot / "images" / name)
    assert img.size == (x1 - x0, y1 - y0)
    assert (ccoco["images"][0]["width"], ccoco["images"][0]["height"]) == img.size
    stem = name[:-4]
    inst_c = np.asarray(Image.open(croot / "masks" / "instance" / f"{stem}.png"))
    inst_f = np.asarray(Image.open(froot / "masks" / "instance" / f"{stem}.png"))
    assert inst_c.shape == (y1 - y0, x1 - x0)
    assert np.array_equal(inst_c > 0, inst_f[y0:y1, x0:x1] > 0)   # the same labels, cut to the crop
    assert inst_c.any()
    full = np.asarray(Image.open(froot / "images" / name).convert("RGB")).astype(int)
    assert np.abs(np.asarray(img.convert("RGB"), int) - full[y0:y1, x0:x1]).max() <= 2  # same pixels


def test_greyscale_output_is_the_colour_render_in_grey(grey):
    (froot, _fcoco, _), (groot, gcoco, grec) = grey
    x0, y0, x1, y1 = grec["accepted_cameras"][0]["crop"]
    name = gcoco["images"][0]["file_name"]
    img = Image.open(groot / "images" / name)
    assert img.mode == "L" and img.size == (x1 - x0, y1 - y0)
    full = np.asarray(Image.open(froot / "images" / name).convert("L")).astype(float)
    assert np.abs(np.asarray(img, float) - full[y0:y1, x0:x1]).mean() < 3.0
    inst = np.asarray(Image.open(groot / "masks" / "instance" / (name[:-4] + ".png")))
    assert inst.shape == img.size[::-1] and inst.any()


def test_coco_rle_equals_the_cropped_instance_png(both):
    _, (croot, ccoco, _) = both
    img = ccoco["images"][0]
    inst = np.asarray(Image.open(croot / "masks" / "instance" / (img["file_name"][:-4] + ".png")))
    anns = [a for a in ccoco["annotations"] if a["image_id"] == img["id"]]
    assert anns
    for k, a in enumerate(sorted(anns, key=lambda a: a["id"]), start=1):
        rle = dict(a["segmentation"])
        rle["counts"] = rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]
        m = mask_utils.decode(rle)
        assert m.shape == inst.shape
        assert np.array_equal(m > 0, inst == k)


def test_a_crop_smaller_than_min_size_is_the_reason_given_not_an_invisible_defect(tmp_path):
    """The plate is visible and its defect too, but the crop cannot reach min_size: the rejected
    scene says so, naming the field, and does not claim that no defect was visible."""
    from synthgen.pipeline import run_render
    from synthgen.stats import no_images_reasons

    disc_variant(tmp_path / "lib" / "break" / "000", types=("encrustation",))
    data = plate_config(tmp_path, {"break": top_kind(25.0, types=("encrustation",))}, out=tmp_path / "small",
                        resolution=(160, 120), samples=4)
    data["cameras"]["ark"]["radius"] = 0.4
    data["render"]["crop"] = {"inset_px": 2, "min_size": [150, 110]}
    cfg = JobConfig.model_validate(data, context={"config_dir": tmp_path})
    stats = run_render(cfg, progress=False)
    assert stats.images == 0 and stats.cameras_crop_too_small == 1
    rec = json.loads(next((tmp_path / "small" / "plans").glob("*.json")).read_text())
    assert rec["status"] == "rejected"
    assert "render.crop.min_size [150, 110]" in rec["reason"] and "no defect visible" not in rec["reason"]
    assert "cropped smaller than render.crop.min_size" in no_images_reasons(stats)
    manifest = json.loads((tmp_path / "small" / "manifest.json").read_text())
    assert manifest["counts"]["cameras_crop_too_small"] == 1   # the count reaches the manifest
