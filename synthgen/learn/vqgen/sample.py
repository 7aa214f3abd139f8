"""Sampling (``vqgen sample``): code maps drawn from the prior (per class if conditional), decoded
into images with masks; the mask channel is thresholded, degenerate masks are flagged or dropped,
and the generic image+mask format is written with ``samples.json`` and ``grid.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.common.checkpoint import read_checkpoint
from synthgen.learn.common.io import atomic_json, atomic_png, ensure_out
from synthgen.learn.vqgen.config import VQGenConfig
from synthgen.learn.vqgen.data import HEALTHY
from synthgen.learn.vqgen.figures import _to_uint8, pair_tile, tile_grid
from synthgen.learn.vqgen.pixelcnn import GatedPixelCNN
from synthgen.learn.vqgen.train import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    build_prior,
    build_vqvae,
    resolve_device,
)
from synthgen.learn.vqgen.vqvae import VQVAE
from synthgen.rng import stream


def load_checkpoint(path: Path | str) -> dict:
    path = Path(path)
    ck = read_checkpoint(path)
    if ck.get("format") != CHECKPOINT_FORMAT:
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
