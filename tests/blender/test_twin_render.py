"""The magnetic-tile twin renders at smoke size: greyscale crops of the tile's surface whose masks
lie on the tile, and an edge kind placed at an edge."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from synthgen.config.job import JobConfig, load_job_config

from conftest import REPO, requires_bpy, requires_magnetic_tile

pytestmark = [requires_bpy, requires_magnetic_tile, pytest.mark.blender, pytest.mark.data]


def test_twin_renders_a_tiny_scene_with_masks_on_the_tile(tmp_path):
    from synthgen.pipeline import run_render

    data = load_job_config(REPO / "configs" / "twin_magnetic_tile.yaml").model_dump(mode="json")
    data["render"].update({"resolution": [120, 160], "samples": 2, "denoise": False, "max_bounces": 1})
    data["render"]["crop"]["min_size"] = [24, 24]
    data["cameras"]["ark"]["count"] = 1
    data["verification"].update({"min_visible_pixels": 4, "contrast_samples": 2})
    data["defects"]["variants_per_kind"] = 1
    for name, k in data["defects"]["kinds"].items():
        k["resolution"] = 64
        k["count_per_part"] = [1, 1] if name in ("Blowhole", "Uneven") else [0, 0]
    data["defects"]["kinds"]["Blowhole"]["size_mm"] = [3.0, 3.0]
    data["num_scenes"] = 2
    data["out"] = str(tmp_path / "twin")
    cfg = JobConfig.model_validate(data, context={"config_dir": REPO / "configs"})
    stats = run_render(cfg, progress=False)
    assert stats.images >= 1
    coco = json.loads((tmp_path / "twin" / "annotations" / "coco.json").read_text())
    labelled = 0
    for im in coco["images"]:
        img = Image.open(tmp_path / "twin" / "images" / im["file_name"])
        assert img.mode == "L" and img.size == (im["width"], im["height"])
        assert img.format == "JPEG" and im["file_name"].endswith(".jpg")  # as the photos are
        x0, y0, x1, y1 = im["crop"]
        assert (x1 - x0, y1 - y0) == img.size and x1 <= 120 and y1 <= 160
        inst = np.asarray(Image.open(tmp_path / "twin" / "masks" / "instance" / (im["file_name"][:-4] + ".png")))
        labelled += int(inst.any())
    assert labelled >= 1  # a defect on the tile is labelled in its crop
