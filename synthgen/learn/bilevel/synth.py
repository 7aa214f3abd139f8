"""The inner problem's data: pools of backgrounds, real and validation images, defect banks, and
the ``Synthesizer`` that composes each training batch (pasted, real and plain healthy images)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from synthgen.errors import SynthgenError
from synthgen.learn.bilevel.config import BilevelConfig
from synthgen.learn.bilevel.hypergrad import HeatmapNet
from synthgen.learn.bilevel.paste import DefectBank, cut_defects, draw_patch, family_pipeline, paste
from synthgen.learn.common.data import SegDataset, available, build_dataset
from synthgen.learn.common.loop import to_tensor


@dataclass
class Pools:
    backgrounds: SegDataset
    real: SegDataset | None
    val: SegDataset
    banks: list[DefectBank]


def build_banks(cfg: BilevelConfig, log=print) -> list[DefectBank]:
    s = cfg.synthesis
    banks = []
    for name, d in s.defects.items():
        names = available(d.sources, cfg.sources)
        if not names:
            missing = ", ".join(f"{n} ({cfg.sources[n].path})" for n in d.sources)
            raise SynthgenError(f"synthesis.defects.{name}: source(s) not found: {missing}")
        bank = DefectBank(name, augment=d.augment)
        if names:
            ds = build_dataset(names, cfg.sources, cfg.data, d.kinds)
            for i in range(len(ds)):
                smp = ds[i]
                bank.patches += cut_defects(smp.image, smp.label, s.patch, s.margin, s.min_pixels, origin=smp.name)
                if d.max_patches and len(bank) >= d.max_patches:
                    bank.patches = bank.patches[: d.max_patches]
                    break
        if not len(bank):
            raise SynthgenError(f"synthesis.defects.{name}: no defect of at least {s.min_pixels} pixels found in "
                                f"{', '.join(d.sources)}" + (f" of kind {', '.join(d.kinds)}" if d.kinds else ""))
        log(f"defect source {name}: {len(bank)} patches ({d.augment})")
        banks.append(bank)
    return banks


def build_pools(cfg: BilevelConfig, log=print) -> Pools:
    def need(names: list[str], where: str) -> SegDataset:
        have = available(names, cfg.sources)
        ds = build_dataset(have, cfg.sources, cfg.data) if have else None
        if ds is None or len(ds) == 0:
            raise SynthgenError(f"{where}: no images found in {', '.join(names)}")
        return ds

    bg = need(cfg.synthesis.backgrounds, "synthesis.backgrounds")
    real = need(cfg.synthesis.real, "synthesis.real") if cfg.synthesis.real else None
    val = need(cfg.learn.val, "learn.val")
    return Pools(bg, real, val, build_banks(cfg, log))


def _flip(img: np.ndarray, lab: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    if rng.random() < 0.5:
        img, lab = img[::-1], lab[::-1]
    return np.ascontiguousarray(img), np.ascontiguousarray(lab)


def to_batch(images: list[np.ndarray], labels: list[np.ndarray], dev: torch.device) -> tuple[torch.Tensor,
                                                                                            torch.Tensor]:
    """Images normalised exactly as the seg trainer and evaluator do (``train.to_tensor``), 0/1 labels."""
    x = to_tensor(images, dev)
    y = torch.from_numpy((np.stack(labels) > 0).astype(np.float32)).to(dev)
    return x, y


class Synthesizer:
    """Draws synthesized batches; location policy ``uniform`` or a heat-map network."""

    def __init__(self, cfg: BilevelConfig, pools: Pools, dev: torch.device):
        self.cfg, self.pools, self.dev = cfg, pools, dev
        self.pipes = [family_pipeline(b.augment) for b in pools.banks]
        self.G = cfg.learn.grid

    def batch(self, n: int, rng: np.random.Generator, heatmap: HeatmapNet | None, paste_on: bool,
              need_grad: bool = True):
        """Returns x, y, source index per image (-1 = real or unpasted), location group per image (-1
        = none; see ``learn.location_samples``), summed log-prob of the locations (None without heat
        map) and the heat maps' mean entropy."""
        s, G = self.cfg.synthesis, self.G
        n_real = round(s.real_fraction * n) if self.pools.real is not None else 0
        if not paste_on and self.pools.real is not None:
            n_real = max(n_real, 1)
        imgs, labs, src = [], [], []
        for _ in range(n_real):
            smp = self.pools.real[int(rng.integers(len(self.pools.real)))]
            im, lb = _flip(smp.image, smp.label, rng) if s.flip_backgrounds else (smp.image, smp.label)
            imgs.append(im)
            labs.append(lb)
            src.append(-1)
        n_plain = min(round(s.healthy_fraction * n), n - n_real)
        K = self.cfg.learn.location_samples if paste_on else 1
        bgs = []
        for j in range(n - n_real):
            if j >= n_plain and K > 1 and (j - n_plain) % K:
                bgs.append(bgs[-1])  # another copy of the group's background (see `location_samples`)
                continue
            smp = self.pools.backgrounds[int(rng.integers(len(self.pools.backgrounds)))]
            im, lb = _flip(smp.image, np.zeros_like(smp.label), rng) if s.flip_backgrounds else (
                smp.image, np.zeros_like(smp.label))
            if j < n_plain:  # healthy images left as they are: the model must also learn "no defect"
                imgs.append(im)
                labs.append(lb)
                src.append(-1)
            else:
                bgs.append((im, lb))
        group = [-1] * len(imgs)
        logp = entropy = None
        if bgs and paste_on:
            H, W = bgs[0][1].shape
            k = len(bgs)
            gid = np.arange(k) // K
            # one paste count and source per group (gid is the identity when K = 1)
            counts = rng.integers(s.pastes[0], s.pastes[1] + 1, size=k)[gid]
            sources = rng.integers(len(self.pools.banks), size=k)[gid]
            patches: dict[int, list] = {}
            if heatmap is not None:
                xb, _ = to_batch([b[0] for b in bgs], [b[1] for b in bgs], self.dev)
                with torch.set_grad_enabled(need_grad):
                    logprob = heatmap.log_probs(xb)
                probs = logprob.detach().exp().double().cpu().numpy()
                entropy = -(logprob.exp() * logprob).sum(1).mean()
            cells_all = []
            for i, (im, lb) in enumerate(bgs):
                if heatmap is not None:
                    p = probs[i] / probs[i].sum()
                    cells = rng.choice(G * G, size=int(counts[i]), p=p)
                else:
                    cells = rng.integers(G * G, size=int(counts[i]))
                cells_all.append(cells)
                drawn = patches.setdefault(int(gid[i]), [])  # members of a group share their patches
                for m, c in enumerate(cells):
                    r, q = divmod(int(c), G)
                    cy = int((r + rng.random()) * H / G)
                    cx = int((q + rng.random()) * W / G)
                    if m == len(drawn):
                        drawn.append(draw_patch(self.pools.banks[sources[i]], self.pipes[sources[i]], rng,
                                                s.scale, s.rotate))
                    pimg, pm = drawn[m]
                    im, lb = paste(im, lb, pimg, pm, (cy, cx), s.feather)
                imgs.append(im)
                labs.append(lb)
                src.append(int(sources[i]))
                group.append(int(gid[i]) if K > 1 else -1)
            if heatmap is not None:
                idx = [torch.as_tensor(c, device=self.dev, dtype=torch.long) for c in cells_all]
                logp = torch.stack([logprob[i, idx[i]].sum() for i in range(k)])
        else:
            for im, lb in bgs:
                imgs.append(im)
                labs.append(lb)
                src.append(-1)
                group.append(-1)
        x, y = to_batch(imgs, labs, self.dev)
        return (x, y, torch.tensor(src, device=self.dev), torch.tensor(group, device=self.dev), logp,
                entropy)
