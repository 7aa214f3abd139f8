"""The labelled dataset as a user receives it: COCO that matches the masks, no image without a
defect, resume after SIGKILL and sharding give the same annotations as one clean run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO

from conftest import REPO, requires_bpy, run_cli, smoke_dict

pytestmark = [requires_bpy, pytest.mark.blender]
N_SCENES = 6


def _cfg(tmp, name="job.yaml", **kw):
    d = smoke_dict(tmp / "unused", num_scenes=N_SCENES, **kw)
    d.pop("out")
    p = tmp / name
    p.write_text(yaml.safe_dump(d))
    return p


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baseline")
    cfg = _cfg(tmp)
    res = run_cli("render", str(cfg), "--out", str(tmp / "ds"))
    assert res.returncode == 0, res.stderr
    return cfg, tmp / "ds"


def test_coco_matches_masks_and_every_image_has_a_visible_defect(baseline):
    _, ds = baseline
    coco = COCO(str(ds / "annotations" / "coco.json"))
    imgs = sorted((ds / "images").glob("*.png"))
    assert len(imgs) >= 3 and len(coco.getImgIds()) == len(imgs)
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(cats.values()) == ["burn", "dent", "hole"]
    for info in coco.loadImgs(coco.getImgIds()):
        stem = info["file_name"][:-4]
        inst = np.asarray(Image.open(ds / "masks" / "instance" / f"{stem}.png"))
        sem = np.asarray(Image.open(ds / "masks" / "semantic" / f"{stem}.png"))
        assert inst.dtype == np.uint16 and inst.shape == (info["height"], info["width"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
        assert anns, f"{stem}: written image without a visible defect"
        assert sorted(np.unique(inst[inst > 0]).tolist()) == list(range(1, len(anns) + 1))
        for a in anns:
            k = a["id"] % 1000
            m = inst == k
            assert np.array_equal(coco.annToMask(a).astype(bool), m), f"{stem}: RLE != instance PNG"
            assert (sem[m] == a["category_id"]).all()
            assert a["scene_id"] * 1000 + a["camera_id"] + 1 == info["id"]
    rec = json.loads((ds / "plans" / "000000.json").read_text())
    assert {"plan", "status", "accepted_cameras", "counts"} <= set(rec)
    man = json.loads((ds / "manifest.json").read_text())
    assert man["counts"]["scenes_done"] == N_SCENES and man["blender_version"].startswith("4.5")
    assert man["counts"]["cameras_accepted"] == len(imgs)


def _annotations(ds):
    return (ds / "annotations" / "coco.json").read_bytes()


def test_sigkill_then_rerun_gives_the_same_dataset(baseline, tmp_path):
    cfg, base = baseline
    out = tmp_path / "ds"
    cmd = [sys.executable, "-c", "from synthgen.cli import main; main()", "render", str(cfg), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "plans" / "000001.json").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list((out / "plans").glob("*.json")))
    assert 1 <= done < N_SCENES, f"kill landed outside the run ({done} scenes done)"
    assert not (out / "annotations" / "coco.json").exists()
    res = run_cli("render", str(cfg), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert f"({done} already done)" in res.stderr
    assert _annotations(out) == _annotations(base)
    for f in sorted((base / "masks" / "instance").glob("*.png")):
        assert (out / "masks" / "instance" / f.name).read_bytes() == f.read_bytes()
    assert not list(out.rglob(".tmp_*")), "no temp files left after a completed resume"


def test_two_shards_merged_equal_one_run(baseline, tmp_path):
    cfg, base = baseline
    for k in (0, 1):
        res = run_cli("render", str(cfg), "--out", str(tmp_path / f"s{k}"), "--shard", f"{k}/2")
        assert res.returncode == 0, res.stderr
    res = run_cli("merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "merged"))
    assert res.returncode == 0, res.stderr
    assert _annotations(tmp_path / "merged") == _annotations(base)
    assert sorted(p.name for p in (tmp_path / "merged" / "images").glob("*.png")) == \
        sorted(p.name for p in (base / "images").glob("*.png"))


def test_folder_of_another_config_is_refused_and_untouched(baseline, tmp_path):
    _, base = baseline
    other = _cfg(tmp_path, "other.yaml", seed=12345)
    before = {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()}
    res = run_cli("render", str(other), "--out", str(base))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "holds another job's dataset" in res.stderr and str(base) in res.stderr
    assert {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()} == before
