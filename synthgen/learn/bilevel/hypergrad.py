"""Bi-level learning of Cut&Paste defect synthesis (after Synth4Seg), ``synthgen bilevel train``.

Inner problem: a U-Net is trained on batches synthesized on the fly: healthy backgrounds with
defect patches pasted on them (``synthgen.learn.bilevel.paste``), plus optionally real defective
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

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


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
