"""Training: determinism, resume, end-to-end train + eval through the CLI, config errors."""
# ruff: noqa: F811  (pytest fixtures imported from segtoy are redefined as test arguments)

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from segtoy import blobs, toy_cfg_file, toy_config  # noqa: F401 (fixtures)

from synthgen.cli import cli, main
from synthgen.config.loading import load_config
from synthgen.learn.common.checkpoint import build_model
from synthgen.learn.common.data import build_dataset
from synthgen.learn.common.loop import evaluate_model
from synthgen.learn.seg.config import SegConfig
from synthgen.learn.seg.train import train


def _cfg(blobs, out, **train_kw) -> SegConfig:
    return SegConfig.model_validate(toy_config(blobs, out, **train_kw))


def _weights(out):
    return torch.load(out / "checkpoints" / "last.pt", weights_only=False)["model"]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_config_and_seed_give_identical_weights_and_metrics(blobs, tmp_path):
    quiet = {"progress": False, "log": lambda *_: None}
    h1 = train(_cfg(blobs, tmp_path / "a", epochs=2), **quiet)
    h2 = train(_cfg(blobs, tmp_path / "b", epochs=2), **quiet)
    assert _same(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert h1["train_loss"] == h2["train_loss"] and h1["val"] == h2["val"]
    train(_cfg(blobs, tmp_path / "c", epochs=2, seed=4), **quiet)
    assert not _same(_weights(tmp_path / "a"), _weights(tmp_path / "c"))


def test_resume_gives_the_same_result_as_an_uninterrupted_run(blobs, tmp_path):
    quiet = {"progress": False, "log": lambda *_: None}
    full = train(_cfg(blobs, tmp_path / "full", epochs=3), **quiet)
    train(_cfg(blobs, tmp_path / "cut", epochs=3), stop_after=1, **quiet)
    assert json.loads((tmp_path / "cut" / "history.json").read_text())[-1]["epoch"] == 1
    resumed = train(_cfg(blobs, tmp_path / "cut", epochs=3), resume=True, **quiet)
    assert _same(_weights(tmp_path / "full"), _weights(tmp_path / "cut"))
    assert resumed["val"] == full["val"] and resumed["epoch"] == 3


def test_train_and_eval_cli_learn_the_toy_task(toy_cfg_file):
    cfg_path = toy_cfg_file(epochs=6)
    runner = CliRunner()
    r = runner.invoke(cli, ["seg", "train", str(cfg_path), "--quiet"])
    assert r.exit_code == 0, r.output
    cfg = load_config(cfg_path, SegConfig)
    out = Path(cfg.out)
    assert (out / "learning_curve.png").stat().st_size > 1000
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 6 and history[-1]["train_loss"] < history[0]["train_loss"]
    r = runner.invoke(cli, ["seg", "eval", str(cfg_path), "--quiet"])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "eval" / "metrics.json").read_text())["results"]["blobs"]
    assert metrics["iou_dataset"] > 0.6 and metrics["map"] > 0.6
    assert metrics["miou_custom"] >= metrics["miou"] - 1e-9
    assert metrics["healthy_images"] == 3
    assert "| blobs | 12 | 3 |" in (out / "eval" / "metrics.md").read_text()
    assert (out / "eval" / "pr_curve.png").stat().st_size > 1000
    # The same model before training is far worse: the figures measure learning.
    untrained = build_model(cfg.model, cfg.data, cfg.train.seed)
    m = evaluate_model(untrained, build_dataset(["test"], cfg.sources, cfg.data), cfg.eval, torch.device("cpu"),
                       "original").summary()
    assert m["iou_dataset"] < metrics["iou_dataset"] - 0.3


def _run_main(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr().err


def test_bad_config_gives_one_line_error(toy_cfg_file, capsys):
    p = toy_cfg_file()
    data = yaml.safe_load(p.read_text())
    data["train"]["epochs"] = 0
    p.write_text(yaml.safe_dump(data))
    code, err = _run_main(["seg", "train", str(p)], capsys)
    assert code == 2
    assert err.strip() == f"error: {p}: train.epochs: Input should be greater than or equal to 1 (got 0)"


def test_unknown_source_and_unknown_key_errors_name_the_field(toy_cfg_file, capsys):
    p = toy_cfg_file()
    data = yaml.safe_load(p.read_text())
    data["train"]["mix"] = [{"source": "tran"}]
    data["model"]["widht"] = 4
    p.write_text(yaml.safe_dump(data))
    code, err = _run_main(["seg", "train", str(p)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err
    assert f"error: {p}: model.widht: unknown key (not a field of this section; check spelling)" in lines


def test_unwritable_out_dir_is_a_one_line_error(toy_cfg_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = _run_main(["seg", "train", str(toy_cfg_file()), "--out", str(blocker / "sub"), "--quiet"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error: out: cannot write to")


def test_eval_reads_a_bilevel_model_and_names_a_checkpoint_of_another_kind(toy_cfg_file, tmp_path):
    from conftest import run_cli

    cfg_path = toy_cfg_file(epochs=1)
    assert CliRunner().invoke(cli, ["seg", "train", str(cfg_path), "--quiet"]).exit_code == 0
    ck = torch.load(tmp_path / "out" / "checkpoints" / "best.pt", weights_only=False)
    # a bi-level run's model.pt: U-Net weights under "unet", its config holds data and model
    bilevel = tmp_path / "model.pt"
    torch.save({"unet": ck["model"], "heatmap": None, "weight_logits": None, "run": "random", "seed": 0,
                "config": {"data": ck["config"]["data"], "model": ck["config"]["model"]}}, bilevel)
    r = run_cli("seg", "eval", str(cfg_path), "--checkpoint", str(bilevel), "--out", str(tmp_path / "ev"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ev" / "metrics.json").is_file()
    other = tmp_path / "vqgen.pt"
    torch.save({"format": "synthgen-vqgen", "version": 1}, other)
    r = run_cli("seg", "eval", str(cfg_path), "--checkpoint", str(other), "--out", str(tmp_path / "ev2"), "--quiet")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    expected = (f"error: {other}: not a segmentation checkpoint (expected one written by `seg train` or "
                "`bilevel train`; a vqgen checkpoint is used by `vqgen sample`)")
    assert r.stderr.strip().splitlines() == [expected]
