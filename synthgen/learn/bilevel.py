"""Bi-level learning of Cut&Paste defect synthesis (after Synth4Seg), ``synthgen bilevel train``.

Inner problem: a U-Net is trained on batches synthesized on the fly: healthy backgrounds with
defect patches pasted on them (``synthgen.learn.paste``), plus optionally real defective
images. Each synthesized image's loss is weighted by the importance weight of its defect source.

Outer problem: the synthesis parameters (a heat-map network that gives a paste-location
distribution per background, and one logit per defect source) minimise the segmentation loss of
the U-Net on a real validation set after its update.

Hypergradient (one-step unrolled, first order in the optimiser's preconditioner). With the
training loss ``L_tr = (1/B) sum_i e_i l_i(w)`` (``e_i`` = weight of sample i's source) and the
inner update ``w' = w - P * grad_w L_tr`` (``P`` = the diagonal step of Adam at this step,
``lr * (1 - b1) / (1 - b1^t) / (sqrt(v_hat) + eps)``, taken as constant), the influence of sample
``i`` on the validation loss is

    dL_val(w') / de_i = -(1/B) grad_w l_i(w) . (P * grad_w L_val(w'))

evaluated for all samples at once by central differences of the per-sample losses along
``d = P * grad_w L_val(w')``: ``l_i(w + h d) - l_i(w - h d)`` over ``2 h`` (two forward passes;
DARTS uses the same trick). Then

- source logits ``b``: ``e = S softmax(b)``, ``dL_val/db = sum_i (dL_val/de_i) de_i/db``;
- heat map ``phi``: locations are discrete draws, so the gradient is the score-function estimate
  ``sum_i (A_i - b_i) grad_phi log p_phi(loc_i | background_i)`` with the per-sample
  contribution ``A_i = e_i dL_val/de_i`` as the cost, ``b_i`` the mean cost of its location group
  (``learn.location_samples`` > 1) or of the batch, scaled by a running RMS, and an entropy bonus. ``tests/learn/test_bilevel.py`` checks the influence against exact autograd
  through the unrolled step and against finite differences of ``L_val(w'(e))``.

One outer step costs a validation forward/backward and two training forwards on top of the
ordinary step (whose gradient is reused): ``benchmarks/bilevel_step_cost.py`` measures it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.bilevel_config import RUNS, BilevelConfig
from synthgen.learn.data import SegDataset, available, build_dataset
from synthgen.learn.paste import DefectBank, cut_defects, draw_patch, family_pipeline, paste
from synthgen.learn.train import (
    atomic_json,
    atomic_png,
    atomic_torch_save,
    build_model,
    ensure_out,
    evaluate_model,
    resolve_device,
    to_tensor,
)
from synthgen.rng import stream

LEARNS = {"no_paste": (False, False), "random": (False, False), "learned_locations": (True, False),
          "learned_weights": (False, True), "both": (True, True)}


# ----------------------------------------------------------------------------- models and losses


class HeatmapNet(nn.Module):
    """Background (B, C, H, W) in [0, 1] -> paste-location logits (B, grid * grid).

    A learned logit per cell carries purely positional preferences; the convolutional part (which
    also sees two coordinate channels) adds appearance-dependent ones. Both start at zero: the initial distribution is uniform (the random baseline)."""

    def __init__(self, channels: int, width: int = 16, grid: int = 16, explore: float = 0.05):
        super().__init__()
        self.grid, self.explore = grid, explore
        self.max_cond = 4.0  # the appearance term is bounded; the per-cell term is not
        self.body = nn.Sequential(
            nn.Conv2d(channels + 2, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(width, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # a learned logit per cell: positional preferences need no image evidence
        self.cell_bias = nn.Parameter(torch.zeros(grid * grid))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        ys = torch.linspace(-1, 1, H, device=x.device).view(1, 1, H, 1).expand(B, 1, H, W)
        xs = torch.linspace(-1, 1, W, device=x.device).view(1, 1, 1, W).expand(B, 1, H, W)
        f = self.body(torch.cat([x, ys, xs], 1))
        f = F.adaptive_avg_pool2d(f, self.grid)
        cond = self.head(f)[:, 0].flatten(1)
        return self.max_cond * torch.tanh(cond / self.max_cond) + self.cell_bias

    def log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the cells: softmax of the logits mixed with ``explore`` of the uniform
        distribution, so no cell is ever abandoned. (A tanh bound on the logits was tried: once the
        raw logits grew past it everywhere the map went flat and its gradient vanished for good.)"""
        logp = torch.log_softmax(self(x), 1)
        if self.explore <= 0:
            return logp
        n = logp.shape[1]
        return torch.logaddexp(logp + math.log1p(-self.explore), torch.full_like(logp, math.log(self.explore / n)))


