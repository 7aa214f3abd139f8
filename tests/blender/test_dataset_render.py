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


def test_rerunning_a_finished_render_says_so_and_keeps_the_record(baseline):
    cfg, base = baseline
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    res = run_cli("render", str(cfg), "--out", str(base))
    assert res.returncode == 0, res.stderr
    assert f"nothing to do: {N_SCENES} of {N_SCENES} scenes already done" in res.stderr
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == before  # manifest.json included


def test_two_shards_merged_equal_one_run(baseline, tmp_path):
    cfg, base = baseline
    for k in (0, 1):
        res = run_cli("render", str(cfg), "--out", str(tmp_path / f"s{k}"), "--shard", f"{k}/2")
        assert res.returncode == 0, res.stderr
    res = run_cli("merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "merged"))
    assert res.returncode == 0, res.stderr
    merged = tmp_path / "merged"
    assert _annotations(merged) == _annotations(base)
    assert sorted(p.name for p in (merged / "images").glob("*.png")) == \
        sorted(p.name for p in (base / "images").glob("*.png"))
    # Plans name no shard's private cache: merged plans are the single run's, byte for byte.
    for f in sorted((base / "plans").glob("*.json")):
        assert (merged / "plans" / f.name).read_bytes() == f.read_bytes(), f.name
    man, base_man = (json.loads((d / "manifest.json").read_text()) for d in (merged, base))
    assert man["blender_version"] == base_man["blender_version"] and man["num_scenes"] == N_SCENES
    assert man["last_run"]["images"] == base_man["last_run"]["images"] and len(man["last_run"]["shards"]) == 2


def test_folder_of_another_config_is_refused_and_untouched(baseline, tmp_path):
    _, base = baseline
    other = _cfg(tmp_path, "other.yaml", seed=12345)
    before = {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()}
    res = run_cli("render", str(other), "--out", str(base))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "holds another job's dataset" in res.stderr and str(base) in res.stderr
    assert {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()} == before


def test_dataset_files_are_shared_readable_like_images(baseline):
    """Masks, plans and annotations get the mode a plain file gets under the umask (0644
    usually), as images do; not the 0600 of a temp file."""
    import os

    _, ds = baseline
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    files = [f for f in ds.rglob("*") if f.is_file() and ".cache" not in f.parts]
    assert {f.relative_to(ds).parts[0] for f in files} >= {"images", "masks", "plans", "annotations", "job.json"}
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(want)}


def test_a_written_plan_re_renders_pixel_identically_from_a_moved_checkout(tmp_path):
    """Plans hold no machine paths: the config and its part copied to another folder re-render a
    scene of the first folder's dataset with the same image and mask bytes (PNG dates stripped)."""
    import shutil

    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        shutil.copy(REPO / "assets" / "parts" / "bracket.stl", d / "bracket.stl")
    data = smoke_dict(tmp_path / "unused", num_scenes=2)
    data.pop("out")
    data["parts"][0]["path"] = "bracket.stl"
    for d in (a, b):
        (d / "job.yaml").write_text(yaml.safe_dump(data))
    res = run_cli("render", str(a / "job.yaml"), "--out", str(a / "ds"))
    assert res.returncode == 0, res.stderr
    plan_file = next(f for f in sorted((a / "ds" / "plans").glob("*.json"))
                     if json.loads(f.read_text())["status"] == "accepted")
    text = plan_file.read_text()
    assert str(tmp_path) not in text and ".cache" not in text, "a plan names a machine path"
    rec = json.loads(text)
    assert rec["plan"]["parts"][0]["path"] == "bracket.stl" and rec["plan"]["render"]["cycles_seed"] > 0
    res = run_cli("render", str(b / "job.yaml"), "--from-plan", str(plan_file), "--out", str(b / "ds"))
    assert res.returncode == 0, res.stderr
    images = sorted((a / "ds" / "images").glob(f"{plan_file.stem}_*.png"))
    assert images and sorted(f.name for f in (b / "ds" / "images").glob("*.png")) == [f.name for f in images]
    for f in images:
        for sub in ("images", "masks/instance", "masks/semantic"):
            assert (b / "ds" / sub / f.name).read_bytes() == (a / "ds" / sub / f.name).read_bytes(), (sub, f.name)
    assert b"Date" not in images[0].read_bytes() and b"RenderTime" not in images[0].read_bytes()
    assert (b / "ds" / "plans" / plan_file.name).read_bytes() == plan_file.read_bytes()


