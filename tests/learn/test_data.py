"""Readers (synthgen, folder, COCO, split), size policy and training mixes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from synthgen.errors import ConfigError, SynthgenError
from synthgen.learn.common.config import DataConfig, MixItem, SourceConfig
from synthgen.learn.common.data import MixSampler, SegDataset, apply_policy
from synthgen.learn.common.sources import read_source
from synthgen.learn.seg.config import SegConfig

KINDS = ["crack", "scratch"]


def write_synthgen(root: Path) -> dict[str, np.ndarray]:
    """A two-image synthgen dataset (RGB renders, uint16 instance, uint8 semantic masks, COCO)."""
    for d in ("images", "masks/instance", "masks/semantic", "annotations"):
        (root / d).mkdir(parents=True, exist_ok=True)
    images, anns, sems = [], [], {}
    for n, (scene, cam) in enumerate([(0, 0), (3, 1)]):
        stem = f"{scene:06d}_{cam:02d}"
        img = np.full((24, 32, 3), 50, np.uint8)
        inst = np.zeros((24, 32), np.uint16)
        inst[2:6, 3:10] = 1
        if n == 1:
            inst[15:20, 20:30] = 2
        kinds = {1: "scratch", 2: "crack"}
        sem = np.zeros((24, 32), np.uint8)
        for k, kind in kinds.items():
            sem[inst == k] = KINDS.index(kind) + 1
        img[inst > 0] = 200
        cv2.imwrite(str(root / "images" / f"{stem}.png"), img)
        cv2.imwrite(str(root / "masks/instance" / f"{stem}.png"), inst)
        cv2.imwrite(str(root / "masks/semantic" / f"{stem}.png"), sem)
        sems[stem] = sem
        images.append({"id": n + 1, "file_name": f"images/{stem}.png", "height": 24, "width": 32,
                       "scene_id": scene, "camera_id": cam})
        for k in np.unique(inst)[1:]:
            rle = mask_utils.encode(np.asfortranarray((inst == k).astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            anns.append({"id": len(anns) + 1, "image_id": n + 1, "category_id": KINDS.index(kinds[int(k)]) + 1,
                         "segmentation": rle, "area": int((inst == k).sum()), "bbox": [0, 0, 1, 1],
                         "iscrowd": 0})
    coco = {"images": images, "annotations": anns,
            "categories": [{"id": i + 1, "name": k, "supercategory": "defect"} for i, k in enumerate(KINDS)]}
    (root / "annotations" / "coco.json").write_text(json.dumps(coco))
    return sems


def test_synthgen_reader_binary_and_multiclass(tmp_path):
    sems = write_synthgen(tmp_path / "ds")
    src = SourceConfig(kind="synthgen", path=str(tmp_path / "ds"))
    entries = read_source(src, "syn")
    assert [e.image.name for e in entries] == ["000000_00.png", "000003_01.png"]
    binary = SegDataset(entries, DataConfig(size=(24, 32), channels=3))
    assert np.array_equal(binary[1].label, (sems["000003_01"] > 0).astype(np.uint8))
    # Multi-class with classes in another order than the COCO categories: mapped by name.
    multi = SegDataset(entries, DataConfig(size=(24, 32), channels=3, classes=["scratch", "crack"]))
    lab = multi[1].label
    assert lab[3, 5] == 1 and lab[17, 25] == 2
    assert multi[1].image.shape == (24, 32, 3)
    with pytest.raises(SynthgenError, match="'crack' is not in data.classes"):
        _ = SegDataset(entries, DataConfig(size=(24, 32), classes=["scratch", "dent"]))[1]


def test_synthgen_reader_falls_back_to_coco_rle(tmp_path):
    sems = write_synthgen(tmp_path / "ds")
    for p in (tmp_path / "ds" / "masks" / "semantic").iterdir():
        p.unlink()
    entries = read_source(SourceConfig(kind="synthgen", path=str(tmp_path / "ds")), "syn")
    ds = SegDataset(entries, DataConfig(size=(24, 32), classes=KINDS))
    assert np.array_equal(ds[1].label, sems["000003_01"])


def test_coco_reader(tmp_path):
    sems = write_synthgen(tmp_path / "ds")
    src = SourceConfig(kind="coco", path=str(tmp_path / "ds/annotations/coco.json"),
                       images_root=str(tmp_path / "ds"))
    ds = SegDataset(read_source(src, "c"), DataConfig(size=(24, 32), classes=KINDS))
    assert np.array_equal(ds[0].label, sems["000000_00"])


def test_folder_reader_skips_mask_files_and_thresholds(tmp_path):
    img = np.full((10, 12), 90, np.uint8)
    mask = np.zeros((10, 12), np.uint8)
    mask[2:4, 2:4] = 128   # above threshold 127
    mask[6, 6] = 100       # anti-aliased edge below threshold
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    cv2.imwrite(str(tmp_path / "a.png"), mask)
    cv2.imwrite(str(tmp_path / "b.jpg"), img)  # no mask
    src = SourceConfig(kind="folder", path=str(tmp_path), missing_mask="healthy")
    entries = read_source(src, "f")
    assert [e.image.name for e in entries] == ["a.jpg", "b.jpg"]
    ds = SegDataset(entries, DataConfig(size=(16, 16), policy="crop"))
    assert ds[0].label.sum() == 4 and ds[1].label.sum() == 0
    with pytest.raises(SynthgenError, match="b.jpg: no mask file b.png"):
        read_source(SourceConfig(kind="folder", path=str(tmp_path)), "f")


def test_split_reader_and_bad_key(tmp_path):
    cv2.imwrite(str(tmp_path / "x.jpg"), np.zeros((8, 8), np.uint8))
    m = np.zeros((8, 8), np.uint8)
    m[1:3, 1:3] = 255
    cv2.imwrite(str(tmp_path / "x.png"), m)
    split = {"defective": {"train": [{"image": "x.jpg", "mask": "x.png", "class": "Crack"}]},
             "healthy": {"train": [{"image": "x.jpg"}]}}
    (tmp_path / "split.json").write_text(json.dumps(split))
    src = SourceConfig(kind="split", path=str(tmp_path / "split.json"), keys=["defective.train"])
    ds = SegDataset(read_source(src, "s"), DataConfig(size=(16, 16), policy="crop", classes=["Blowhole", "Crack"]))
    assert ds[0].label.max() == 2 and ds[0].label.sum() == 8
    with pytest.raises(Exception, match="keys: 'defective.tran' is not a list"):
        SourceConfig(kind="split", path=str(tmp_path / "split.json"), keys=["defective.tran"])


def test_relative_paths_resolve_against_config_folder(tmp_path):
    (tmp_path / "cfg" / "data").mkdir(parents=True)
    cfg = SegConfig.model_validate({"sources": {"a": {"kind": "folder", "path": "data"}},
                                    "train": {"mix": [{"source": "a"}]}, "out": "runs"},
                                   context={"config_dir": tmp_path / "cfg"})
    assert cfg.sources["a"].path == str((tmp_path / "cfg" / "data").resolve())
    assert cfg.out == str((tmp_path / "cfg" / "runs").resolve())


def test_letterbox_keeps_aspect_and_marks_padding():
    img = np.full((50, 100, 1), 255, np.uint8)
    lab = np.ones((50, 100), np.uint8)
    im, lb, valid, content = apply_policy(img, lab, DataConfig(size=(64, 64), policy="letterbox"))
    assert im.shape == (64, 64, 1) and content == (32, 64)
    assert valid[:32].all() and not valid[32:].any() and not lb[32:].any()


def test_mix_sampler_follows_ratios_and_is_seeded(tmp_path):
    for name, n in (("a", 4), ("b", 10)):
        (tmp_path / name).mkdir()
        for i in range(n):
            cv2.imwrite(str(tmp_path / name / f"{i}.jpg"), np.zeros((8, 8), np.uint8))
    sources = {k: SourceConfig(kind="folder", path=str(tmp_path / k), missing_mask="healthy") for k in "ab"}
    s = MixSampler([MixItem(source="a", ratio=3), MixItem(source="b", ratio=1)], sources, DataConfig(size=(16, 16)),
                   samples_per_epoch=40)
    e1 = s.epoch(np.random.default_rng(0))
    assert sum(k == 0 for k, _ in e1) == 30 and len(e1) == 40
    # The small source is cycled through whole permutations: each of its 4 images drawn 7 or 8 times.
    counts = np.bincount([i for k, i in e1 if k == 0], minlength=4)
    assert counts.min() >= 7 and counts.max() <= 8
    assert e1 == s.epoch(np.random.default_rng(0)) and e1 != s.epoch(np.random.default_rng(1))


def test_missing_source_is_a_config_error(tmp_path):
    from synthgen.config.loading import load_config

    p = tmp_path / "c.yaml"
    p.write_text("sources:\n  real: {kind: folder, path: nowhere}\ntrain:\n  mix: [{source: real}]\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p, SegConfig)
    assert str(exc.value).startswith(f"{p}: sources.real.path: not found")
