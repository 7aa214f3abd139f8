"""The OK/NG decision: noise-robust image scores, an operating point chosen on validation only,
the decision head, ``seg predict`` at the saved point, and one-line errors."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from segtoy import blobs, toy_config  # noqa: F401 - fixture

from synthgen.cli import cli
from synthgen.errors import SynthgenError
from synthgen.learn.common.config import DecisionConfig
from synthgen.learn.common.decision import choose, operating_threshold, rule_scores

from conftest import run_cli

ROBUST = ("top_k", "smooth_max", "largest_area")


def _map(kind: str, size: int = 64) -> np.ndarray:
    p = np.full((size, size), 0.02, np.float32)
    if kind == "hot_pixel":
        p[20, 33] = 1.0
    elif kind == "blob":
        cv2.circle(p, (30, 30), 6, 0.9, -1)
    return p


@pytest.mark.parametrize("rule", ROBUST)
def test_a_single_hot_pixel_is_ok_and_a_real_blob_is_ng_under_the_noise_robust_rules(rule):
    # validation: three blobs (defective) and three clean maps (healthy) fix the threshold
    rows = [{"scores": rule_scores(_map(k)), "defective": k == "blob"} for k in ["blob", "clean"] * 3]
    dec = choose(rows, DecisionConfig(rule=rule, recall=1.0), 0.5)
    assert dec.score(_map("hot_pixel")) < dec.threshold <= dec.score(_map("blob"))
    # the old rule, for contrast: one confident pixel scores as high as a defect
    assert rule_scores(_map("hot_pixel"))["max"] >= rule_scores(_map("blob"))["max"]


def test_scores_of_a_multiclass_map_use_the_probability_of_any_defect():
    prob = np.zeros((3, 20, 20), np.float32)
    prob[0] = 1.0
    prob[:, 5:10, 5:10] = np.array([0.2, 0.4, 0.4], np.float32)[:, None, None]  # 0.8 defect, split in two classes
    s = rule_scores(prob, top_k=25)
    assert s["max"] == pytest.approx(0.8) and s["top_k"] == pytest.approx(0.8) and s["largest_area"] == 25


def test_the_operating_point_keeps_the_target_recall_and_is_the_highest_such_threshold():
    rng = np.random.default_rng(0)
    pos, neg = rng.uniform(0.3, 1.0, 40), rng.uniform(0.0, 0.6, 60)
    scores, y = np.r_[pos, neg], np.r_[np.ones(40, bool), np.zeros(60, bool)]
    for recall in (0.5, 0.9, 0.95, 1.0):
        t = operating_threshold(scores, y, recall)
        assert (pos >= t).mean() >= recall
        higher = pos[pos > t].min() if (pos > t).any() else np.inf
        assert (pos >= higher).mean() < recall  # the next higher threshold loses recall
    assert operating_threshold(scores, y, 1.0) == pos.min()


@pytest.mark.parametrize("recall", [0.0, 1.5, -0.1])
def test_a_recall_outside_0_1_is_refused(recall):
    with pytest.raises(SynthgenError, match=r"recall: .* outside \(0, 1\]"):
        operating_threshold([0.5], [True], recall)


def _write_cfg(blobs_dir, tmp_path, **over):
    cfg = toy_config(blobs_dir, tmp_path / "out", val=["val"], epochs=4)
    cfg["sources"]["val"] = {"kind": "folder", "path": str(blobs_dir / "train")}
    cfg["model"]["decision_head"] = True
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    p = tmp_path / "seg.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def trained(blobs, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("decision")
    p = _write_cfg(blobs, tmp)
    r = CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet"])
    assert r.exit_code == 0, r.output
    return p, tmp


def test_the_decision_head_loss_falls_and_healthy_images_score_lower(trained):
    _, tmp = trained
    history = json.loads((tmp / "out" / "history.json").read_text())
    losses = [h["decision_loss"] for h in history]
    assert losses[-1] < 0.7 * losses[0]
    from synthgen.config.loading import load_config
    from synthgen.learn.common.checkpoint import load_checkpoint, model_from_checkpoint
    from synthgen.learn.common.data import build_dataset
    from synthgen.learn.common.loop import predict_dataset
    from synthgen.learn.seg.config import SegConfig

    cfg = load_config(trained[0], SegConfig)
    model, data = model_from_checkpoint(load_checkpoint(tmp / "out" / "checkpoints" / "best.pt"), torch.device("cpu"))
    rows = [(bool(gt.any()), head) for _, gt, _, head in
            predict_dataset(model, build_dataset(["test"], cfg.sources, data), 4, "original", torch.device("cpu"))]
    healthy = [h for d, h in rows if not d]
    defective = [h for d, h in rows if d]
    assert healthy and defective and np.mean(healthy) < np.mean(defective)


def test_train_saves_the_decision_chosen_on_validation_in_both_checkpoints(trained):
    _, tmp = trained
    saved = json.loads((tmp / "out" / "decision.json").read_text())
    for name in ("best.pt", "last.pt"):
        ck = torch.load(tmp / "out" / "checkpoints" / name, weights_only=False)
        assert ck["decision"]["threshold"] == saved["threshold"] and ck["decision"]["rule"] == saved["rule"]
    assert saved["validation"]["images"] == 24  # the validation source, not the test set (12 images)
    assert saved["validation"]["decision_recall"] >= 0.95


def test_test_labels_cannot_move_the_operating_point(trained, blobs, tmp_path):  # noqa: F811
    # a setting unlike the saved one makes seg eval choose again; with the test masks intact or
    # wiped out, the threshold is the same: it is fixed on validation before the test set is read
    p, _ = trained
    cfg = yaml.safe_load(p.read_text())
    cfg["eval"]["decision"] = {"rule": "top_k", "recall": 0.9}
    wiped = tmp_path / "test_wiped"
    shutil.copytree(blobs / "test", wiped)
    for m in wiped.glob("*.png"):
        cv2.imwrite(str(m), np.zeros((48, 48), np.uint8))
    meta = []
    for name, folder in (("intact", blobs / "test"), ("wiped", wiped)):
        cfg["sources"]["test"]["path"] = str(folder)
        q = tmp_path / f"{name}.yaml"
        q.write_text(yaml.safe_dump(cfg, sort_keys=False))
        r = CliRunner().invoke(cli, ["seg", "eval", str(q), "--out", str(tmp_path / name), "--quiet"])
        assert r.exit_code == 0, r.output
        meta.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    d0, d1 = (m["meta"]["decision"] for m in meta)
    assert d0["rule"] == d1["rule"] == "top_k" and d0["recall"] == 0.9
    assert d0["threshold"] == d1["threshold"] and d0["validation"]["images"] == 24
    res = meta[0]["results"]["blobs"]
    assert {"decision_recall", "decision_healthy_fp", "image_ap", "image_auroc"} <= set(res)
    assert (tmp_path / "intact" / "decision_pr.png").is_file()


def test_predict_writes_one_row_per_image_and_an_overlay_for_each_ng(trained, blobs, tmp_path):  # noqa: F811
    _, tmp = trained
    ck = tmp / "out" / "checkpoints" / "best.pt"
    saved = json.loads((tmp / "out" / "decision.json").read_text())
    photos = tmp_path / "photos"  # the line's photos, without masks
    photos.mkdir()
    for f in (blobs / "test").glob("*.jpg"):
        shutil.copy(f, photos / f.name)
    r = CliRunner().invoke(cli, ["seg", "predict", str(ck), str(photos), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "p" / "scores.csv").open()))
    assert [row["image"] for row in rows] == sorted(f.name for f in photos.iterdir())
    for row in rows:
        assert row["rule"] == saved["rule"]
        ng = float(row["score"]) >= float(row["threshold"])
        assert row["decision"] == ("NG" if ng else "OK")
        png = tmp_path / "p" / "overlays" / row["image"].replace(".jpg", ".png")
        assert png.is_file() == ng
    healthy = {f.name.replace(".png", ".jpg") for f in (blobs / "test").glob("*.png")
               if not cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).any()}
    calls = {row["image"]: row["decision"] for row in rows}
    assert all(calls[h] == "OK" for h in healthy) and list(calls.values()).count("NG") >= 6  # of 9 defective


def test_a_bilevel_model_with_its_decision_loads_in_predict(trained, blobs, tmp_path):  # noqa: F811
    _, tmp = trained
    ck = torch.load(tmp / "out" / "checkpoints" / "best.pt", weights_only=False)
    bilevel = tmp_path / "model.pt"  # a bi-level run's model.pt: weights under "unet", the decision saved
    torch.save({"unet": ck["model"], "heatmap": None, "weight_logits": None, "run": "random", "seed": 0,
                "config": {"data": ck["config"]["data"], "model": ck["config"]["model"]},
                "decision": {**ck["decision"], "rule": "top_k"}}, bilevel)
    r = run_cli("seg", "predict", str(bilevel), str(blobs / "test"), "--out", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    assert len(list(csv.DictReader((tmp_path / "p" / "scores.csv").open()))) == 24


def _one_line(r, *words):
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err


def test_bad_decision_inputs_give_one_line_naming_the_field(trained, blobs, tmp_path):  # noqa: F811
    p, tmp = trained
    for decision, field in (({"recall": 1.5}, "eval.decision.recall"), ({"recall": 0}, "eval.decision.recall"),
                            ({"rule": "mean"}, "eval.decision.rule")):
        cfg = yaml.safe_load(p.read_text())
        cfg["eval"]["decision"] = decision
        q = tmp_path / "bad.yaml"
        q.write_text(yaml.safe_dump(cfg))
        _one_line(run_cli("seg", "eval", str(q), "--out", str(tmp_path / "e")), field)
        assert not (tmp_path / "e").exists()
    ck = tmp / "out" / "checkpoints" / "best.pt"
    _one_line(run_cli("seg", "predict", str(ck), str(blobs / "test"), "--out", str(tmp_path / "p1"),
                      "--threshold", "0.5", "--rule", "mean"), "--rule", "mean")
    bare = torch.load(ck, weights_only=False)
    bare.pop("decision")
    torch.save(bare, tmp_path / "bare.pt")
    _one_line(run_cli("seg", "predict", str(tmp_path / "bare.pt"), str(blobs / "test"), "--out",
                      str(tmp_path / "p2")), "bare.pt", "decision", "--threshold")
    assert not (tmp_path / "p1").exists() and not (tmp_path / "p2").exists()


def test_the_decision_head_leaves_the_segmentation_exactly_as_without_it(blobs, tmp_path):  # noqa: F811
    # its input is detached: pixel accuracy is what the segmentation loss alone makes it
    weights = []
    for head in (False, True):
        cfg = toy_config(blobs, tmp_path / f"out_{head}", epochs=2)
        cfg["model"]["decision_head"] = head
        p = tmp_path / f"seg_{head}.yaml"
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        assert CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet"]).exit_code == 0
        weights.append(torch.load(tmp_path / f"out_{head}" / "checkpoints" / "last.pt", weights_only=False)["model"])
    plain, with_head = weights
    assert any(k.startswith("decision.") for k in with_head)
    assert set(plain) == {k for k in with_head if not k.startswith("decision.")}
    assert all(torch.equal(plain[k], with_head[k]) for k in plain)


def test_a_checkpoint_saved_before_decisions_existed_still_resumes_and_gains_one(blobs, tmp_path):  # noqa: F811
    cfg = toy_config(blobs, tmp_path / "out", epochs=2)
    p = tmp_path / "seg.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet", "--stop-after", "1"]).exit_code == 0
    last = tmp_path / "out" / "checkpoints" / "last.pt"
    ck = torch.load(last, weights_only=False)
    for section in (ck["compat"]["model"], ck["config"]["model"]):  # as written before the fields existed
        section.pop("decision_head", None)
        section.pop("decision_detach", None)
    ck.pop("decision", None)
    torch.save(ck, last)
    r = CliRunner().invoke(cli, ["seg", "train", str(p), "--quiet", "--resume"])
    assert r.exit_code == 0, r.output
    assert torch.load(last, weights_only=False)["epoch"] == 2
    assert (tmp_path / "out" / "decision.json").is_file()  # chosen on train.val once training finished


def test_the_head_hotspot_box_is_drawn_where_the_heads_hottest_cell_lies_in_the_original_image():
    from types import SimpleNamespace

    from synthgen.learn.seg.predict import hotspot

    dmap = np.zeros((6, 8))
    dmap[2, 5] = 3.0  # cell (row 2, column 5): network pixels x 40..47, y 16..23
    same = SimpleNamespace(content_hw=(48, 64), orig_hw=(48, 64))
    assert hotspot(dmap, same) == (32, 8, 56, 32)  # the cell and one cell around it
    resized = SimpleNamespace(content_hw=(48, 64), orig_hw=(96, 128))  # a photo resized to half for the network
    assert hotspot(dmap, resized) == (64, 16, 112, 64)
