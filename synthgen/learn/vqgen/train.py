"""Training (``vqgen train``) of the VQ-VAE + PixelCNN generator.

The VQ-VAE is trained on image+mask inputs (phase 1); its encoder then turns fresh inputs into
code maps on which the PixelCNN prior is trained (phase 2). Writes
``<out>/checkpoints/vqgen.pt`` (config, classes and both models' weights: all that sampling
needs), ``history.json``, ``loss_curves.png``, ``reconstructions.png`` and ``samples_preview.png``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.common.io import atomic_json, atomic_png, atomic_torch_save, ensure_out
from synthgen.learn.common.loop import resolve_device as _resolve_device
from synthgen.learn.vqgen.config import VQGenConfig
from synthgen.learn.vqgen.data import HEALTHY, PairSampler, load_pairs
from synthgen.learn.vqgen.figures import _to_uint8, pair_tile, plot_curves, tile_grid
from synthgen.learn.vqgen.pixelcnn import GatedPixelCNN
from synthgen.learn.vqgen.vqvae import VQVAE, recon_losses
from synthgen.rng import stream

CHECKPOINT_FORMAT = "synthgen-vqgen"


CHECKPOINT_VERSION = 1


def resolve_device(name: str, where: str = "train.device") -> torch.device:
    try:
        return _resolve_device(name)
    except SynthgenError as exc:
        raise SynthgenError(str(exc).replace("train.device", where, 1)) from None


def build_vqvae(cfg: VQGenConfig) -> VQVAE:
    v = cfg.vqvae
    return VQVAE(cfg.data.channels, v.hidden, v.downsample, v.res_blocks, v.codebook_size, v.embed_dim,
                 v.commitment, v.ema, v.ema_decay)


def build_prior(cfg: VQGenConfig, num_classes: int) -> GatedPixelCNN:
    p = cfg.pixelcnn
    return GatedPixelCNN(cfg.vqvae.codebook_size, p.channels, p.layers, p.kernel,
                         num_classes if p.conditional else 0)


def _seeded(fn, seed: int):
    """Build a module with weights drawn from ``seed`` without touching the global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()


