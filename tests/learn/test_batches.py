"""Training batches: DataLoader workers give the same batches, AMP is CUDA-only, crops find defects."""
# ruff: noqa: F811  (pytest fixtures imported from segtoy are redefined as test arguments)

from __future__ import annotations

import numpy as np
import torch
from segtoy import blobs  # noqa: F401 (fixture)

from synthgen.learn.common.augment import augment, build_augment
from synthgen.learn.common.batches import EpochPlan, amp_mode, make_loader
from synthgen.learn.common.config import AugmentConfig, DataConfig, MixItem, SourceConfig
from synthgen.learn.common.data import MixSampler
from synthgen.learn.seg.config import SegConfig
from synthgen.learn.seg.train import train
from synthgen.rng import stream


def _weights(blobs, out, **train_kw):
    from segtoy import toy_config

    train(SegConfig.model_validate(toy_config(blobs, out, **train_kw)), progress=False, log=lambda *_: None)
    return torch.load(out / "checkpoints" / "last.pt", weights_only=False)["model"]


def _sampler(blobs, data):
    sources = {"train": SourceConfig(kind="folder", path=str(blobs / "train"))}
    return MixSampler([MixItem(source="train")], sources, data)


def test_worker_processes_give_the_same_batches_as_the_single_process_path(blobs):
    data = DataConfig(size=(32, 32), policy="crop", defect_crop=0.5)
    pipe = build_augment(AugmentConfig(noise=0.5, contrast=0.5, affine=0.5), data)
    sampler = _sampler(blobs, data)
    rng = stream(7, "seg", "epoch", 0)
    order = sampler.epoch(rng)
    seeds = rng.integers(0, 2**31 - 1, size=len(order))
    # the single-process reference: every sample augmented in this process, in plan order
    samples = [sampler.datasets[k][i] for k, i in order]
    ref = [augment(pipe, s.image, s.label, s.valid, int(sd)) for s, sd in zip(samples, seeds)]
    got = {}
    for workers in (0, 2):
        plan = EpochPlan(5)
        loader = make_loader(sampler.datasets, pipe, plan, workers, torch.device("cpu"))
        plan.set_epoch(order, seeds)
        got[workers] = [b for b in loader]
    n = 0
    for (x0, y0, v0), (x2, y2, v2) in zip(got[0], got[2]):
        assert torch.equal(x0, x2) and torch.equal(y0, y2) and torch.equal(v0, v2)
        for j in range(len(x0)):
            im, lb, va = ref[n + j]
            assert np.array_equal(x0[j].numpy(), im) and np.array_equal(y0[j].numpy(), lb)
            assert np.array_equal(v0[j].numpy(), va)
        n += len(x0)
    assert n == len(order) - (len(order) % 5 == 1)  # a trailing single sample is dropped (BatchNorm)
    assert len(got[0]) == len(got[2]) > 1


def test_mixed_precision_on_the_cpu_only_when_bf16_is_asked_for():
    cpu = torch.device("cpu")
    for mode in ("auto", "fp16", "off"):
        assert amp_mode(cpu, mode) == (False, None)
    assert amp_mode(cpu, "bf16") == (True, torch.bfloat16)
    cuda = torch.device("cuda")
    assert amp_mode(cuda, "fp16") == (True, torch.float16)
    assert amp_mode(cuda, "bf16") == (True, torch.bfloat16)
    assert amp_mode(cuda, "off") == (False, None)


def test_cpu_training_is_unchanged_by_the_amp_and_worker_settings(blobs, tmp_path):
    a = _weights(blobs, tmp_path / "off", epochs=1, amp="off", workers=0)
    b = _weights(blobs, tmp_path / "auto", epochs=1, amp="auto", workers=2)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_on_the_cpu_trains_close_to_fp32(blobs, tmp_path):
    """bf16 autocast changes the arithmetic, not the training: its weights differ from fp32's, and
    its loss falls as fp32's does, to within 10 % after three epochs."""
    def run(name, amp):
        train(SegConfig.model_validate(toy_config(blobs, tmp_path / name, epochs=3, amp=amp)), progress=False,
              log=lambda *_: None)
        ck = torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=False)
        return ck["model"], [h["train_loss"] for h in ck["history"]]

    from segtoy import toy_config

    a, la = run("fp32", "off")
    b, lb = run("bf16", "bf16")
    assert any(not torch.equal(a[k], b[k]) for k in a), "bf16 was not used"
    assert lb[-1] < lb[0] and la[-1] < la[0]
    assert abs(lb[-1] - la[-1]) < 0.1 * la[-1], (la, lb)


def test_defect_crops_hold_a_defect_and_plain_crops_often_do_not(blobs):
    def defect_share(p: float) -> float:
        data = DataConfig(size=(16, 16), policy="crop", defect_crop=p)
        pipe = build_augment(AugmentConfig(hflip=0, vflip=0, affine=0, noise=0, blur=0, contrast=0), data)
        ds = _sampler(blobs, data).datasets[0]
        hits = []
        for i in range(len(ds)):
            s = ds[i]
            if not s.label.any():
                continue
            for seed in range(5):
                hits.append(augment(pipe, s.image, s.label, s.valid, seed)[1].any())
        return float(np.mean(hits))

    assert defect_share(1.0) == 1.0
    assert defect_share(0.0) < 0.8


def test_seg_config_names_a_bad_worker_count():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="workers"):
        SegConfig.model_validate({"sources": {}, "train": {"mix": [], "workers": -1}})
