"""Training schedules: a rendered share that changes over the epochs (ratio_end), and
pretrain -> finetune (train.pretrain, experiment rows {mix, pretrain})."""
# ruff: noqa: F811  (pytest fixtures imported from segtoy are redefined as test arguments)

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
import yaml
from segtoy import blobs, toy_config  # noqa: F401 (fixtures)

from synthgen.cli import main
from synthgen.learn.common.config import DataConfig, MixItem, SourceConfig
from synthgen.learn.common.data import MixSampler
from synthgen.learn.seg.config import ExperimentConfig, SegConfig
from synthgen.learn.seg.experiment import experiment
from synthgen.learn.seg.train import train

QUIET = {"progress": False, "log": lambda *_: None}


def _sources(blobs) -> dict[str, SourceConfig]:
    return {"real": SourceConfig(kind="folder", path=str(blobs / "train")),
            "rendered": SourceConfig(kind="folder", path=str(blobs / "test"))}


def test_a_ratio_end_moves_the_rendered_share_linearly_and_a_plain_mix_stays_as_it_was(blobs):
    data = DataConfig(size=(48, 48))
    s = MixSampler([MixItem(source="real", ratio=1.0), MixItem(source="rendered", ratio=1.0, ratio_end=0.25)],
                   _sources(blobs), data, samples_per_epoch=100, epochs=11)
    shares = [s.counts_at(e)[1] / 100 for e in range(11)]
    assert shares[0] == 0.5 and shares[-1] == 0.2  # 1 : 1, then 1 : 0.25
    assert all(a >= b for a, b in itertools.pairwise(shares)) and shares[5] == pytest.approx(0.385, abs=0.01)
    order = s.epoch(np.random.default_rng(0), 10)
    assert len(order) == 100 and sum(k == 1 for k, _ in order) == 20  # the epoch draws what the schedule says
    plain = MixSampler([MixItem(source="real", ratio=1.5), MixItem(source="rendered", ratio=1.0)],
                       _sources(blobs), data, samples_per_epoch=100, epochs=11)
    assert [list(plain.counts_at(e)) for e in (0, 10)] == [[60, 40], [60, 40]]


def test_pretrain_then_finetune_starts_the_second_phase_from_the_first_phases_best_weights(blobs, tmp_path):
    cfg = toy_config(blobs, tmp_path / "run", epochs=1, lr=1e-12)  # a finetune that barely moves the weights
    cfg["sources"]["rendered"] = {"kind": "folder", "path": str(blobs / "test")}
    cfg["train"]["pretrain"] = {"mix": [{"source": "rendered"}], "epochs": 2, "lr": 0.01}
    train(SegConfig.model_validate(cfg), **QUIET)
    pre = tmp_path / "run" / "pretrain"
    assert len(json.loads((pre / "history.json").read_text())) == 2  # its own run, curve and checkpoints
    assert (pre / "learning_curve.png").is_file()
    best = torch.load(pre / "checkpoints" / "best.pt", weights_only=False)["model"]
    fine = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)["model"]
    convs = [k for k, v in best.items() if k.endswith("weight") and v.ndim == 4]
    assert convs and all(torch.allclose(best[k], fine[k], atol=1e-6) for k in convs)
    scratch = toy_config(blobs, tmp_path / "scratch", epochs=1, lr=1e-12)
    train(SegConfig.model_validate(scratch), **QUIET)
    init = torch.load(tmp_path / "scratch" / "checkpoints" / "last.pt", weights_only=False)["model"]
    assert not all(torch.allclose(best[k], init[k], atol=1e-3) for k in convs)
    # Run again with more finetune epochs: the finished first phase is reused, not retrained.
    mtime = (pre / "checkpoints" / "last.pt").stat().st_mtime_ns
    cfg["train"]["epochs"] = 2
    train(SegConfig.model_validate(cfg), resume=True, **QUIET)
    assert (pre / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime


def test_an_experiment_reports_schedule_rows_beside_the_plain_mixes(blobs, tmp_path):
    cfg = toy_config(blobs, tmp_path / "exp", epochs=1)
    cfg["sources"]["rendered"] = {"kind": "folder", "path": str(blobs / "test"), "limit": 8}
    del cfg["train"]["mix"]
    cfg["mixes"] = {"real": [{"source": "train"}],
                    "real+rendered 1->0.2": [{"source": "train"}, {"source": "rendered", "ratio_end": 0.2}],
                    "rendered -> real": {"mix": [{"source": "train"}], "epochs": 2,
                                         "pretrain": {"mix": [{"source": "rendered"}], "epochs": 1}}}
    res = experiment(ExperimentConfig.model_validate(cfg), **QUIET)
    assert list(res) == ["real", "real+rendered 1->0.2", "rendered -> real"]
    assert res["real"]["sources"] == [{"source": "train", "ratio": 1.0}]  # plain rows are recorded as before
    assert res["rendered -> real"]["sources"]["pretrain"]["epochs"] == 1
    assert (tmp_path / "exp" / "rendered -> real" / "pretrain" / "checkpoints" / "best.pt").is_file()
    assert not (tmp_path / "exp" / "real" / "pretrain").exists()
    hist = json.loads((tmp_path / "exp" / "rendered -> real" / "history.json").read_text())
    assert len(hist) == 2 and len(json.loads((tmp_path / "exp" / "real" / "history.json").read_text())) == 1
    pre = json.loads((tmp_path / "exp" / "rendered -> real" / "pretrain" / "history.json").read_text())
    want = sum(e["seconds"] for e in hist + pre)  # the training time counts both phases
    assert abs(res["rendered -> real"]["train_seconds"] - want) < 0.1
    for row in res.values():
        assert 0 <= row["sets"]["blobs"]["iou_dataset"] <= 1


@pytest.mark.parametrize("where, edit, message", [
    ("seg", lambda c: c["train"].update(pretrain={"mix": [{"source": "rendred"}]}),
     "train.pretrain.mix[0]: unknown source 'rendred'"),
    ("seg", lambda c: c["train"]["mix"][0].update(ratio_end=0),
     "train.mix[0].ratio_end: Input should be greater than 0 (got 0)"),
    ("seg", lambda c: (c["train"].update(pretrain={"mix": [{"source": "train"}]}), c["train"].pop("val")),
     "train.pretrain: a schedule needs train.val"),
    ("experiment", lambda c: c.update(mixes={"x": {"mix": [{"source": "train"}], "pretrain": {"mix": [
        {"source": "rendred"}]}}}), "mixes.x.pretrain.mix[0]: unknown source 'rendred'"),
])
def test_a_bad_schedule_is_one_line_naming_its_field(blobs, tmp_path, capsys, where, edit, message):
    cfg = toy_config(blobs, tmp_path / "out", epochs=1)
    if where == "experiment":
        del cfg["train"]["mix"]
    edit(cfg)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as e:
        main([("seg", "train") if where == "seg" else ("seg", "experiment")][0] + (str(p),))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert message in err and str(p) in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_runs_from_before_schedules_still_resume_and_a_schedule_changes_the_key(blobs, tmp_path):
    from synthgen.learn.seg.train import _compat_key

    cfg = SegConfig.model_validate(toy_config(blobs, tmp_path / "run", epochs=1))
    key = _compat_key(cfg)
    assert key["mix"] == [{"source": "train", "ratio": 1.0}] and "pretrain" not in key  # as checkpoints hold it
    falling = toy_config(blobs, tmp_path / "run", epochs=1)
    falling["train"]["mix"][0]["ratio_end"] = 0.5
    assert _compat_key(SegConfig.model_validate(falling)) != key
