"""Multi-class training and evaluation on a tiny synthgen dataset written by the test."""

from __future__ import annotations

import json

from test_data import KINDS, write_synthgen

from synthgen.learn.seg.config import SegConfig
from synthgen.learn.seg.evaluate import evaluate
from synthgen.learn.seg.train import train


def test_multiclass_synthgen_train_and_eval(tmp_path):
    write_synthgen(tmp_path / "ds")
    cfg = SegConfig.model_validate({
        "out": str(tmp_path / "out"),
        "sources": {"syn": {"kind": "synthgen", "path": str(tmp_path / "ds")}},
        "data": {"size": [32, 32], "channels": 3, "classes": KINDS},
        "model": {"depth": 2, "width": 4},
        "train": {"mix": [{"source": "syn"}], "epochs": 2, "batch_size": 2, "samples_per_epoch": 4,
                  "device": "cpu"},
        "eval": {"test_sets": {"syn": ["syn"]}},
    })
    train(cfg, progress=False, log=lambda *_: None)
    res = evaluate(cfg, progress=False, log=lambda *_: None)["syn"]
    assert set(res["ap_per_class"]) == {"1", "2"} and res["images"] == 2
    per_image = json.loads((tmp_path / "out" / "eval" / "syn.json").read_text())["per_image"]
    assert len(per_image) == 2 and all(0 <= r["miou"] <= r["miou_custom"] + 1e-9 <= 1 + 1e-9 for r in per_image)
