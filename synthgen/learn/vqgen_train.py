"""Training (``vqgen train``) and sampling (``vqgen sample``) of the VQ-VAE + PixelCNN generator.

``train``: the VQ-VAE is trained on image+mask inputs (phase 1); its encoder then turns fresh
inputs into code maps on which the PixelCNN prior is trained (phase 2). Writes
``<out>/checkpoints/vqgen.pt`` (config, classes and both models' weights: all that sampling
needs), ``history.json``, ``loss_curves.png``, ``reconstructions.png`` and ``samples_preview.png``.

``sample``: draws code maps from the prior (per class if conditional), decodes them into
images with masks, thresholds the mask channel, flags or drops degenerate masks and writes the
generic image+mask format with ``samples.json`` and ``grid.png``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.pixelcnn import GatedPixelCNN
from synthgen.learn.train import atomic_json, atomic_png, atomic_torch_save, ensure_out
from synthgen.learn.train import resolve_device as _resolve_device
from synthgen.learn.vqgen_config import VQGenConfig
from synthgen.learn.vqgen_data import HEALTHY, PairSampler, load_pairs
from synthgen.learn.vqvae import VQVAE, recon_losses
from synthgen.rng import stream

CHECKPOINT_FORMAT = "synthgen-vqgen"
CHECKPOINT_VERSION = 1


# ----------------------------------------------------------------------------- helpers


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


# ----------------------------------------------------------------------------- pictures


def overlay(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 image + bool mask -> BGR uint8 with the mask tinted red and outlined."""
    bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    out = bgr.astype(np.float32)
    m = mask.astype(bool)
    out[m] = 0.55 * out[m] + 0.45 * np.array([0, 0, 255], np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (0, 0, 255), 1)
    return out


def tile_grid(tiles: list[np.ndarray], cols: int, pad: int = 3, bg: int = 255) -> np.ndarray:
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), bg, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = t
    return grid