def train(cfg: VQGenConfig, out: Path | str | None = None, device: str | None = None, progress: bool = True,
          log=print) -> Path:
    """Train the VQ-VAE then the prior; returns the checkpoint path."""
    out = ensure_out(Path(out or cfg.out))
    t = cfg.train
    dev = resolve_device(device or t.device, "--device" if device else "train.device")
    if t.threads:
        torch.set_num_threads(t.threads)
    pairs = load_pairs(cfg.data)
    sampler = PairSampler(pairs, cfg.data)
    n_def = sum(p.cls != HEALTHY for p in pairs)
    log(f"data: {n_def} defect images, {len(pairs) - n_def} healthy; classes {sampler.classes}; "
        f"inputs {cfg.data.channels}+1 x {cfg.data.size} px ({cfg.data.mode}); device {dev}")

    # ---- phase 1: VQ-VAE
    model = _seeded(lambda: build_vqvae(cfg), t.seed).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, t.vqvae_steps, eta_min=t.lr * 0.1)
    rng = stream(t.seed, "vqgen", "vqvae-batches")
    gen = torch.Generator(device=dev).manual_seed(t.seed)
    hist: dict[str, list] = {"vqvae": [], "prior": []}
    acc: dict[str, float] = {}
    revived_total = 0
    t0 = time.perf_counter()
    model.train()
    # data-dependent codebook start: every code a random encoder output of the first batch
    with torch.no_grad():
        x0, _ = sampler.draw(max(t.batch_size, 64), rng)
        model.vq._last_flat = model.encoder(torch.from_numpy(x0).to(dev)).permute(0, 2, 3, 1).reshape(
            -1, cfg.vqvae.embed_dim)
        model.vq.idle_steps.fill_(1)
        model.vq.revive(1, gen)
    bar = tqdm(range(t.vqvae_steps), desc="vqvae", disable=not progress, dynamic_ncols=True)
    for step in bar:
        x, _ = sampler.draw(t.batch_size, rng)
        x = torch.from_numpy(x).to(dev)
        o = model(x)
        img_l, mask_l = recon_losses(o, x, cfg.data.channels, cfg.vqvae.mask_weight, cfg.vqvae.defect_weight)
        loss = img_l + mask_l + o["vq_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        revived_total += model.vq.revive(cfg.vqvae.dead_code_steps, gen)
        for k, val in (("image_mse", img_l), ("mask_bce", mask_l), ("commit", o["commit"]),
                       ("codebook", o["codebook"]), ("perplexity", o["perplexity"]), ("active", o["active"])):
            acc[k] = acc.get(k, 0.0) + float(val.detach())
        if (step + 1) % t.log_every == 0 or step + 1 == t.vqvae_steps:
            n = (step % t.log_every) + 1
            row = {"step": step + 1, **{k: v / n for k, v in acc.items()}, "revived_total": revived_total,
                   "seconds": round(time.perf_counter() - t0, 2)}
            hist["vqvae"].append(row)
            acc = {}
            bar.set_postfix(mse=f"{row['image_mse']:.4f}", bce=f"{row['mask_bce']:.4f}",
                            ppl=f"{row['perplexity']:.1f}")
    vq_seconds = time.perf_counter() - t0
    usage = model.vq.usage.cpu()
    log(f"vqvae: {t.vqvae_steps} steps in {vq_seconds:.1f} s; final image MSE {hist['vqvae'][-1]['image_mse']:.4f}, "
        f"mask BCE {hist['vqvae'][-1]['mask_bce']:.4f}, perplexity {hist['vqvae'][-1]['perplexity']:.1f}; "
        f"{int((usage > 0).sum())}/{cfg.vqvae.codebook_size} codes ever used, {revived_total} revived")
    model.eval()

    def checkpoint(prior: GatedPixelCNN | None) -> dict:
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                "config": cfg.model_dump(mode="json"), "classes": sampler.classes,
                "class_freq": sampler.class_frequencies(), "latent": latent,
                "vqvae": {k: v.cpu() for k, v in model.state_dict().items()},
                "pixelcnn": None if prior is None else {k: v.cpu() for k, v in prior.state_dict().items()},
                "history": hist}

    latent = [cfg.data.size // 2 ** cfg.vqvae.downsample] * 2
    _write_reconstructions(model, sampler, cfg, dev, out / "reconstructions.png")
    atomic_torch_save(out / "checkpoints" / "vqvae.pt", checkpoint(None))

    # ---- phase 2: PixelCNN prior on code maps of fresh inputs
    prior = _seeded(lambda: build_prior(cfg, len(sampler.classes)), t.seed + 1).to(dev)
    popt = torch.optim.Adam(prior.parameters(), lr=t.prior_lr)
    psched = torch.optim.lr_scheduler.CosineAnnealingLR(popt, t.prior_steps, eta_min=t.prior_lr * 0.1)
    rng = stream(t.seed, "vqgen", "prior-batches")
    cond = cfg.pixelcnn.conditional
    t1 = time.perf_counter()
    run = 0.0
    bar = tqdm(range(t.prior_steps), desc="prior", disable=not progress, dynamic_ncols=True)
    for step in bar:
        x, y = sampler.draw(t.batch_size, rng)
        codes = model.encode(torch.from_numpy(x).to(dev))
        loss = prior.loss(codes, torch.from_numpy(y).to(dev) if cond else None)
        popt.zero_grad(set_to_none=True)
        loss.backward()
        popt.step()
        psched.step()
        run += float(loss.detach())
        if (step + 1) % t.log_every == 0 or step + 1 == t.prior_steps:
            n = (step % t.log_every) + 1
            hist["prior"].append({"step": step + 1, "nll_nats": run / n, "nll_bits": run / n / math.log(2),
                                  "seconds": round(time.perf_counter() - t1, 2)})
            run = 0.0
            bar.set_postfix(nll_bits=f"{hist['prior'][-1]['nll_bits']:.3f}")
    prior_seconds = time.perf_counter() - t1
    log(f"prior: {t.prior_steps} steps in {prior_seconds:.1f} s; final NLL "
        f"{hist['prior'][-1]['nll_bits']:.3f} bits/code (uniform: {math.log2(cfg.vqvae.codebook_size):.2f})")
    hist["seconds"] = {"vqvae": round(vq_seconds, 1), "prior": round(prior_seconds, 1)}
    ck_path = out / "checkpoints" / "vqgen.pt"
    atomic_torch_save(ck_path, checkpoint(prior))
    atomic_json(out / "history.json", hist)
    plot_curves(hist, out / "loss_curves.png")
    # a small preview of what sampling gives (not filtered)
    prior.eval()
    g = torch.Generator(device=dev).manual_seed(t.seed)
    n_prev = 16
    cls = _preview_classes(sampler.classes, n_prev) if cond else None
    codes = prior.sample(n_prev, tuple(latent), None if cls is None else cls.to(dev), g, 1.0, dev)
    img, prob = model.decode(codes)
    imgs, masks = _to_uint8(img), (prob > cfg.sample.threshold).cpu().numpy()
    tiles = [pair_tile(imgs[i], masks[i], 2, label=None if cls is None else sampler.classes[int(cls[i])])
             for i in range(n_prev)]
    atomic_png(out / "samples_preview.png", tile_grid(tiles, 4))
    log(f"wrote {ck_path}, loss_curves.png, reconstructions.png, samples_preview.png in {out}")
    return ck_path


def _preview_classes(classes: list[str], n: int) -> torch.Tensor:
    return torch.tensor([i % len(classes) for i in range(n)], dtype=torch.long)


@torch.no_grad()
def _write_reconstructions(model: VQVAE, sampler: PairSampler, cfg: VQGenConfig, dev, path: Path) -> None:
    x, _ = sampler.draw(16, stream(cfg.train.seed, "vqgen", "preview"))
    o = model(torch.from_numpy(x).to(dev))
    ch = cfg.data.channels
    src, rec = _to_uint8(torch.from_numpy(x[:, :ch])), _to_uint8(o["image"])
    src_m, rec_m = x[:, ch] > 0, (torch.sigmoid(o["mask_logits"]) > cfg.sample.threshold).cpu().numpy()
    tiles = []
    for i in range(len(x)):
        a, b = pair_tile(src[i], src_m[i], 2), pair_tile(rec[i], rec_m[i], 2)
        tiles.append(np.concatenate([a, np.full((a.shape[0], 4, 3), 0, np.uint8), b], 1))
    atomic_png(path, tile_grid(tiles, 2))
