"""Exports users load: COCO polygons rasterised by pycocotools and YOLO-seg labels by the
Ultralytics convention give the instance masks back exactly, holes, pieces, one-pixel cracks and
single pixels included; the YOLO export splits by scene."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from synthgen.annotate.coco import categories, image_id, instance_annotations
from synthgen.dataset.export import export_dataset, mask_polygons, rasterise, rasterise_yolo

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


SCENES = 5  # views 0 and 1 of each


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    inst = _instances()
    cats = categories(["burn", "dent"])
    images, anns = [], []
    for scene in range(SCENES):
        for cam in range(2):
            name = f"{scene:06d}_{cam:02d}.png"
            Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(root / "images" / name)
            img = {"id": image_id(scene, cam), "file_name": name, "width": W, "height": H}
            images.append(img)
            anns += instance_annotations(inst, img["id"], [{"instance": 1, "kind": "dent"},
                                                           {"instance": 2, "kind": "burn"},
                                                           {"instance": 3, "kind": "dent"}],
                                         {c["name"]: c["id"] for c in cats})
    (root / "annotations" / "coco.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": cats}))
    return root, inst


def _thin() -> list[np.ndarray]:
    """What broke the old export: one-pixel cracks (straight and diagonal), single pixels, a
    two-pixel stub, each a mask of its own."""
    out = []
    for draw in (lambda m: cv2.line(m, (5, 5), (60, 40), 1, 1), lambda m: cv2.line(m, (10, 80), (10, 20), 1, 1),
                 lambda m: cv2.line(m, (20, 90), (120, 88), 1, 1)):
        m = np.zeros((H, W), np.uint8)
        draw(m)
        out.append(m.astype(bool))
    for pts in ([(40, 40)], [(0, 0)], [(70, 50), (71, 51)]):
        m = np.zeros((H, W), bool)
        for x, y in pts:
            m[y, x] = True
        out.append(m)
    return out


def test_polygons_give_the_mask_back_to_pycocotools_and_to_the_ultralytics_convention():
    inst = _instances()
    masks = [inst == k for k in (1, 2, 3)] + _thin()
    for i, m in enumerate(masks):
        polys = mask_polygons(m)
        assert all(len(p) >= 4 for p in polys), i
        assert np.array_equal(rasterise(polys, (H, W)), m), f"pycocotools, mask {i}"
        assert np.array_equal(rasterise_yolo(polys, (H, W)), m), f"ultralytics, mask {i}"
    assert len(mask_polygons(inst == 2)) == 2  # two pieces, two polygons


def test_yolo_seg_splits_by_scene_and_its_labels_rasterise_back(dataset, tmp_path):
    root, inst = dataset
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "yolo"), "--val-fraction", "0.4")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "yolo"
    yaml_text = (out / "data.yaml").read_text()
    assert "train: images/train\nval: images/val" in yaml_text and "names:\n  0: burn\n  1: dent" in yaml_text
    train = {f.name for f in (out / "images" / "train").iterdir()}
    val = {f.name for f in (out / "images" / "val").iterdir()}
    assert len(train | val) == 2 * SCENES and len(val) == 4  # 2 of 5 scenes, both views of each
    scenes = lambda names: {n.split("_")[0] for n in names}
    assert not scenes(train) & scenes(val)  # no scene on both sides
    for subset, names in (("train", train), ("val", val)):
        for name in names:
            lines = (out / "labels" / subset / name.replace(".png", ".txt")).read_text().splitlines()
            by_class: dict[int, list] = {}
            for ln in lines:
                v = ln.split()
                by_class.setdefault(int(v[0]), []).append(np.array(v[1:], float).reshape(-1, 2) * [W, H])
            want = {0: inst == 2, 1: (inst == 1) | (inst == 3)}
            assert sorted(by_class) == [0, 1] and len(lines) == 4
            for c, polys in by_class.items():
                assert np.array_equal(rasterise_yolo(polys, (H, W)), want[c]), (name, c)


def test_yolo_split_refuses_a_fraction_outside_0_1_and_a_one_scene_dataset(dataset, tmp_path):
    root, _ = dataset
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "a"), "--val-fraction", "1.5")
    assert res.returncode != 0 and res.stderr.strip().splitlines() == ["error: --val-fraction 1.5: must be in [0, 1)"]
    coco = json.loads((root / "annotations" / "coco.json").read_text())
    coco["images"] = coco["images"][:2]  # scene 0 only
    (root / "annotations" / "coco.json").write_text(json.dumps(coco))
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "b"))
    assert res.returncode != 0 and "needs 2 or more" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_coco_polygons_load_in_pycocotools_and_equal_the_masks(dataset, tmp_path):
    root, inst = dataset
    for fmt, rel in (("coco-polygons", "annotations/coco.json"), ("fiftyone", "labels.json")):
        export_dataset(root, tmp_path / fmt, fmt)
        coco = COCO(str(tmp_path / fmt / rel))
        assert len(coco.getAnnIds()) == 3 * 2 * SCENES
        for a in coco.loadAnns(coco.getAnnIds()):
            assert isinstance(a["segmentation"], list) and all(len(p) >= 8 for p in a["segmentation"])
            k = a["id"] % 1000
            assert np.array_equal(coco.annToMask(a).astype(bool), inst == k), (fmt, k)
    assert (tmp_path / "fiftyone" / "data" / "000000_00.png").is_file()

def test_export_into_a_folder_with_files_is_refused_and_untouched(dataset, tmp_path):
    root, _ = dataset
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    res = run_cli("export", str(root), "--format", "yolo-seg", "--out", str(tmp_path / "busy"))
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1 and "busy" in res.stderr
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["mine.txt"]
