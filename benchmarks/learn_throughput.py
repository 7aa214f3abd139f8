"""Training throughput of the learning commands, from one process: seg training images per second
(through the real data path: sampler, DataLoader, augmentation, loss with the decision head,
optimiser) for several DataLoader worker counts and mixed-precision settings, the seconds one
validation pass over the config's validation sets takes, and from both the wall time of an epoch;
and bi-level steps per second (plain ``random`` and bi-level ``both``).

    python benchmarks/learn_throughput.py --budget cpu                   # 2-core CPU
    python benchmarks/learn_throughput.py --budget cpu --amp off bf16 --bilevel-steps 0
    python benchmarks/learn_throughput.py --budget gpu --workers 0 4 8   # on a CUDA machine

``--budget`` picks the seg config (``configs/seg_magnetic_tile_{cpu,gpu}.yaml``): model, crop size,
batch and mixed precision as trained. The bi-level figures use ``configs/bilevel_magnetic_tile.yaml``
(``--bilevel-steps`` steps after 5 warm-up steps). Needs ../shared/data/magnetic_tile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from synthgen.config.loading import load_config

ROOT = Path(__file__).resolve().parents[1]


def seg_images_per_second(cfg, workers: int, batches: int, dev: torch.device) -> float:
    from torch.nn import functional as F

    from synthgen.learn.common.augment import build_augment
    from synthgen.learn.common.batches import EpochPlan, amp_mode, autocast, grad_scaler, make_loader
    from synthgen.learn.common.checkpoint import build_model
    from synthgen.learn.common.data import MixSampler
    from synthgen.learn.common.loop import normalise, seg_loss
    from synthgen.rng import stream

    t = cfg.train
    sampler = MixSampler(t.mix, cfg.sources, cfg.data, t.batch_size * (batches + 3))
    plan = EpochPlan(t.batch_size)
    loader = make_loader(sampler.datasets, build_augment(cfg.augment, cfg.data), plan, workers, dev)
    model = build_model(cfg.model, cfg.data, 0).to(dev, memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr)
    on, dtype = amp_mode(dev, t.amp)
    scaler = grad_scaler(dev, on, dtype)
    for d in sampler.datasets:  # decode once, as every epoch after the first does
        for i in range(len(d)):
            d[i]
    rng = stream(0, "bench")
    order = sampler.epoch(rng)
    plan.set_epoch(order, rng.integers(0, 2**31 - 1, size=len(order)))
    n, t0 = 0, None
    for b, (xb, yb, vb) in enumerate(loader):
        if b == 3:  # the first batches start the workers and warm the allocator
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, n = time.perf_counter(), 0
        x = normalise(xb, dev)
        y, v = yb.to(dev, non_blocking=True), vb.to(dev, non_blocking=True)
        with autocast(dev, on, dtype):
            logits, dec = model.forward_with_decision(x)
        loss = seg_loss(logits.float(), y, v, cfg.data.binary, t.dice_weight, t.pos_weight)
        if dec is not None:  # the decision head's loss, as seg train adds it
            ng = ((y > 0) & (v > 0)).flatten(1).any(1).float()
            loss = loss + t.decision_weight * F.binary_cross_entropy_with_logits(dec.float(), ng)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        n += len(x)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def validation_seconds(cfg, dev: torch.device) -> float:
    """Seconds of one validation pass (whole photos at the network's resolution, as seg train runs
    it after every epoch); the second of two passes (the first decodes the photos)."""
    from synthgen.learn.common.checkpoint import build_model
    from synthgen.learn.common.data import available, build_dataset
    from synthgen.learn.common.loop import evaluate_model

    val = build_dataset(available(cfg.train.val, cfg.sources), cfg.sources, cfg.data)
    model = build_model(cfg.model, cfg.data, 0).to(dev, memory_format=torch.channels_last)
    for _ in range(2):
        t0 = time.perf_counter()
        evaluate_model(model, val, cfg.eval, dev, "network", False, "validate")
    return time.perf_counter() - t0


def bilevel_steps_per_second(steps: int, dev: torch.device) -> dict[str, float]:
    from synthgen.learn.bilevel.config import BilevelConfig
    from synthgen.learn.bilevel.synth import build_pools
    from synthgen.learn.bilevel.train import train_run

    cfg = load_config(ROOT / "configs" / "bilevel_magnetic_tile.yaml", BilevelConfig)
    cfg.learn.warmup = 0
    pools = build_pools(cfg, log=lambda *_: None)
    out = {}
    for run in ("random", "both"):
        cfg.train.steps = 5
        train_run(cfg, run, 0, pools, dev, progress=False, log=lambda *_: None)
        cfg.train.steps = steps
        r = train_run(cfg, run, 1, pools, dev, progress=False, log=lambda *_: None)
        out[run] = steps / (r.timing["inner_s"] + r.timing["outer_s"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--amp", nargs="+", default=None, help="train.amp settings to compare (default: the config's)")
    ap.add_argument("--bilevel-steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    from synthgen.learn.common.loop import resolve_device
    from synthgen.learn.seg.config import SegConfig

    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    cfg = load_config(ROOT / "configs" / f"seg_magnetic_tile_{a.budget}.yaml", SegConfig)
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"device": dev.type})})
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}; seg {a.budget} budget: {cfg.model.width}-wide "
          f"{'thin' if cfg.model.thin else 'standard'} U-Net, {cfg.data.size[0]} px crops, batch "
          f"{cfg.train.batch_size}, amp {cfg.train.amp}")
    val_s = validation_seconds(cfg, dev)
    n = cfg.train.samples_per_epoch
    print(f"validation pass: {val_s:.1f} s", flush=True)
    for amp in a.amp or [cfg.train.amp]:
        c = cfg.model_copy(update={"train": cfg.train.model_copy(update={"amp": amp})})
        for w in a.workers:
            ips = [seg_images_per_second(c, w, a.batches, dev) for _ in range(2)]
            print(f"seg training, amp {amp}, {w} DataLoader worker(s): {np.mean(ips):.1f} images/s "
                  f"({', '.join(f'{v:.1f}' for v in ips)}); epoch of {n} images + validation: "
                  f"{n / np.mean(ips) + val_s:.1f} s", flush=True)
    if a.bilevel_steps:
        b = bilevel_steps_per_second(a.bilevel_steps, dev)
        print(f"bilevel: random {b['random']:.2f} steps/s, both {b['both']:.2f} steps/s "
              f"(bi-level / plain step time {b['random'] / b['both']:.2f}x)")


if __name__ == "__main__":
    main()