def per_sample_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float, dice_weight: float
                    ) -> torch.Tensor:
    """(B, 1, H, W) logits, (B, H, W) 0/1 target -> (B,) BCE (pos-weighted) + per-image soft Dice."""
    lg = logits[:, 0]
    g = target.float()
    # pos-weighted BCE written with softplus: torch's pos_weight path loses precision (it is
    # noisy at the 1e-8 level even in float64), which the finite-difference hypergradient feels
    bce = (pos_weight * g * F.softplus(-lg) + (1 - g) * F.softplus(lg)).mean((1, 2))
    p = torch.sigmoid(lg)
    dice = 1 - (2 * (p * g).sum((1, 2)) + 1) / (p.sum((1, 2)) + g.sum((1, 2)) + 1)
    return bce + dice_weight * dice


def source_weights(logits: torch.Tensor) -> torch.Tensor:
    """Importance weights ``S * softmax(logits)``: mean 1, all 1 when the logits are equal."""
    return logits.numel() * torch.softmax(logits, 0)


# ----------------------------------------------------------------------------- hypergradient


def _params_buffers(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    return ({k: p.detach() for k, p in model.named_parameters()},
            {k: b.detach().clone() for k, b in model.named_buffers()})


def val_gradient(model: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, loss_fn
                 ) -> tuple[dict[str, torch.Tensor], float]:
    """grad_w of the mean validation loss at ``params`` (running statistics left untouched)."""
    p = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    buffers = {k: b.detach().clone() for k, b in model.named_buffers()}
    loss = loss_fn(functional_call(model, (p, buffers), (x,)), y).mean()
    grads = torch.autograd.grad(loss, list(p.values()), allow_unused=True)
    return {k: (g if g is not None else torch.zeros_like(p[k])) for k, g in zip(p, grads)}, float(loss.detach())


@torch.no_grad()
def sample_influence(model: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     direction: dict[str, torch.Tensor], loss_fn, step: float = 0.01) -> torch.Tensor:
    """``-(1/B) grad_w l_i(params) . direction`` for every sample i of the batch (x, y), by central
    differences with a weight perturbation of norm ``step``. With ``direction = P * grad L_val(w')``
    this is ``dL_val(w') / de_i`` of the unrolled step (module docstring)."""
    norm = math.sqrt(sum(float((d.double() ** 2).sum()) for d in direction.values()))
    B = x.shape[0]
    if norm == 0.0 or not math.isfinite(norm):
        return torch.zeros(B, dtype=x.dtype, device=x.device)
    h = step / norm
    plus = {k: params[k] + h * direction[k] for k in params}
    minus = {k: params[k] - h * direction[k] for k in params}
    lp = loss_fn(functional_call(model, (plus, {k: b.clone() for k, b in model.named_buffers()}), (x,)), y)
    lm = loss_fn(functional_call(model, (minus, {k: b.clone() for k, b in model.named_buffers()}), (x,)), y)
    return -(lp - lm) / (2 * h) / B


def adam_preconditioner(opt: torch.optim.Optimizer, model: nn.Module) -> dict[str, torch.Tensor]:
    """The diagonal step ``dw / dg`` of the Adam/AdamW update just taken (second moments held fixed)."""
    out = {}
    for group in opt.param_groups:
        b1, b2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            t = float(st["step"])
            v_hat = st["exp_avg_sq"] / (1 - b2 ** t)
            out[id(p)] = lr * (1 - b1) / (1 - b1 ** t) / (v_hat.sqrt() + eps)
    return {k: out.get(id(p), torch.zeros_like(p)) for k, p in model.named_parameters()}


# ----------------------------------------------------------------------------- data


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
        bank = DefectBank(name, augment=d.augment)
        if names:
            ds = build_dataset(names, cfg.sources, cfg.data)
            for i in range(len(ds)):
                smp = ds[i]
                bank.patches += cut_defects(smp.image, smp.label, s.patch, s.margin, s.min_pixels, origin=smp.name)
                if d.max_patches and len(bank) >= d.max_patches:
                    bank.patches = bank.patches[: d.max_patches]
                    break
        if not len(bank):
            raise SynthgenError(f"synthesis.defects.{name}: no defect of at least {s.min_pixels} pixels found in "
                                f"{', '.join(d.sources)}")
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


# ----------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    model: nn.Module
    heatmap: HeatmapNet | None
    weight_logits: torch.Tensor | None
    history: list[dict]
    timing: dict


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


def train_run(cfg: BilevelConfig, run: str, seed: int, pools: Pools, dev: torch.device, progress: bool = True,
              log=print) -> RunResult:
    """Train one baseline ``run`` (see ``RUNS``) with ``seed``; returns the trained U-Net and history."""
    if run not in RUNS:
        raise SynthgenError(f"runs: unknown run {run!r} (one of {', '.join(RUNS)})")
    t, lc = cfg.train, cfg.learn
    learn_loc, learn_w = LEARNS[run]
    paste_on = run != "no_paste"
    model = build_model(cfg.model, cfg.data, seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 7919)
        heatmap = HeatmapNet(cfg.data.channels, lc.heatmap_width, lc.grid, lc.explore).to(dev) if learn_loc else None
    hopt = torch.optim.Adam(heatmap.parameters(), lr=lc.heatmap_lr) if heatmap is not None else None
    S = len(pools.banks)
    beta = torch.zeros(S, device=dev, requires_grad=learn_w)
    bopt = torch.optim.Adam([beta], lr=lc.weights_lr) if learn_w else None
    synth = Synthesizer(cfg, pools, dev)
    rng = stream(seed, "bilevel", run, "batches")
    vrng = stream(seed, "bilevel", run, "val")

    def loss_fn(logits, y):
        return per_sample_loss(logits, y, t.pos_weight, t.dice_weight)

    history: list[dict] = []
    acc = {"loss": 0.0, "val_loss": 0.0, "n": 0, "n_outer": 0}
    inner_s = outer_s = 0.0
    rms = None
    n_outer = 0
    bar = tqdm(range(t.steps), desc=run, disable=not progress, dynamic_ncols=True, leave=False)
    t_start = time.perf_counter()
    for step in bar:
        outer = (learn_loc or learn_w) and step >= lc.warmup and step % lc.outer_every == 0
        t0 = time.perf_counter()
        model.train()
        x, y, src, grp_all, logp, ent = synth.batch(t.batch_size, rng, heatmap, paste_on, need_grad=outer)
        w_all = source_weights(beta.detach())
        e = torch.where(src >= 0, w_all[src.clamp_min(0)], torch.ones_like(src, dtype=torch.float32))
        losses = loss_fn(model(x), y)
        loss = (e * losses).mean()
        w_t = {k: p.detach().clone() for k, p in model.named_parameters()} if outer else None
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc["loss"] += float(loss.detach())
        acc["n"] += 1
        t1 = time.perf_counter()
        inner_s += t1 - t0
        if outer:
            vi = vrng.choice(len(pools.val), size=min(lc.val_batch, len(pools.val)), replace=False)
            xv, yv = to_batch([pools.val[int(i)].image for i in vi], [pools.val[int(i)].label for i in vi], dev)
            w_next, _ = _params_buffers(model)
            g_val, vloss = val_gradient(model, w_next, xv, yv, loss_fn)
            P = adam_preconditioner(opt, model)
            d = {k: P[k] * g_val[k] for k in g_val}
            infl = sample_influence(model, w_t, x, y, d, loss_fn, lc.fd_step)  # dL_val / de_i
            syn = src >= 0
            if bopt is not None and bool(syn.any()):
                bopt.zero_grad(set_to_none=True)
                surrogate = (infl[syn].detach() * source_weights(beta)[src[syn]]).sum()
                surrogate.backward()
                bopt.step()
            if hopt is not None and logp is not None:
                cost = (infl[syn] * e[syn]).detach()
                grp = grp_all[syn]
                if bool((grp >= 0).all()):
                    # paired samples: same background and patches, different locations -> the
                    # baseline of each is its group's mean, which cancels everything but the location
                    _, inv = torch.unique(grp, return_inverse=True)
                    gsum = torch.zeros(int(inv.max()) + 1, dtype=cost.dtype, device=cost.device).index_add_(
                        0, inv, cost)
                    gcnt = torch.bincount(inv).to(cost.dtype)
                    adv = torch.where(gcnt[inv] > 1, cost - (gsum / gcnt)[inv], torch.zeros_like(cost))
                else:
                    adv = cost - cost.mean() if cost.numel() > 1 else cost * 0
                # scale by a running RMS (not this batch's std) so a batch of pure noise moves little
                rms = float(adv.pow(2).mean().sqrt()) if rms is None else 0.9 * rms + 0.1 * float(
                    adv.pow(2).mean().sqrt())
                adv = adv / (rms + 1e-12)
                hopt.zero_grad(set_to_none=True)
                obj = (adv * logp).mean() - lc.entropy * ent
                obj.backward()
                hopt.step()
            acc["val_loss"] += vloss
            acc["n_outer"] += 1
            n_outer += 1
            outer_s += time.perf_counter() - t1
        if (step + 1) % t.log_every == 0 or step + 1 == t.steps:
            row = {"step": step + 1, "loss": acc["loss"] / max(acc["n"], 1),
                   "weights": [round(float(v), 5) for v in source_weights(beta.detach())],
                   "seconds": round(time.perf_counter() - t_start, 2)}
            if acc["n_outer"]:
                row["val_loss"] = acc["val_loss"] / acc["n_outer"]
            if ent is not None:
                row["heatmap_entropy"] = float(ent.detach()) / math.log(lc.grid ** 2)
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}")
            acc = {"loss": 0.0, "val_loss": 0.0, "n": 0, "n_outer": 0}
    timing = {"inner_s": round(inner_s, 2), "outer_s": round(outer_s, 2), "steps": t.steps, "outer_steps": n_outer,
              "inner_step_s": inner_s / max(t.steps, 1),
              "outer_step_s": outer_s / n_outer if n_outer else None}
    return RunResult(model, heatmap, beta.detach().clone() if learn_w else None, history, timing)


