"""Exports users load: YOLO-seg labels and COCO polygons rasterise back to the instance masks
within one pixel, holes and several pieces included; the COCO export loads in pycocotools."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from synthgen.annotate.coco import categories, image_id, instance_annotations
from synthgen.dataset.export import export_dataset, mask_polygons, rasterise

from conftest import run_cli

H, W = 96, 128


def _instances() -> np.ndarray:
    inst = np.zeros((H, W), np.uint16)
    cv2.circle(inst, (30, 40), 18, 1, -1)
    cv2.circle(inst, (30, 40), 7, 0, -1)                  # a ring: instance 1 has a hole
    cv2.rectangle(inst, (70, 10), (90, 30), 2, -1)        # instance 2 in two pieces
    cv2.rectangle(inst, (100, 60), (120, 85), 2, -1)
    cv2.ellipse(inst, (80, 70), (6, 3), 30, 0, 360, 3, -1)  # a small one
    return inst


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    inst = _instances()
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(root / "images" / "000000_00.png")
    cats = categories(["burn", "dent"])
    img = {"id": image_id(0, 0), "file_name": "000000_00.png", "width": W, "height": H}
    anns = instance_annotations(inst, img["id"], [{"instance": 1, "kind": "dent"}, {"instance": 2, "kind": "burn"},
                                                  {"instance": 3, "kind": "dent"}], {c["name"]: c["id"] for c in cats})
    (root / "annotations" / "coco.json").write_text(json.dumps(
        {"images": [img], "annotations": anns, "categories": cats}))
    return root, inst


def _within_one_pixel(got: np.ndarray, want: np.ndarray) -> bool:
    k = np.ones((3, 3), np.uint8)
    grow = lambda m: cv2.dilate(m.astype(np.uint8), k).astype(bool)
    shrink = lambda m: cv2.erode(m.astype(np.uint8), k).astype(bool)
    return bool((got <= grow(want)).all() and (shrink(want) <= got).all())


def test_polygons_with_holes_and_pieces_give_the_mask_back():
    inst = _instances()
    for k in (1, 2, 3):
        polys = mask_polygons(inst == k)
        assert len(polys) == (2 if k == 2 else 1)
        assert np.array_equal(rasterise(polys, (H, W)), inst == k), f"instance {k}"


def test_yolo_seg_labels_rasterise_back_within_one_pixel(dataset, tmp_path):
    root, inst = dataset
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "yolo"))
    assert res.returncode == 0, res.stderr
    out = tmp_path / "yolo"
    assert (out / "images" / "000000_00.png").is_file() and "names:\n  0: burn\n  1: dent" in (out / "data.yaml").read_text()
    lines = (out / "labels" / "000000_00.txt").read_text().splitlines()
    by_class: dict[int, list] = {}
    for ln in lines:
        v = ln.split()
        by_class.setdefault(int(v[0]), []).append(np.array(v[1:], float).reshape(-1, 2) * [W, H])
    assert sorted(by_class) == [0, 1] and len(lines) == 4
    want = {0: inst == 2, 1: (inst == 1) | (inst == 3)}
    for c, polys in by_class.items():
        got = np.zeros((H, W), bool)
        for p in polys:
            got ^= rasterise([p], (H, W))
        assert _within_one_pixel(got, want[c]), f"class {c}"


def test_coco_polygons_load_in_pycocotools_and_match_the_masks(dataset, tmp_path):
    root, inst = dataset
    for fmt, rel in (("coco-polygons", "annotations/coco.json"), ("fiftyone", "labels.json")):
        export_dataset(root, tmp_path / fmt, fmt)
        coco = COCO(str(tmp_path / fmt / rel))
        assert len(coco.getAnnIds()) == 3
        for a in coco.loadAnns(coco.getAnnIds()):
            assert isinstance(a["segmentation"], list)
            k = a["id"] % 1000
            assert _within_one_pixel(coco.annToMask(a).astype(bool), inst == k), (fmt, k)
    assert (tmp_path / "fiftyone" / "data" / "000000_00.png").is_file()


def test_export_into_a_folder_with_files_is_refused_and_untouched(dataset, tmp_path):
    root, _ = dataset
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "busy"))
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1 and "busy" in res.stderr
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["mine.txt"]
