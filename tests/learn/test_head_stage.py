"""The decision head's second stage (train.head_epochs): whole images, the U-Net frozen, the head
of the best validation epoch kept, the operating point chosen again, done once per setting."""

from __future__ import annotations

import json

import torch
import yaml
from click.testing import CliRunner
from segtoy import blobs, toy_config  # noqa: F401 - fixture

from synthgen.cli import cli


def _cfg(blobs_dir, tmp_path, **train):
    cfg = toy_config(blobs_dir, tmp_path / "out", val=["val"], epochs=2)
    cfg["sources"]["val"] = {"kind": "folder", "path": str(blobs_dir / "train")}
    cfg["model"]["decision_head"] = True
    cfg["train"].update(train)
    p = tmp_path / "seg.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def test_the_head_stage_trains_only_the_head_on_whole_images_and_never_loses_validation_ap(blobs, tmp_path):  # noqa: F811
    p = _cfg(blobs, tmp_path)
    assert CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet"]).exit_code == 0
    best = tmp_path / "out" / "checkpoints" / "best.pt"
    before = torch.load(best, weights_only=False)
    p = _cfg(blobs, tmp_path, head_epochs=3)  # the finished run, resumed with the stage asked for
    r = CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet", "--resume"])
    assert r.exit_code == 0, r.output
    after = torch.load(best, weights_only=False)
    rec = json.loads((tmp_path / "out" / "head_stage.json").read_text())
    assert after["head_stage"]["settings"] == rec["settings"] == {"epochs": 3, "lr": 0.001, "seed": 3}  # toy seed
    assert [e["epoch"] for e in rec["epochs"]] == [0, 1, 2, 3]
    assert rec["val_image_ap"] == max(e["val_image_ap"] for e in rec["epochs"])  # the best epoch kept
    assert rec["val_image_ap"] >= rec["epochs"][0]["val_image_ap"]  # never worse than the crops' head
    assert rec["train_images"]["ng"] > 0 and rec["train_images"]["ok"] > 0
    unet = [k for k in before["model"] if not k.startswith("decision.")]
    assert all(torch.equal(before["model"][k], after["model"][k]) for k in unet)  # the U-Net is frozen
    if rec["kept_epoch"] > 0:
        assert any(not torch.equal(before["model"][k], after["model"][k]) for k in before["model"]
                   if k.startswith("decision."))
    dec = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert after["decision"]["threshold"] == dec["threshold"]  # the operating point chosen for this head
    stamp = best.stat().st_mtime_ns
    assert CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet", "--resume"]).exit_code == 0
    assert best.stat().st_mtime_ns == stamp  # the same setting again: not repeated