def location_mass(heatmap: HeatmapNet, images: torch.Tensor, region: np.ndarray) -> float:
    """Mean probability the heat map puts on the cells of ``region`` ((G, G) bool) over ``images``."""
    with torch.no_grad():
        p = heatmap.log_probs(images).exp().cpu().numpy()
    return float((p * region.reshape(1, -1)).sum(1).mean())


# ----------------------------------------------------------------------------- evaluation and reports


def test_datasets(cfg: BilevelConfig) -> dict[str, SegDataset]:
    """The configured test sets whose sources exist (built once, decoded images cached across runs)."""
    out = {}
    for name, srcs in cfg.eval.test_sets.items():
        have = available(srcs, cfg.sources)
        if have:
            out[name] = build_dataset(have, cfg.sources, cfg.data)
    return out


def evaluate_run(cfg: BilevelConfig, model: nn.Module, dev: torch.device, tests: dict[str, SegDataset],
                 progress: bool = False) -> dict:
    shim = SimpleNamespace(data=cfg.data, eval=cfg.eval)
    out = {}
    for name, ds in tests.items():
        m = evaluate_model(model, ds, shim, dev, cfg.eval.resolution, progress, f"eval {name}")
        s = m.summary()
        out[name] = {k: s.get(k) for k in ("iou_dataset", "dice_dataset", "miou", "miou_custom", "map",
                                           "healthy_fp_rate")}
    return out


