"""Dataset bookkeeping without Blender: shards from flags and schedulers, folder guards, COCO."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from synthgen.annotate.coco import categories, decode_rle, image_id, instance_annotations
from synthgen.dataset.writer import Dataset, parse_shard
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_json

from conftest import REPO


def test_shard_from_flag_slurm_and_kubernetes():
    assert parse_shard("2/5", env={}) == (2, 5)
    assert parse_shard(None, env={}) == (0, 1)
    assert parse_shard(None, env={"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert parse_shard(None, env={"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_COUNT": "4",
                                  "SLURM_ARRAY_TASK_MIN": "8"}) == (3, 4)
    assert parse_shard(None, env={"JOB_COMPLETION_INDEX": "1", "SYNTHGEN_SHARD_COUNT": "2"}) == (1, 2)
    assert parse_shard("1/2", env={"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "9"}) == (1, 2)
    with pytest.raises(SynthgenError, match="SYNTHGEN_SHARD_COUNT"):
        parse_shard(None, env={"JOB_COMPLETION_INDEX": "1"})
    with pytest.raises(SynthgenError, match="out of range"):
        parse_shard("5/5", env={})
    with pytest.raises(SynthgenError, match="expected K/N"):
        parse_shard("a/b", env={})


def test_folder_of_another_job_is_refused_untouched(tmp_path):
    ds = Dataset(tmp_path / "d")
    ds.open_for_job({"config_hash": "aaa", "seed": 1, "shard": [0, 1]})
    ds.open_for_job({"config_hash": "aaa", "seed": 1, "shard": [0, 1]})  # same job: resume is fine
    before = sorted(p.name for p in (tmp_path / "d").iterdir())
    with pytest.raises(SynthgenError, match="holds another job's dataset"):
        ds.open_for_job({"config_hash": "bbb", "seed": 1, "shard": [0, 1]})
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(SynthgenError, match="not empty"):
        Dataset(foreign).open_for_job({"config_hash": "aaa", "seed": 1, "shard": [0, 1]})
    assert [p.name for p in foreign.iterdir()] == ["thesis.txt"]


def test_output_path_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "out"
    f.write_text("not a folder")
    with pytest.raises(SynthgenError, match="not a folder"):
        Dataset(f).open_for_job({"config_hash": "a", "seed": 0, "shard": [0, 1]})
    assert f.read_text() == "not a folder"


def test_unwritable_output_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(SynthgenError, match="not writable"):
            Dataset(locked / "out").open_for_job({"config_hash": "a", "seed": 0, "shard": [0, 1]})
    finally:
        locked.chmod(0o700)


def test_coco_rle_decodes_to_exactly_the_instance_pixels(tmp_path):
    rng = np.random.default_rng(0)
    inst = np.zeros((48, 64), np.uint16)
    inst[5:20, 7:30] = 1
    inst[30:40, 40:41] = 2  # a one-pixel-wide scratch
    inst[rng.uniform(size=inst.shape) < 0.01] = 3  # scattered pixels
    img = image_id(4, 2)
    anns = instance_annotations(inst, img, [{"instance": k, "kind": kind, "defect_id": k}
                                            for k, kind in [(1, "dent"), (2, "scratch"), (3, "mark")]],
                                {c["name"]: c["id"] for c in categories(["dent", "mark", "scratch"])})
    coco = {"images": [{"id": img, "width": 64, "height": 48, "file_name": "x.png"}], "annotations": anns,
            "categories": categories(["dent", "mark", "scratch"])}
    atomic_write_json(tmp_path / "coco.json", coco)
    api = COCO(str(tmp_path / "coco.json"))
    for a in api.loadAnns(api.getAnnIds()):
        k = a["defect_id"]
        assert np.array_equal(api.annToMask(a).astype(bool), inst == k)
        assert np.array_equal(decode_rle(a["segmentation"]), inst == k)
        assert a["area"] == int((inst == k).sum())
        ys, xs = np.nonzero(inst == k)
        assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_fields_added_later_keep_the_hash_of_datasets_written_before_them():
    """The smoke config's hash as datasets before JPEG output, pairs, blur, label modes and defect
    orientation recorded it: they resume and merge; a field moved off its inert value counts."""
    from synthgen.config.job import JobConfig, load_job_config
    from synthgen.dataset.job import config_hash

    now = load_job_config(REPO / "configs" / "smoke.yaml")
    # Labels at part edges (verification.spill_px) changed the labels: the old hash holds only with
    # the spill off, and the default config no longer claims it.
    cfg = now.model_copy(update={"verification": now.verification.model_copy(update={"spill_px": 0})})
    assert config_hash(cfg) == "9fa8b0b6b0c3760f"
    assert config_hash(now) != "9fa8b0b6b0c3760f"
    data = cfg.model_dump(mode="json")

    def hashed(d: dict) -> str:
        c = JobConfig.model_validate(d, context={"config_dir": cfg.config_dir})
        c._source = cfg.source  # as load_job_config would: paths count relative to the config's folder
        return config_hash(c)

    assert hashed(json.loads(json.dumps(data))) == config_hash(cfg), "the same config, re-read: the same hash"
    for edit in (lambda d: d["render"].update(filter_width_px=0.8),
                 lambda d: d["verification"].update(spill_px=2),
                 lambda d: d["defects"]["kinds"]["dent"]["material"].update(tint=[1.2, 1.5]),
                 lambda d: d["render"].update(image_format="jpeg"),
                 lambda d: d["verification"].update(save_pairs=True),
                 lambda d: d["render"]["sensor"]["blur"].update(enabled=True),
                 lambda d: d["defects"]["kinds"]["dent"].update(label="region"),
                 lambda d: d["defects"]["kinds"]["dent"].update(rotation_deg=[0, 10]),
                 lambda d: d["render"].update(view_transform="Raw")):
        d = json.loads(json.dumps(data))
        edit(d)
        assert hashed(d) != config_hash(cfg)
    near = json.loads(json.dumps(data))
    near["defects"]["kinds"]["dent"]["surface"]["max_edge_distance_mm"] = 2.0
    along = json.loads(json.dumps(near))
    along["defects"]["kinds"]["dent"]["surface"]["edge_direction"] = [1, 0, 0]
    assert hashed(along) != hashed(near), "edge_direction counts once it is set"
    unlabelled = json.loads(json.dumps(data))
    unlabelled["verification"]["render_without_defects"] = True
    share = json.loads(json.dumps(unlabelled))
    share["defects"]["healthy_share"] = 0.2
    assert hashed(share) != hashed(unlabelled), "healthy_share counts once it is set"


def test_the_one_content_hash_ignores_key_order_and_sees_every_value():
    from synthgen.io import stable_hash

    a = {"render": {"samples": 8, "resolution": [64, 48]}, "seed": 1}
    b = {"seed": 1, "render": {"resolution": [64, 48], "samples": 8}}
    assert stable_hash(a) == stable_hash(b) and len(stable_hash(a)) == 16 and len(stable_hash(a, 12)) == 12
    assert stable_hash(a) != stable_hash({**a, "seed": 2})
    assert stable_hash(a, prefix="v2:") != stable_hash(a)
    assert stable_hash({"p": Path("x")}) == stable_hash({"p": "x"})  # paths hash as their text
