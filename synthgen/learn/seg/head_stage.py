"""The decision head's second stage (``train.head_epochs``): whole images, the U-Net frozen.

During training the head sees 128 px crops, most of them placed around a defect, and learns to
call a crop with a defect pixel NG. On the line it sees whole photos, and its score is the maximum
over every cell of the photo: a healthy photo offers many more chances for one high cell than a
crop. The second stage trains the head the way it is used, as the segmentation-based decision
network of Tabernik et al. does in its second stage: the U-Net is frozen, each whole training
image is one example (NG if it has a defect pixel, OK if not), and the two classes weigh half
each. The head's input for every image is computed once by the frozen U-Net and kept in memory
(after the head's first, parameter-free max-pool: a quarter of the pixels, half precision).

After each epoch the head scores the validation images; the epoch with the best validation image
AP is kept (epoch 0 is the first stage's head, so the stage never makes the validation AP worse).
The result replaces best.pt's weights, with a ``head_stage`` record (settings, per-epoch figures);
its saved decision is dropped so that the operating point is chosen again. A resumed run with
the same settings does not repeat the stage.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from synthgen.learn.common.data import SegDataset
from synthgen.learn.common.decision import decision_metrics
from synthgen.learn.common.loop import to_tensor
from synthgen.rng import stream

BATCH = 8  # images per optimisation step (gradients accumulated: the images differ in size)


def head_settings(t) -> dict:
    return {"epochs": t.head_epochs, "lr": t.head_lr, "seed": t.seed}


@torch.no_grad()
def head_inputs(model, datasets: list[SegDataset], device: torch.device, progress: bool = False,
                desc: str = "head inputs") -> tuple[list[torch.Tensor], np.ndarray]:
    """Per whole image: the frozen U-Net's head input after the first max-pool (half precision,
    on the CPU), and whether the image is defective (a valid defect pixel)."""
    model.eval()
    pool = model.decision[0]
    feats, ng = [], []
    bar = tqdm(total=sum(len(d) for d in datasets), desc=desc, unit="img", disable=not progress, leave=False)
    for ds in datasets:
        for i in range(len(ds)):
            s = ds[i]
            th, tw = s.content_hw
            f, _ = model.decision_input(to_tensor([s.image[:th, :tw]], device))
            feats.append(pool(f.float()).half().cpu())
            ng.append(bool(((s.label[:th, :tw] > 0) & (s.valid[:th, :tw] > 0)).any()))
            bar.update(1)
    bar.close()
    return feats, np.array(ng)


@torch.no_grad()
def _scores(rest: torch.nn.Module, feats: list[torch.Tensor], device: torch.device) -> np.ndarray:
    rest.eval()
    return np.array([float(rest(f.to(device).float()).amax()) for f in feats])


def train_head(model, train_sets: list[SegDataset], val_ds: SegDataset, t, device: torch.device,
               progress: bool = False, log=print) -> dict:
    """Train ``model``'s decision head on whole images (in place); returns the stage's record."""
    x, y = head_inputs(model, train_sets, device, progress, "head inputs (train)")
    xv, yv = head_inputs(model, [val_ds], device, progress, "head inputs (validation)")
    if y.all() or not y.any() or yv.all() or not yv.any():
        log("decision head, whole images: skipped (the training and validation images must hold both OK and NG)")
        return {"settings": head_settings(t), "skipped": "one class only", "epochs": []}
    rest = torch.nn.Sequential(*list(model.decision)[1:])
    weight = torch.tensor([0.5 / (1 - y.mean()), 0.5 / y.mean()], device=device)  # OK, NG: half the loss each
    opt = torch.optim.AdamW(rest.parameters(), lr=t.head_lr, weight_decay=t.weight_decay)
    best_ap = decision_metrics(_scores(rest, xv, device), yv)["image_ap"]
    best_state, best_epoch = copy.deepcopy(rest.state_dict()), 0
    epochs = [{"epoch": 0, "val_image_ap": best_ap}]
    rng = stream(t.seed, "seg", "head")
    for epoch in range(t.head_epochs):
        for g in opt.param_groups:
            g["lr"] = t.head_lr * 0.5 * (1 + math.cos(math.pi * epoch / t.head_epochs))
        rest.train()
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(order), BATCH):
            opt.zero_grad(set_to_none=True)
            idx = order[start:start + BATCH]
            for i in idx:
                target = torch.tensor(float(y[i]), device=device)
                logit = rest(x[i].to(device).float()).amax()
                loss = weight[int(y[i])] * F.binary_cross_entropy_with_logits(logit, target) / len(idx)
                loss.backward()
                total += float(loss.detach()) * len(idx)
            opt.step()
        ap = decision_metrics(_scores(rest, xv, device), yv)["image_ap"]
        epochs.append({"epoch": epoch + 1, "loss": total / len(x), "val_image_ap": ap})
        log(f"decision head, whole images: epoch {epoch + 1}/{t.head_epochs}: loss {total / len(x):.4f}, "
            f"validation image AP {ap:.3f}")
        if ap > best_ap:
            best_ap, best_state, best_epoch = ap, copy.deepcopy(rest.state_dict()), epoch + 1
    rest.load_state_dict(best_state)
    log(f"decision head, whole images: kept epoch {best_epoch} (validation image AP {best_ap:.3f}; epoch 0 = "
        f"the head of the crops)")
    return {"settings": head_settings(t), "kept_epoch": best_epoch, "val_image_ap": best_ap, "epochs": epochs,
            "train_images": {"ng": int(y.sum()), "ok": int((~y).sum())}}