def _fmt(vals: list[float | None]) -> str:
    v = np.array([x for x in vals if x is not None], float)
    if v.size == 0:
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if v.size > 1 else f"{v.mean():.3f}"


def results_table(results: dict, cfg: BilevelConfig) -> str:
    """Markdown: rows = runs, columns = test sets x (IoU, mIoU custom, mAP), mean ± std over seeds."""
    tests = list(cfg.eval.test_sets)
    head = "| run | " + " | ".join(f"{t} IoU | {t} mIoU custom | {t} mAP" for t in tests) + " | seeds |"
    sep = "|---|" + "---:|" * (3 * len(tests)) + "---:|"
    rows = [head, sep]
    for run in cfg.runs:
        rs = [results[k] for k in results if results[k]["run"] == run]
        if not rs:
            continue
        cells = []
        for tname in tests:
            for m in ("iou_dataset", "miou_custom", "map"):
                cells.append(_fmt([r["test"].get(tname, {}).get(m) for r in rs]))
        rows.append(f"| {run} | " + " | ".join(cells) + f" | {len(rs)} |")
    return "\n".join(rows) + "\n" + comparison_table(results, cfg)


# the comparisons: (learned, baseline) pairs that differ in one learned part only
COMPARISONS = [("learned_locations", "random"), ("both", "learned_weights"), ("learned_weights", "random"),
               ("both", "learned_locations")]


