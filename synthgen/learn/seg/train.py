"""U-Net training (``synthgen seg train CONFIG``): seeded, resumable, with a learning curve.

Output folder (``out`` of the config or ``--out``)::

    config.json                the validated config
    checkpoints/last.pt        weights, optimiser state, epoch, history (written every epoch)
    checkpoints/best.pt        the epoch with the best validation ``train.select_metric``
    history.json               per epoch: train loss, learning rate, validation metrics, seconds
    learning_curve.png         loss and validation metrics per epoch
    decision.json              the OK/NG operating point chosen on the validation images with
                               best.pt (``eval.decision``), also saved in both checkpoints
    head_stage.json            with ``train.head_epochs``: the decision head's second stage on
                               whole images (head_stage.py), whose head best.pt then holds
    pretrain/                  with ``train.pretrain``: the first phase, a run of its own (same
                               layout); the main run starts from its best.pt

Schedules: ``train.pretrain`` trains a first phase on its own mix, then ``train.mix`` from its
weights with a fresh optimiser and its own learning-rate curve; a mix item's ``ratio_end`` moves
its share linearly over the epochs (``MixSampler``).

With ``model.decision_head`` the head's image-level BCE (``train.decision_weight``) is added to
the segmentation loss: a training crop with a defect pixel is NG, one without is OK.

Determinism: weights are initialised from ``train.seed`` (under a forked torch RNG, so the
global torch state is left alone); each epoch's sample order and per-sample augmentation seeds
come from ``synthgen.rng.stream(seed, "seg", "epoch", e)``; the learning rate is a pure function
of the epoch (cosine). So the same config on the same machine gives identical weights, and a run
resumed from ``last.pt`` gives the same result as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.common.augment import build_augment
from synthgen.learn.common.batches import (
    EpochPlan,
    amp_mode,
    autocast,
    default_workers,
    grad_scaler,
    make_loader,
)
from synthgen.learn.common.checkpoint import build_model, load_checkpoint, model_from_checkpoint
from synthgen.learn.common.config import model_key
from synthgen.learn.common.data import MixSampler, available, build_dataset
from synthgen.learn.common.figures import plot_learning_curve
from synthgen.learn.common.io import atomic_json, atomic_torch_save, clean, ensure_out
from synthgen.learn.common.loop import evaluate_model, normalise, resolve_device, seg_loss
from synthgen.learn.common.operating import (
    choose_on_validation,
    describe,
    save_decision,
    saved_decision,
    settings_of,
)
from synthgen.learn.seg.config import SegConfig
from synthgen.learn.seg.head_stage import head_settings, train_head
from synthgen.rng import stream


def _scalar_metrics(summary: dict) -> dict:
    return clean({k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})


def _compat_key(cfg: SegConfig) -> dict:
    """Parts of the config a resumed run must share with the checkpoint (epochs may change)."""
    d = cfg.model_dump(mode="json")
    mix = [{k: v for k, v in m.items() if not (k == "ratio_end" and v is None)} for m in d["train"]["mix"]]
    key = {"model": model_key(d["model"]), "data": d["data"], "mix": mix, "seed": d["train"]["seed"],
           "batch_size": d["train"]["batch_size"]}  # a constant mix keeps the key of runs from before ratio_end
    if d["train"].get("pretrain") is not None:  # runs from before schedules keep their key
        key["pretrain"] = d["train"]["pretrain"]
    return key


def _pretrain(cfg: SegConfig, out: Path, device: str | None, progress: bool, log) -> Path:
    """The first phase of a pretrain -> finetune schedule, trained (or resumed, or reused when
    finished) in ``<out>/pretrain``; returns its best.pt (picked by train.val)."""
    t, pre = cfg.train, cfg.train.pretrain
    pdir = out / "pretrain"
    pcfg = cfg.model_copy(update={"out": str(pdir), "train": t.model_copy(update={
        "mix": pre.mix, "epochs": pre.epochs, "lr": pre.lr or t.lr, "samples_per_epoch": pre.samples_per_epoch,
        "pretrain": None, "head_epochs": 0})})
    log("pretrain phase: " + " + ".join(f"{m.source} x{m.ratio:g}" for m in pre.mix) + f", {pre.epochs} epochs")
    last = pdir / "checkpoints" / "last.pt"
    done = last.is_file() and load_checkpoint(last).get("epoch", 0) >= pre.epochs
    if not done:
        train(pcfg, pdir, resume=last.is_file(), device=device, progress=progress, log=lambda m: log(f"[pretrain] {m}"))
    log("finetune phase: from " + str(pdir / "checkpoints" / "best.pt"))
    return pdir / "checkpoints" / "best.pt"


def train(cfg: SegConfig, out: Path | None = None, resume: bool = False, device: str | None = None,
          stop_after: int | None = None, progress: bool = True, log=print) -> dict:
    """Train per ``cfg``; returns the final history entry. ``stop_after``: stop after that many
    epochs in total (simulates an interruption; resume later with ``resume=True``)."""
    t = cfg.train
    dev = resolve_device(device or t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    phase_mix = [*t.mix, *(t.pretrain.mix if t.pretrain else [])]
    missing = list(dict.fromkeys(m.source for m in phase_mix if not cfg.sources[m.source].available))
    if missing:
        raise SynthgenError(f"train.mix: source(s) {', '.join(missing)} not found on disk (optional sources "
                            f"cannot be trained on when missing)")
    sampler = MixSampler(t.mix, cfg.sources, cfg.data, t.samples_per_epoch, t.epochs)
    defective = [sum(int(d[i].label.any()) for i in range(len(d))) for d in sampler.datasets]
    log("mix: " + ", ".join(f"{m.source} {len(d)} images ({n} with defect pixels)"
                            for m, d, n in zip(t.mix, sampler.datasets, defective)))
    if not any(defective):
        raise SynthgenError(f"train.mix: no image of {', '.join(m.source for m in t.mix)} has a defect pixel: every "
                            f"image was read as healthy (check the sources' mask_suffix, mask_dir and mask_threshold)")
    out = ensure_out(Path(out or cfg.out))  # only once the data is known to be usable
    val_names = available(t.val, cfg.sources)
    val_ds = build_dataset(val_names, cfg.sources, cfg.data) if val_names else None
    pipe = build_augment(cfg.augment, cfg.data)
    plan = EpochPlan(t.batch_size)
    workers = default_workers(dev) if t.workers is None else t.workers
    loader = make_loader(sampler.datasets, pipe, plan, workers, dev)
    amp_on, amp_dtype = amp_mode(dev, t.amp)
    scaler = grad_scaler(dev, amp_on, amp_dtype)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = build_model(cfg.model, cfg.data, t.seed).to(dev, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    history: list[dict] = []
    best = -math.inf
    start = 0
    ck_dir = out / "checkpoints"
    last = ck_dir / "last.pt"
    if resume:
        if not last.is_file():
            raise SynthgenError(f"--resume: no checkpoint at {last}")
        ck = load_checkpoint(last)
        if ck.get("compat") != _compat_key(cfg):
            raise SynthgenError(f"--resume: {last} was trained with a different model/data/mix/seed config")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, history, best = ck["epoch"], ck["history"], ck["best"]
        log(f"resumed from {last} at epoch {start}")
    elif t.pretrain is not None:
        model.load_state_dict(load_checkpoint(_pretrain(cfg, out, device, progress, log))["model"])
    atomic_json(out / "config.json", cfg.model_dump(mode="json"))
    cfg_dump = cfg.model_dump(mode="json")
    n_batches = -(-sampler.n // t.batch_size)
    for epoch in range(start, t.epochs):
        t0 = time.perf_counter()
        lr = t.lr * 0.5 * (1 + math.cos(math.pi * epoch / t.epochs)) if t.cosine else t.lr
        for g in opt.param_groups:
            g["lr"] = lr
        rng = stream(t.seed, "seg", "epoch", epoch)
        order = sampler.epoch(rng, epoch)
        seeds = rng.integers(0, 2**31 - 1, size=len(order))
        model.train()
        total, count, dec_total = 0.0, 0, 0.0
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{t.epochs}", unit="batch", disable=not progress,
                   leave=False)
        plan.set_epoch(order, seeds)
        for xb, yb, vb in loader:
            x = normalise(xb, dev)
            y = yb.to(dev, non_blocking=True)
            v = vb.to(dev, non_blocking=True)
            with autocast(dev, amp_on, amp_dtype):
                logits, dec = model.forward_with_decision(x)
            loss = seg_loss(logits.float(), y, v, cfg.data.binary, t.dice_weight, t.pos_weight)
            if dec is not None:
                ng = ((y > 0) & (v > 0)).flatten(1).any(1).float()
                dec_loss = F.binary_cross_entropy_with_logits(dec.float(), ng)
                dec_total += dec_loss.item() * len(x)
                loss = loss + t.decision_weight * dec_loss
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.item() * len(x)
            count += len(x)
            bar.update(1)
            bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        bar.close()
        entry = {"epoch": epoch + 1, "lr": lr, "train_loss": total / max(count, 1)}
        if model.decision is not None:
            entry["decision_loss"] = dec_total / max(count, 1)
        if val_ds is not None:
            m = evaluate_model(model, val_ds, cfg.eval, dev, "network", progress, "validate")
            entry["val"] = _scalar_metrics(m.summary())
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        history.append(entry)
        score = entry.get("val", {}).get(t.select_metric, -entry["train_loss"]) if val_ds else -entry["train_loss"]
        score = -math.inf if score is None or not np.isfinite(score) else score
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                 "history": history, "best": max(best, score), "config": cfg_dump, "compat": _compat_key(cfg)}
        atomic_torch_save(last, state)
        if score > best or not (ck_dir / "best.pt").exists():
            best = max(best, score)
            atomic_torch_save(ck_dir / "best.pt", state)
        atomic_json(out / "history.json", history)
        plot_learning_curve(history, out / "learning_curve.png")
        val = entry.get("val", {})
        log(f"epoch {epoch + 1}/{t.epochs}: loss {entry['train_loss']:.4f}"
            + (f", val IoU {val['iou_dataset']:.3f}, mIoU custom {val['miou_custom']:.3f}, "
               f"mAP {val['map']:.3f}" if val else "") + f" ({entry['seconds']:.1f} s)")
        if stop_after is not None and epoch + 1 >= stop_after:
            break
    if history and history[-1]["epoch"] >= t.epochs and val_ds is not None:
        if t.head_epochs and cfg.model.decision_head:
            _head_stage(cfg, ck_dir, out, dev, sampler.datasets, val_ds, progress, log)
        _operating_point(cfg, ck_dir, out, dev, val_ds, progress, log)
    return history[-1] if history else {}


def _head_stage(cfg: SegConfig, ck_dir: Path, out: Path, dev: torch.device, train_sets, val_ds, progress: bool,
                log) -> None:
    """The decision head's second stage on best.pt (once per setting; see head_stage.py)."""
    best = ck_dir / "best.pt"
    ck = load_checkpoint(best)
    if (ck.get("head_stage") or {}).get("settings") == head_settings(cfg.train):
        return
    model, _ = model_from_checkpoint(ck, dev)
    record = train_head(model, train_sets, val_ds, cfg.train, dev, progress, log)
    ck = {k: v for k, v in ck.items() if k != "decision"}  # chosen again for the new head
    atomic_torch_save(best, {**ck, "model": model.state_dict(), "head_stage": record})
    atomic_json(out / "head_stage.json", clean(record))


def _operating_point(cfg: SegConfig, ck_dir: Path, out: Path, dev: torch.device, val_ds, progress: bool,
                     log) -> None:
    """Choose the OK/NG decision with best.pt on the validation images (once per setting) and save
    it in both checkpoints and decision.json."""
    best = ck_dir / "best.pt"
    ck = load_checkpoint(best)
    saved = saved_decision(ck, str(best))
    if saved is not None and saved.settings() == settings_of(cfg.eval):
        return
    model, _ = model_from_checkpoint(ck, dev)
    dec = choose_on_validation(model, val_ds, cfg.eval, dev, cfg.eval.resolution, progress)
    save_decision([best, ck_dir / "last.pt"], dec)
    atomic_json(out / "decision.json", clean(dec.to_dict()))
    log(f"operating point (validation, best.pt): {describe(dec)}")
