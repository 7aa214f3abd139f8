"""Pictures of the vqgen generator: image+mask tiles, grids and the loss curves."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from synthgen.learn.common.figures import pyplot, save_figure


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
    plt = pyplot()

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
    save_figure(fig, path, dpi=90)