def comparison_table(results: dict, cfg: BilevelConfig) -> str:
    """Markdown: relative change of the mean IoU and mAP of each learned run over the run that differs
    only in the learned part, and in how many seeds (paired by seed) the learned run is ahead."""
    by = {(r["run"], r["seed"]): r for r in results.values()}
    rows = []
    for a, b in COMPARISONS:
        seeds = sorted(sd for (run, sd) in by if run == a and (b, sd) in by)
        if not seeds:
            continue
        cells = []
        for tname in cfg.eval.test_sets:
            for m in ("iou_dataset", "map"):
                va = [by[a, sd]["test"].get(tname, {}).get(m) for sd in seeds]
                vb = [by[b, sd]["test"].get(tname, {}).get(m) for sd in seeds]
                if any(v is None for v in va + vb):
                    cells.append("-")
                    continue
                ma, mb = float(np.mean(va)), float(np.mean(vb))
                rel = f"{100 * (ma - mb) / mb:+.1f} %" if mb > 0 else "n/a"
                cells.append(f"{rel} ({sum(x > y for x, y in zip(va, vb))}/{len(seeds)})")
        rows.append(f"| {a} vs {b} | " + " | ".join(cells) + " |")
    if not rows:
        return ""
    head = ("| learned vs baseline | " + " | ".join(f"{t} IoU | {t} mAP" for t in cfg.eval.test_sets) + " |")
    sep = "|---|" + "---:|" * (2 * len(cfg.eval.test_sets))
    return ("\nRelative change of the mean over seeds (seeds where the learned run is ahead):\n\n"
            + "\n".join([head, sep, *rows]) + "\n")


