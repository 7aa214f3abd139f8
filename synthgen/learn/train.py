"""U-Net training (``synthgen seg train CONFIG``): seeded, resumable, with a learning curve.

Output folder (``out`` of the config or ``--out``)::

    config.json                the validated config
    checkpoints/last.pt        weights, optimiser state, epoch, history (written every epoch)
    checkpoints/best.pt        the epoch with the best validation ``train.select_metric``
    history.json               per epoch: train loss, learning rate, validation metrics, seconds
    learning_curve.png         loss and validation metrics per epoch

Determinism: weights are initialised from ``train.seed`` (under a forked torch RNG, so the
global torch state is left alone); each epoch's sample order and per-sample augmentation seeds
come from ``synthgen.rng.stream(seed, "seg", "epoch", e)``; the learning rate is a pure function
of the epoch (cosine). So the same config on the same machine gives identical weights, and a run
resumed from ``last.pt`` gives the same result as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.augment import augment, build_augment
from synthgen.learn.data import MixSampler, SegDataset, available, build_dataset
from synthgen.learn.metrics import DatasetMetrics
from synthgen.learn.seg_config import DataConfig, ModelConfig, SegConfig
from synthgen.learn.unet import UNet
from synthgen.rng import stream

MEAN, STD = 0.5, 0.25  # input normalisation of x / 255


# ----------------------------------------------------------------------------- helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SynthgenError("train.device: cuda requested but no CUDA device is available")
    return torch.device(name)


def build_model(model: ModelConfig, data: DataConfig, seed: int) -> UNet:
    """U-Net with weights initialised from ``seed`` (global torch RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet(data.channels, 1 if data.binary else data.num_classes, model.depth, model.width,
                    thin=model.thin, max_width=model.max_width)


def to_tensor(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """uint8 (H, W, C) images -> normalised float batch, channels-last (about 2x faster convs on CPU)."""
    x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float()
    return ((x / 255.0 - MEAN) / STD).contiguous(memory_format=torch.channels_last)


def ensure_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write_test_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SynthgenError(f"out: cannot write to {out}: {exc.strerror or exc}") from None
    return out


def clean(obj):
    """NaN/inf -> None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def atomic_json(path: Path, obj) -> None:
    """Strict JSON (NaN written as null) via a temp file and rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(clean(obj), f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)


def atomic_png(path: Path, img: np.ndarray) -> None:
    """Write an image via a temp file and rename (a reader never sees half a PNG)."""
    tmp = path.with_name(f".tmp_{os.getpid()}_{path.name}")
    if not cv2.imwrite(str(tmp), img):
        raise SynthgenError(f"{path}: cannot write image")
    os.replace(tmp, path)


def atomic_torch_save(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".pt")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def seg_loss(logits: torch.Tensor, label: torch.Tensor, valid: torch.Tensor, binary: bool,
             dice_weight: float, pos_weight: float) -> torch.Tensor:
    """BCE (binary) or cross-entropy, plus ``dice_weight`` x soft Dice; padding (valid = 0) ignored."""
    v = valid.float()
    denom = v.sum().clamp_min(1.0)
    if binary:
        lg = logits[:, 0]
        g = (label > 0).float()
        pw = torch.tensor(pos_weight, device=lg.device)
        ce = (F.binary_cross_entropy_with_logits(lg, g, pos_weight=pw, reduction="none") * v).sum() / denom
        p = torch.sigmoid(lg) * v
        dice = 1 - (2 * (p * g).sum() + 1) / (p.sum() + (g * v).sum() + 1)
    else:
        ce = (F.cross_entropy(logits, label.long(), reduction="none") * v).sum() / denom
        p = torch.softmax(logits, 1)[:, 1:] * v[:, None]
        g = F.one_hot(label.long(), logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float() * v[:, None]
        dims = (0, 2, 3)
        dice = (1 - (2 * (p * g).sum(dims) + 1) / (p.sum(dims) + g.sum(dims) + 1)).mean()
    return ce + dice_weight * dice


def _resize_prob(prob: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    if prob.ndim == 2:
        return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in prob])


@torch.no_grad()
def predict_dataset(model: UNet, ds: SegDataset, batch_size: int, resolution: str, device: torch.device,
                    progress: bool = False, desc: str = "predict") -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (name, ground-truth label map, probabilities) per image.

    Probabilities are (H, W) defect probability (binary) or (K+1, H, W) softmax. Padding is cropped
    away; with ``resolution == "original"`` predictions are resized back to the original image
    size and compared with the original mask."""
    model.eval()
    binary = ds.data.binary
    bs = 1 if ds.data.policy == "crop" else batch_size
    bar = tqdm(total=len(ds), desc=desc, unit="img", disable=not progress, leave=False)
    for start in range(0, len(ds), bs):
        items = [ds[i] for i in range(start, min(start + bs, len(ds)))]
        logits = model(to_tensor([s.image for s in items], device))
        probs = (torch.sigmoid(logits[:, 0]) if binary else torch.softmax(logits, 1)).float().cpu().numpy()
        for k, s in enumerate(items):
            th, tw = s.content_hw
            prob = probs[k][..., :th, :tw]
            gt = s.label[:th, :tw]
            if resolution == "original" and (th, tw) != tuple(s.orig_hw):
                prob = _resize_prob(np.ascontiguousarray(prob), s.orig_hw)
                gt = ds.original_label(start + k)
            yield s.name, gt, prob
        bar.update(len(items))
    bar.close()


def evaluate_model(model: UNet, ds: SegDataset, cfg: SegConfig, device: torch.device, resolution: str,
                   progress: bool = False, desc: str = "eval") -> DatasetMetrics:
    m = DatasetMetrics(cfg.data.num_classes, cfg.eval.tolerance, cfg.eval.threshold, cfg.eval.min_box_pixels)
    preds = predict_dataset(model, ds, cfg.eval.batch_size, resolution, device, progress, desc)
    for e, (name, gt, prob) in zip(ds.entries, preds):
        m.add(name, gt, prob, group=e.class_name)
    return m


def plot_learning_curve(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train loss")
    a.set_xlabel("epoch")
    a.set_ylabel("loss (BCE/CE + Dice)")
    a.set_title("training loss")
    a.grid(alpha=0.3)
    a.legend()
    keys = [("iou_dataset", "IoU"), ("dice_dataset", "Dice"), ("miou", "mIoU standard"),
            ("miou_custom", "mIoU customized"), ("map", "mAP (boxes)"), ("healthy_fp_rate", "healthy FP rate")]
    plotted = False
    for k, lab in keys:
        ys = [h.get("val", {}).get(k) for h in history]
        if any(y is not None and np.isfinite(y) for y in ys):
            b.plot(ep, [np.nan if y is None else y for y in ys], "o-", label=lab)
            plotted = True
    b.set_xlabel("epoch")
    b.set_ylim(0, 1.02)
    b.set_title("validation" if plotted else "validation (no val sources)")
    b.grid(alpha=0.3)
    if plotted:
        b.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _scalar_metrics(summary: dict) -> dict:
    return clean({k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})


def _compat_key(cfg: SegConfig) -> dict:
    """Parts of the config a resumed run must share with the checkpoint (epochs may change)."""
    d = cfg.model_dump(mode="json")
    return {"model": d["model"], "data": d["data"], "mix": d["train"]["mix"], "seed": d["train"]["seed"],
            "batch_size": d["train"]["batch_size"]}


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise SynthgenError(f"{path}: checkpoint not found (train first: synthgen seg train CONFIG)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file for the user
        raise SynthgenError(f"{path}: cannot read checkpoint: {exc}") from None


def model_from_checkpoint(ck: dict, device: torch.device) -> tuple[UNet, DataConfig]:
    data = DataConfig.model_validate(ck["config"]["data"])
    model = build_model(ModelConfig.model_validate(ck["config"]["model"]), data, 0)
    model.load_state_dict(ck["model"])
    return model.to(device, memory_format=torch.channels_last).eval(), data


# ----------------------------------------------------------------------------- training


def train(cfg: SegConfig, out: Path | None = None, resume: bool = False, device: str | None = None,
          stop_after: int | None = None, progress: bool = True, log=print) -> dict:
    """Train per ``cfg``; returns the final history entry. ``stop_after``: stop after that many
    epochs in total (simulates an interruption; resume later with ``resume=True``)."""
    out = ensure_out(Path(out or cfg.out))
    t = cfg.train
    dev = resolve_device(device or t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    missing = [m.source for m in t.mix if not cfg.sources[m.source].available]
    if missing:
        raise SynthgenError(f"train.mix: source(s) {', '.join(missing)} not found on disk (optional sources "
                            f"cannot be trained on when missing)")
    sampler = MixSampler(t.mix, cfg.sources, cfg.data, t.samples_per_epoch)
    val_names = available(t.val, cfg.sources)
    val_ds = build_dataset(val_names, cfg.sources, cfg.data) if val_names else None
    pipe = build_augment(cfg.augment, cfg.data)
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
    atomic_json(out / "config.json", cfg.model_dump(mode="json"))
    cfg_dump = cfg.model_dump(mode="json")
    n_batches = -(-sampler.n // t.batch_size)
    for epoch in range(start, t.epochs):
        t0 = time.perf_counter()
        lr = t.lr * 0.5 * (1 + math.cos(math.pi * epoch / t.epochs)) if t.cosine else t.lr
        for g in opt.param_groups:
            g["lr"] = lr
        rng = stream(t.seed, "seg", "epoch", epoch)
        order = sampler.epoch(rng)
        seeds = rng.integers(0, 2**31 - 1, size=len(order))
        model.train()
        total, count = 0.0, 0
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{t.epochs}", unit="batch", disable=not progress,
                   leave=False)
        for b in bar:
            chunk = order[b * t.batch_size:(b + 1) * t.batch_size]
            if len(chunk) < 2 and len(order) > 1:
                continue  # BatchNorm needs 2+ samples; a trailing single sample is dropped
            imgs, labs, vals = [], [], []
            for (k, i), sd in zip(chunk, seeds[b * t.batch_size:]):
                s = sampler.datasets[k][i]
                im, lb, va = augment(pipe, s.image, s.label, s.valid, int(sd))
                imgs.append(im)
                labs.append(lb)
                vals.append(va)
            x = to_tensor(imgs, dev)
            y = torch.from_numpy(np.stack(labs)).to(dev)
            v = torch.from_numpy(np.stack(vals)).to(dev)
            loss = seg_loss(model(x), y, v, cfg.data.binary, t.dice_weight, t.pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(chunk)
            count += len(chunk)
            bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        bar.close()
        entry = {"epoch": epoch + 1, "lr": lr, "train_loss": total / max(count, 1)}
        if val_ds is not None:
            m = evaluate_model(model, val_ds, cfg, dev, "network", progress, "validate")
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
    return history[-1] if history else {}
