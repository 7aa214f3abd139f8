"""Cost of a bi-level (inner + outer) training step against a plain Cut&Paste training step.

    python benchmarks/bilevel_step_cost.py [--config configs/bilevel_magnetic_tile.yaml] [--steps 60]
                                           [--threads 1] [--val-batch N] [--device cpu]

Trains the `random` baseline (plain steps: synthesize, forward, backward, Adam) and the `both`
run (each step also takes an outer step: validation gradient, two perturbed training forwards,
source-weight and heat-map updates) for the same number of steps on the same data, in one process,
and prints seconds per step (outer cost spread over the steps when ``learn.outer_every`` > 1) and
their ratio (the aim: at most 3x). Outer updates start at
step 0 here (the config's warm-up is ignored) so every timed step of `both` is a bi-level step.
Needs the config's data (the default reads ../shared/data/magnetic_tile).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from synthgen.config.loading import load_config
from synthgen.learn.bilevel.config import BilevelConfig
from synthgen.learn.bilevel.synth import build_pools
from synthgen.learn.bilevel.train import train_run
from synthgen.learn.common.loop import resolve_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/bilevel_magnetic_tile.yaml")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--val-batch", type=int, default=None, help="override learn.val_batch")
    ap.add_argument("--outer-every", type=int, default=None, help="override learn.outer_every")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_config(a.config, BilevelConfig)
    cfg.train.steps = a.steps
    cfg.learn.warmup = 0
    if a.val_batch:
        cfg.learn.val_batch = a.val_batch
    if a.outer_every:
        cfg.learn.outer_every = a.outer_every
    dev = resolve_device(a.device)
    pools = build_pools(cfg, log=lambda *_: None)
    print(f"torch {torch.__version__}, device {dev}, {a.threads} thread(s), {a.steps} steps, "
          f"batch {cfg.train.batch_size}, input {cfg.data.size}, validation batch {cfg.learn.val_batch}, "
          f"an outer step every {cfg.learn.outer_every} step(s)")
    per_step = {}
    for run in ("random", "both"):
        cfg.train.steps = 5  # warm caches and the allocator
        train_run(cfg, run, 0, pools, dev, progress=False, log=lambda *_: None)
        cfg.train.steps = a.steps
        t0 = time.perf_counter()
        r = train_run(cfg, run, 1, pools, dev, progress=False, log=lambda *_: None)
        wall = time.perf_counter() - t0
        tm = r.timing
        per_step[run] = (tm["inner_s"] + tm["outer_s"]) / tm["steps"]
        print(f"{run:>7}: {per_step[run]:.3f} s/step (inner {tm['inner_step_s']:.3f} s"
              + (f", outer {tm['outer_step_s']:.3f} s" if tm["outer_step_s"] else "") + f"), wall {wall:.1f} s")
    print(f"bi-level step / plain step = {per_step['both'] / per_step['random']:.2f}x (aim <= 3x); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
