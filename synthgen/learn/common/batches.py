"""Training batches through a torch DataLoader: decoding and augmentation in worker processes.

The plan of an epoch (which sample of which source, and each sample's augmentation seed) is made
in the main process from the seeded generator, exactly as before; workers only execute it. A
sample's augmentation depends on its own seed, never on the worker that runs it, so the batches
are the same with 0, 1 or 8 workers (``tests/learn/test_batches.py``).

``workers``: ``None`` picks a default: on CUDA, up to 8 workers (leaving a core for the main
process); on the CPU, 0, because there the workers would take cores from the convolutions.
On CUDA, batches are pinned and copied with ``non_blocking=True``.

Mixed precision (``amp``): ``auto`` is bf16 autocast on a CUDA device that supports it, fp16
with a gradient scaler on older CUDA devices, and off on the CPU (CPU results are unchanged).
``bf16`` asks for bf16 autocast on the CPU too: convolutions run in bf16 with fp32 weights, about
1.5x faster training steps on the 2-core box (benchmarks/RESULTS.md); the figures then differ a
little from fp32's.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from synthgen.learn.common.augment import augment


class EpochPlan:
    """Batch sampler: yields the current epoch's batches of (source, index, seed) triples."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.batches: list[list[tuple[int, int, int]]] = []

    def set_epoch(self, order: list[tuple[int, int]], seeds: np.ndarray) -> None:
        bs = self.batch_size
        items = [(k, i, int(s)) for (k, i), s in zip(order, seeds)]
        batches = [items[b:b + bs] for b in range(0, len(items), bs)]
        # BatchNorm needs 2+ samples: a trailing single sample is dropped
        self.batches = [c for c in batches if len(c) >= 2 or len(items) == 1]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class AugmentedMix(Dataset):
    """Item (source k, index i, seed) -> augmented (image, label, valid) arrays."""

    def __init__(self, datasets, pipe):
        self.datasets = datasets
        self.pipe = pipe

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, item: tuple[int, int, int]):
        k, i, seed = item
        s = self.datasets[k][i]
        return augment(self.pipe, s.image, s.label, s.valid, seed)


def collate(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 tensors: images (B, H, W, C), labels (B, H, W), valid (B, H, W)."""
    imgs, labs, vals = zip(*batch)
    return (torch.from_numpy(np.stack(imgs)), torch.from_numpy(np.stack(labs)), torch.from_numpy(np.stack(vals)))


def default_workers(device: torch.device) -> int:
    if device.type != "cuda":
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def make_loader(datasets, pipe, plan: EpochPlan, workers: int, device: torch.device) -> DataLoader:
    """A persistent DataLoader over ``plan``; warm the datasets' caches first so forked workers
    share the decoded images instead of decoding them again."""
    if workers > 0:
        for d in datasets:
            if d.data.cache:
                for i in range(len(d)):
                    d[i]
    return DataLoader(AugmentedMix(datasets, pipe), batch_sampler=plan, num_workers=workers, collate_fn=collate,
                      pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                      prefetch_factor=4 if workers > 0 else None)


def amp_mode(device: torch.device, amp: str) -> tuple[bool, torch.dtype | None]:
    """(autocast on?, dtype) for ``train.amp`` on ``device``. On the CPU only an explicit ``bf16``
    turns it on (``auto`` leaves CPU results exactly as in fp32; fp16 is slow there)."""
    if device.type != "cuda":
        return (True, torch.bfloat16) if amp == "bf16" else (False, None)
    if amp == "off":
        return False, None
    if amp == "fp16":
        return True, torch.float16
    if amp == "bf16" or torch.cuda.is_bf16_supported():
        return True, torch.bfloat16
    return True, torch.float16


def autocast(device: torch.device, enabled: bool, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if enabled else nullcontext()


def grad_scaler(device: torch.device, enabled: bool, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A scaler that is active only for fp16 on CUDA (bf16 and fp32 need none)."""
    return torch.amp.GradScaler("cuda", enabled=enabled and dtype == torch.float16)