def heatmap_figure(examples: list[np.ndarray], maps: dict[str, list[np.ndarray]], path: Path) -> None:
    """Rows = runs (and seeds) with learned locations, columns = example backgrounds with the heat map
    overlaid on one fixed scale: black = 0, bright = ``4x`` the uniform probability or more."""
    tiles_rows = []
    for run, hms in maps.items():
        ratio = max(float(np.max(h)) * h.size for h in hms)
        row = []
        for img, hm in zip(examples, hms):
            base = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            H, W = base.shape[:2]
            up = cv2.resize(hm.astype(np.float32), (W, H), interpolation=cv2.INTER_NEAREST)
            up = (255 * np.clip(up * hm.size / 4.0, 0, 1)).astype(np.uint8)
            col = cv2.applyColorMap(up, cv2.COLORMAP_INFERNO)
            t = cv2.addWeighted(base, 0.45, col, 0.55, 0)
            f = max(1, 160 // max(H, W))
            t = cv2.resize(t, (W * f, H * f), interpolation=cv2.INTER_NEAREST)
            row.append(np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        strip = np.concatenate(row, 1)
        label = np.full((22, strip.shape[1], 3), 255, np.uint8)
        cv2.putText(label, f"{run}: paste-location probability, peak {ratio:.1f}x uniform", (4, 16),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        tiles_rows.append(np.concatenate([label, strip], 0))
    if tiles_rows:
        wmax = max(r.shape[1] for r in tiles_rows)
        tiles_rows = [np.pad(r, ((0, 0), (0, wmax - r.shape[1]), (0, 0)), constant_values=255) for r in tiles_rows]
        atomic_png(path, np.concatenate(tiles_rows, 0))


def weights_figure(trajectories: dict[str, list[dict]], names: list[str], path: Path) -> None:
    """One panel per run with learned weights; colour = source, thin lines = seeds, thick line = the
    geometric mean over seeds (the weights are a softmax, so their logs average)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, list[list[dict]]] = {}
    for key, hist in trajectories.items():
        runs.setdefault(key.rsplit("_s", 1)[0], []).append(hist)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), sharey=True, squeeze=False)
    for ax, (run, hists) in zip(axes[0], runs.items()):
        n = min(len(h) for h in hists)
        steps = [r["step"] for r in hists[0][:n]]
        for s, name in enumerate(names):
            w = np.array([[r["weights"][s] for r in h[:n]] for h in hists])
            for row in w:
                ax.plot(steps, row, color=f"C{s}", lw=0.8, alpha=0.45)
            ax.plot(steps, np.exp(np.log(w).mean(0)), color=f"C{s}", lw=2.4,
                    label=f"{name} (final {np.exp(np.log(w[:, -1]).mean()):.2f})")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("inner step")
        ax.set_title(f"{run}: {len(hists)} seed(s)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("importance weight (log scale; mean 1)")
    fig.suptitle("learned defect-source weights (thin: seeds, thick: geometric mean)", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(".tmp_" + path.name)
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)


def run_key(cfg: BilevelConfig) -> str:
    """Hash of the settings that decide a run's result (not the run/seed lists, output, device)."""
    d = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in ("runs", "seeds", "out")}
    for k in ("device", "threads", "log_every"):
        d["train"].pop(k, None)
    if d["learn"].get("location_samples") == 1:  # added later; 1 is the behaviour runs had before
        d["learn"].pop("location_samples")
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def train_all(cfg: BilevelConfig, out: Path | str | None = None, device: str | None = None, progress: bool = True,
              log=print) -> dict:
    """Train every run x seed of ``cfg`` (finished ones are reused), evaluate, write the reports."""
    out = ensure_out(Path(out or cfg.out))
    t = cfg.train
    dev = resolve_device(device or t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    pools = build_pools(cfg, log)
    atomic_json(out / "config.json", cfg.model_dump(mode="json"))
    results: dict[str, dict] = {}
    # everything but the list of runs/seeds and the output folder decides whether a run is reusable
    ckey = run_key(cfg)
    examples_idx = list(range(min(4, len(pools.val))))
    ex_imgs = [pools.val[i].image for i in examples_idx]
    heatmaps: dict[str, list[np.ndarray]] = {}
    tests: dict[str, SegDataset] | None = None
    trajectories: dict[str, list[dict]] = {}
    for run in cfg.runs:
        for sd in cfg.seeds:
            seed = t.seed + sd
            key = f"{run}_s{seed}"
            rdir = out / "runs" / key
            done = rdir / "result.json"
            res = json.loads(done.read_text()) if done.is_file() else None
            if res is not None and res.get("config_key") != ckey:
                log(f"{key}: config changed since {done} was written; training again")
                res = None
            if res is not None:
                log(f"{key}: reusing {done}")
            else:
                rdir.mkdir(parents=True, exist_ok=True)
                r = train_run(cfg, run, seed, pools, dev, progress, log)
                if tests is None:
                    tests = test_datasets(cfg)
                test = evaluate_run(cfg, r.model, dev, tests, progress)
                res = {"run": run, "seed": seed, "config_key": ckey, "test": test, "timing": r.timing,
                       "history": r.history,
                       "source_names": [b.name for b in pools.banks]}
                if r.heatmap is not None:
                    xe, _ = to_batch(ex_imgs, [pools.val[i].label for i in examples_idx], dev)
                    with torch.no_grad():
                        p = r.heatmap.log_probs(xe).exp().cpu().numpy().reshape(len(ex_imgs), cfg.learn.grid,
                                                                                   cfg.learn.grid)
                    res["example_heatmaps"] = p.round(6).tolist()
                atomic_torch_save(rdir / "model.pt", {
                    "unet": r.model.state_dict(), "heatmap": None if r.heatmap is None else r.heatmap.state_dict(),
                    "weight_logits": r.weight_logits, "config": cfg.model_dump(mode="json"), "run": run,
                    "seed": seed})
                atomic_json(done, res)
                summ = ", ".join(f"{k} IoU {v['iou_dataset']:.3f} mAP {v['map']:.3f}" for k, v in test.items()
                                 if v.get("iou_dataset") is not None)
                log(f"{key}: {summ} ({r.timing['inner_s'] + r.timing['outer_s']:.0f} s)")
            results[key] = res
            if "example_heatmaps" in res:
                heatmaps[key] = [np.asarray(h) for h in res["example_heatmaps"]]
            if LEARNS[run][1]:
                trajectories[key] = res["history"]
    table = results_table(results, cfg)
    atomic_json(out / "results.json", {k: {kk: vv for kk, vv in v.items() if kk != "history"}
                                       for k, v in results.items()})
    tmp = out / ".tmp_results.md"
    tmp.write_text("# Bi-level Cut&Paste results\n\nmean ± std over seeds " + str(cfg.seeds) + "\n\n" + table)
    tmp.replace(out / "results.md")
    if heatmaps:
        heatmap_figure(ex_imgs, heatmaps, out / "heatmaps.png")
    if trajectories:
        weights_figure(trajectories, [b.name for b in pools.banks], out / "weights.png")
    log(table)
    log(f"wrote {out / 'results.md'}, results.json" + (", heatmaps.png" if heatmaps else "")
        + (", weights.png" if trajectories else ""))
    return results