def test_a_run_without_any_accepted_image_exits_non_zero_and_says_why(tmp_path):
    """Every defect far below the visibility threshold: each rejected scene is named with its
    reasons counted, the run exits non-zero, and no summary shows a meaningless rate."""
    data = smoke_dict(tmp_path / "ds", num_scenes=2, verification={"min_visible_pixels": 100000})
    cfg = tmp_path / "job.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = run_cli("render", str(cfg))
    assert res.returncode == 1, res.stderr
    lines = [ln.split("\r")[-1] for ln in res.stderr.splitlines()]
    rejected = [ln for ln in lines if "rejected: no defect visible from any camera" in ln]
    assert len(rejected) == 2 and all("too_few_pixels" in ln for ln in rejected), res.stderr
    assert lines[-1].startswith(f"error: {cfg}: no image was accepted in 2 scenes (2 showed no visible defect")
    assert "too_few_pixels" in lines[-1] and "nan" not in res.stderr
    assert "done: 2 scenes tried this run (0 already done), 0 accepted (0 %), 2 rejected" in res.stderr


def test_a_scene_where_no_defect_can_be_placed_says_so_and_is_not_rendered(tmp_path):
    data = smoke_dict(tmp_path / "ds", num_scenes=2)
    for kind in data["defects"]["kinds"].values():  # only faces pointing down: none is free
        kind["surface"] = {"direction": [0, 0, -1], "max_angle_deg": 5}
    cfg = tmp_path / "job.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = run_cli("render", str(cfg))
    assert res.returncode == 1, res.stderr
    lines = [ln.split("\r")[-1] for ln in res.stderr.splitlines()]
    assert sum("rejected: no defect could be placed on any part" in ln for ln in lines) == 2, res.stderr
    assert "2 had no defect placed on any part" in lines[-1] and "surface filter" in lines[-1]
    assert not list((tmp_path / "ds" / "images").glob("*"))
    records = [json.loads(f.read_text()) for f in sorted((tmp_path / "ds" / "plans").glob("*.json"))]
    assert len(records) == 2 and all(r["status"] == "rejected" and r["plan"]["defects"] == [] for r in records)


def _render_two_scenes(tmp_path, section: str, **fields):
    """The first two scenes of the baseline's config with ``fields`` set in ``section``, rendered."""
    d = yaml.safe_load(_cfg(tmp_path).read_text())
    d["num_scenes"] = 2
    d[section] = {**d.get(section, {}), **fields}
    cfg = tmp_path / "variant.yaml"
    cfg.write_text(yaml.safe_dump(d))
    res = run_cli("render", str(cfg), "--out", str(tmp_path / "ds"))
    assert res.returncode == 0, res.stderr
    return tmp_path / "ds"


def test_jpeg_output_changes_only_the_image_files(baseline, tmp_path):
    """render.image_format: jpeg writes .jpg images that COCO and the plans point at; the masks
    stay PNG and equal the PNG run's; the pixels are the PNG run's within JPEG error."""
    _, png = baseline
    ds = _render_two_scenes(tmp_path, "render", image_format="jpeg", jpeg_quality=95)
    coco = json.loads((ds / "annotations" / "coco.json").read_text())
    ref = json.loads((png / "annotations" / "coco.json").read_text())
    names = [im["file_name"] for im in coco["images"]]
    assert names and all(n.endswith(".jpg") for n in names)
    assert sorted(p.name for p in (ds / "images").iterdir()) == sorted(names)
    ref_imgs = {im["id"]: im for im in ref["images"]}
    assert coco["annotations"] == [a for a in ref["annotations"] if a["image_id"] in {im["id"] for im in coco["images"]}]
    for im in coco["images"]:
        stem = im["file_name"][:-4]
        assert ref_imgs[im["id"]]["file_name"] == f"{stem}.png"
        for sub in ("instance", "semantic"):
            assert (ds / "masks" / sub / f"{stem}.png").read_bytes() == (png / "masks" / sub / f"{stem}.png").read_bytes()
        jpg = Image.open(ds / "images" / im["file_name"])
        assert jpg.format == "JPEG"
        a = np.asarray(jpg.convert("RGB"), np.float32)
        b = np.asarray(Image.open(png / "images" / f"{stem}.png").convert("RGB"), np.float32)
        assert np.abs(a - b).mean() < 3.0
    for rec in (json.loads(p.read_text()) for p in (ds / "plans").glob("*.json")):
        for cam in rec.get("accepted_cameras", []):
            assert cam["image"].endswith(".jpg") and (ds / cam["image"]).is_file()
    from synthgen.learn.common.sources import read_synthgen

    assert sorted(e.image.name for e in read_synthgen(ds)) == sorted(names)


