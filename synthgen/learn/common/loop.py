"""Pieces of the U-Net training and inference loops shared by ``seg``, ``bilevel`` and ``vqgen``:
the device, input normalisation, the one BCE(+CE) + Dice loss, batched prediction at the
original or network size, and evaluation into ``DatasetMetrics``.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.learn.common.config import EvalConfig
from synthgen.learn.common.data import SegDataset
from synthgen.learn.common.metrics import DatasetMetrics
from synthgen.learn.common.unet import UNet

MEAN, STD = 0.5, 0.25  # input normalisation of x / 255


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SynthgenError("train.device: cuda requested but no CUDA device is available")
    return torch.device(name)


def normalise(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, C) tensor -> normalised float batch on ``device``, channels-last (about 2x
    faster convolutions on CPU). The copy is non-blocking (it overlaps compute from pinned memory)."""
    x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
    return ((x / 255.0 - MEAN) / STD).contiguous(memory_format=torch.channels_last)


def to_tensor(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """uint8 (H, W, C) images -> normalised float batch (``normalise``)."""
    return normalise(torch.from_numpy(np.stack(images)), device)


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
                    progress: bool = False, desc: str = "predict"
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray, float | None]]:
    """Yield (name, ground-truth label map, probabilities, decision-head probability) per image.

    Probabilities are (H, W) defect probability (binary) or (K+1, H, W) softmax; the head's
    probability is None for a model without a decision head. Padding is cropped
    away; with ``resolution == "original"`` predictions are resized back to the original image
    size and compared with the original mask."""
    model.eval()
    binary = ds.data.binary
    bs = 1 if ds.data.policy == "crop" else batch_size
    bar = tqdm(total=len(ds), desc=desc, unit="img", disable=not progress, leave=False)
    for start in range(0, len(ds), bs):
        items = [ds[i] for i in range(start, min(start + bs, len(ds)))]
        logits, dec = model.forward_with_decision(to_tensor([s.image for s in items], device))
        probs = (torch.sigmoid(logits[:, 0]) if binary else torch.softmax(logits, 1)).float().cpu().numpy()
        heads = [None] * len(items) if dec is None else torch.sigmoid(dec.float()).cpu().tolist()
        for k, s in enumerate(items):
            th, tw = s.content_hw
            prob = probs[k][..., :th, :tw]
            gt = s.label[:th, :tw]
            if resolution == "original" and (th, tw) != tuple(s.orig_hw):
                prob = _resize_prob(np.ascontiguousarray(prob), s.orig_hw)
                gt = ds.original_label(start + k)
            yield s.name, gt, prob, heads[k]
        bar.update(len(items))
    bar.close()


def evaluate_model(model: UNet, ds: SegDataset, ev: EvalConfig, device: torch.device, resolution: str,
                   progress: bool = False, desc: str = "eval") -> DatasetMetrics:
    """Metrics of ``model`` on ``ds``; each defective image is grouped under its entry's class."""
    m = DatasetMetrics(ds.data.num_classes, ev.tolerance, ev.threshold, ev.min_box_pixels,
                       ev.decision.top_k, ev.decision.sigma)
    preds = predict_dataset(model, ds, ev.batch_size, resolution, device, progress, desc)
    for e, (name, gt, prob, head) in zip(ds.entries, preds):
        m.add(name, gt, prob, group=e.class_name, head=head)
    return m