def pair_tile(img: np.ndarray, mask: np.ndarray, scale: int, border: tuple[int, int, int] | None = None,
              label: str | None = None):
    """[image | image with mask overlay], enlarged ``scale`` x (nearest), optional class label."""
    plain = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    t = np.concatenate([plain, np.full((img.shape[0], 1, 3), 255, np.uint8), overlay(img, mask)], 1)
    if scale > 1:
        t = cv2.resize(t, (t.shape[1] * scale, t.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    if border is not None:
        cv2.rectangle(t, (0, 0), (t.shape[1] - 1, t.shape[0] - 1), border, 2)
    if label:
        cv2.putText(t, label, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(t, label, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (80, 255, 255), 1, cv2.LINE_AA)
    return t


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, C, S, S) in [-1, 1] -> (B, S, S, C) uint8."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def plot_curves(hist: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v, p = hist["vqvae"], hist["prior"]
    fig, ax = plt.subplots(1, 4, figsize=(17, 3.8))
    if v:
        s = [r["step"] for r in v]
        ax[0].plot(s, [r["image_mse"] for r in v], label="image MSE (weighted)")
        ax[0].plot(s, [r["mask_bce"] for r in v], label="mask BCE (weighted)")
        ax[0].set_yscale("log")
        ax[1].plot(s, [r["commit"] for r in v], label="commitment ||z_e - sg(e)||^2")
        if any(r["codebook"] > 0 for r in v):
            ax[1].plot(s, [r["codebook"] for r in v], label="codebook loss")
        ax[1].set_yscale("log")
        ax[2].plot(s, [r["perplexity"] for r in v], label="perplexity (per batch)")
        ax[2].plot(s, [r["active"] for r in v], label="codes used (per batch)")
        ax[2].plot(s, [r["revived_total"] for r in v], label="dead codes revived (total)")
    if p:
        ax[3].plot([r["step"] for r in p], [r["nll_bits"] for r in p], color="C3", label="prior NLL")
    titles = ["VQ-VAE reconstruction", "VQ commitment / codebook", "codebook usage", "PixelCNN prior"]
    ylabels = ["loss", "loss", "codes", "bits per code"]
    for a, t, y in zip(ax, titles, ylabels):
        a.set_title(t)
        a.set_xlabel("step")
        a.set_ylabel(y)
        a.grid(alpha=0.3)
        if a.lines:
            a.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(".tmp_" + path.name)
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- training


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


# ----------------------------------------------------------------------------- sampling


def load_checkpoint(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file
        raise SynthgenError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise SynthgenError(f"{path}: not a vqgen checkpoint (written by `synthgen vqgen train`)")
    if ck.get("version") != CHECKPOINT_VERSION:
        raise SynthgenError(f"{path}: checkpoint version {ck.get('version')} is not supported "
                            f"(expected {CHECKPOINT_VERSION})")
    if ck.get("pixelcnn") is None:
        raise SynthgenError(f"{path}: holds only the VQ-VAE (training stopped before the prior); use vqgen.pt")
    return ck


def models_from_checkpoint(ck: dict, dev: torch.device) -> tuple[VQGenConfig, VQVAE, GatedPixelCNN]:
    cfg = VQGenConfig.model_validate(ck["config"], context={"from_checkpoint": True})
    model = build_vqvae(cfg)
    model.load_state_dict(ck["vqvae"])
    prior = build_prior(cfg, len(ck["classes"]))
    prior.load_state_dict(ck["pixelcnn"])
    return cfg, model.to(dev).eval(), prior.to(dev).eval()


def degenerate_reason(mask: np.ndarray, cls: str | None, min_pixels: int, max_fraction: float) -> str | None:
    """Why a generated mask is unusable, or None. Empty only counts for defect classes (and for
    unconditional models, where ``cls`` is None)."""
    n = int(mask.sum())
    if cls != HEALTHY and n < min_pixels:
        return "empty"
    if n > max_fraction * mask.size:
        return "too_large"
    return None


def sample(checkpoint: Path | str, num: int, out: Path | str, seed: int = 0, class_name: str | None = None,
           device: str | None = None, threshold: float | None = None, on_degenerate: str | None = None,
           temperature: float | None = None, prefix: str | None = None, min_mask_pixels: int | None = None,
           progress: bool = True, log=print) -> dict:
    """Draw ``num`` pairs into ``out`` (images/, masks/, samples.json, grid.png); returns the summary."""
    ck = load_checkpoint(checkpoint)
    dev = resolve_device(device or "auto", "--device")
    cfg, model, prior = models_from_checkpoint(ck, dev)
    sc = cfg.sample
    thr = sc.threshold if threshold is None else threshold
    mode = on_degenerate or sc.on_degenerate
    temp = sc.temperature if temperature is None else temperature
    min_px = sc.min_mask_pixels if min_mask_pixels is None else min_mask_pixels
    classes: list[str] = ck["classes"]
    cond = prior.num_classes > 0
    if class_name is not None:
        if not cond:
            raise SynthgenError(f"--class {class_name}: this model is not class-conditional")
        if class_name not in classes:
            raise SynthgenError(f"--class {class_name}: unknown class (model classes: {', '.join(classes)})")
    out = ensure_out(Path(out))
    (out / "images").mkdir(exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    prefix = f"vqgen_s{seed}_" if prefix is None else prefix
    rng = stream(seed, "vqgen", "sample-classes")
    gen = torch.Generator(device=dev).manual_seed(seed)
    freq = np.asarray(ck["class_freq"], float)
    freq = freq / freq.sum()
    max_draws = num * (sc.max_tries if mode == "drop" else 1)
    # batches are sized the same in both modes, so "keep" and "drop" see the same stream of draws
    # for a seed and "drop" keeps exactly the non-degenerate ones of it
    stream_cap = num * sc.max_tries
    records: list[dict] = []
    kept = drawn = 0
    written_tiles: list[np.ndarray] = []
    t0 = time.perf_counter()
    bar = tqdm(total=num, desc="sample", disable=not progress, dynamic_ncols=True)
    while kept < num and drawn < max_draws:
        n = min(sc.batch_size, stream_cap - drawn)
        if cond:
            idx = np.full(n, classes.index(class_name)) if class_name else rng.choice(len(classes), n, p=freq)
            cls_t = torch.from_numpy(idx.astype(np.int64)).to(dev)
        else:
            idx, cls_t = None, None
        codes = prior.sample(n, tuple(ck["latent"]), cls_t, gen, temp, dev)
        img, prob = model.decode(codes)
        imgs, masks = _to_uint8(img), (prob > thr).cpu().numpy()
        for i in range(n):
            if kept >= num:
                break  # rest of the last batch: not needed, not recorded
            drawn += 1
            cls = classes[int(idx[i])] if cond else None
            reason = degenerate_reason(masks[i], cls, min_px, sc.max_mask_fraction)
            write = reason is None or mode == "keep"
            name = f"{prefix}{drawn - 1:05d}"
            rec = {"name": name, "class": cls, "mask_pixels": int(masks[i].sum()),
                   "mask_fraction": round(float(masks[i].mean()), 5), "degenerate": reason, "written": write}
            records.append(rec)
            if write:
                im = imgs[i] if imgs.shape[3] == 1 else cv2.cvtColor(imgs[i], cv2.COLOR_RGB2BGR)
                atomic_png(out / "images" / f"{name}.png", im)
                atomic_png(out / "masks" / f"{name}.png", masks[i].astype(np.uint8) * 255)
                kept += 1
                bar.update(1)
                if len(written_tiles) < 64:
                    written_tiles.append(pair_tile(imgs[i], masks[i], 2, (0, 0, 255) if reason else None,
                                                  label=cls if reason is None else f"{cls} ({reason})"))
    bar.close()
    seconds = time.perf_counter() - t0
    n_deg = sum(r["degenerate"] is not None for r in records)
    summary = {"checkpoint": str(Path(checkpoint).resolve()), "seed": seed, "num_requested": num,
               "num_written": kept, "num_drawn": drawn, "num_degenerate": n_deg, "threshold": thr,
               "on_degenerate": mode, "temperature": temp, "classes": classes if cond else None,
               "class_name": class_name, "min_mask_pixels": min_px,
               "max_mask_fraction": sc.max_mask_fraction, "seconds": round(seconds, 2), "samples": records}
    atomic_json(out / "samples.json", summary)
    if written_tiles:
        atomic_png(out / "grid.png", tile_grid(written_tiles, 8))
    log(f"sampled {drawn} pairs in {seconds:.1f} s: {kept} written, {n_deg} degenerate "
        f"({'dropped' if mode == 'drop' else 'kept, flagged'}) -> {out}")
    if kept < num:
        log(f"warning: only {kept} of {num} pairs passed the mask filter after {drawn} draws "
            f"(sample.max_tries = {sc.max_tries}); see samples.json")
    return summary