def test_saved_pairs_hold_each_kept_defect_on_and_off_with_its_label(tmp_path):
    """verification.save_pairs: one on/off/label box per kept defect; the label box is the
    instance mask there, and the defect changes the on render against the off one inside it."""
    from synthgen.realism.hybrid import read_pairs

    ds = _render_two_scenes(tmp_path, "verification", save_pairs=True)
    coco = json.loads((ds / "annotations" / "coco.json").read_text())
    pairs = read_pairs(ds)
    assert len(pairs) == len(coco["annotations"]) > 0
    for p in pairs:
        stem, k = p.label.name[:9], int(p.label.name[10:12])
        inst = np.asarray(Image.open(ds / "masks" / "instance" / f"{stem}.png")) == k
        label = np.asarray(Image.open(p.label)) > 127
        ys, xs = np.nonzero(inst)
        y0, x0 = max(0, ys.min() - 3), max(0, xs.min() - 3)
        assert np.array_equal(inst[y0:y0 + label.shape[0], x0:x0 + label.shape[1]], label)
        on, off = (np.asarray(Image.open(f).convert("L"), np.int16) for f in (p.on, p.off))
        assert np.abs(on - off)[label].mean() > 5


def test_a_healthy_share_scene_is_rendered_as_a_healthy_image_with_an_empty_label(tmp_path):
    """defects.healthy_share 1 with render_without_defects: the scene is planned with no defect and
    still rendered (good parts for the mixes), its masks empty and its COCO without annotations."""
    data = smoke_dict(tmp_path / "ds", num_scenes=1, verification={"min_visible_pixels": 4,
                                                                   "render_without_defects": True})
    data["defects"]["healthy_share"] = 1.0
    cfg = tmp_path / "job.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = run_cli("render", str(cfg))
    assert res.returncode == 0, res.stderr
    images = sorted((tmp_path / "ds" / "images").glob("*"))
    assert len(images) == 3, res.stderr  # every camera sees the part
    masks = sorted((tmp_path / "ds" / "masks").rglob("*.png"))
    assert len(masks) >= 3, masks
    for m in masks:
        assert not np.asarray(Image.open(m)).any(), m
    record = json.loads(next((tmp_path / "ds" / "plans").glob("*.json")).read_text())
    assert record["status"] == "accepted" and record["plan"]["defects"] == []
    assert record["coco"]["annotations"] == [] and len(record["coco"]["images"]) == 3
    assert all(c["status"] == "healthy" for c in record["camera_checks"])


def test_the_run_record_has_memory_and_data_blocks_per_step_and_nothing_accumulates(baseline):
    """manifest.json's last_run holds the resident memory at the end of each step and Blender's
    data-blocks: the scenes' blocks are all gone after each clear (memory stays flat over a run)."""
    _cfg_path, ds = baseline
    run = json.loads((ds / "manifest.json").read_text())["last_run"]
    assert set(run["rss_mib"]) >= {"start", "plan", "build", "verify", "render", "clear", "write"}
    assert all(50 < v < 24 * 1024 for v in run["rss_mib"].values()), run["rss_mib"]
    blocks = run["datablocks"]
    assert blocks["built_max"]["objects"] > blocks["start"]["objects"]        # a scene was built...
    assert blocks["built_max"]["materials"] > blocks["start"]["materials"]
    assert {k: v for k, v in blocks["after_clear"].items() if k != "kept"} == {
        k: v for k, v in blocks["start"].items() if k != "kept"}               # ...and cleared away
    assert blocks["start"]["kept"] == 0 and 1 <= blocks["after_clear"]["kept"] <= 2   # the parts' meshes, reused
