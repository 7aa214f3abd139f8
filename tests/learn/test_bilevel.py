"""Bi-level Cut&Paste (``synthgen bilevel``): pasting and the hypergradient (toy runs and the CLI: test_bilevel_toy.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from bileveltoy import _blob
from torch import nn

from synthgen.learn.bilevel.hypergrad import (
    HeatmapNet,
    per_sample_loss,
    sample_influence,
    source_weights,
    val_gradient,
)
from synthgen.learn.bilevel.paste import DefectBank, cut_defects, draw_patch, family_pipeline, paste

# ----------------------------------------------------------------------------- pasting


@pytest.mark.parametrize("center", [(20, 30), (2, 3), (60, 62), (-5, 10)])
def test_pasted_label_is_the_source_mask_moved(center):
    rng = np.random.default_rng(0)
    P = 16
    bg = rng.integers(0, 60, (64, 64, 1), dtype=np.uint8)
    patch_img = np.full((P, P, 1), 230, np.uint8)
    patch_mask = _blob((P, P), (7, 8), 5, rng)
    img, lab = paste(bg, np.zeros((64, 64), np.uint8), patch_img, patch_mask, center, feather=1.5)
    expect = np.zeros((64 + 2 * P, 64 + 2 * P), np.uint8)  # canvas with a P margin, then cropped
    top, left = center[0] - P // 2 + P, center[1] - P // 2 + P
    expect[top: top + P, left: left + P] = patch_mask
    near = cv2.dilate(expect, np.ones((9, 9), np.uint8))[P: P + 64, P: P + 64]  # feathering reach
    expect = expect[P: P + 64, P: P + 64]
    assert np.array_equal(lab, expect)
    # inside the mask the patch shows; far from it the background is untouched
    assert np.all(img[expect > 0] == 230)
    far = near == 0
    assert np.array_equal(img[far], bg[far])


def test_cut_defects_one_patch_per_defect_with_its_mask():
    img = np.full((64, 64, 1), 30, np.uint8)
    lab = np.zeros((64, 64), np.uint8)
    a, b = _blob((64, 64), (15, 15), 5), _blob((64, 64), (45, 48), 4)
    lab[a > 0] = 1
    lab[b > 0] = 1
    img[lab > 0] = 200
    patches = cut_defects(img, lab, patch=24, margin=2, min_pixels=4)
    assert len(patches) == 2
    assert sorted(int(p.mask.sum()) for p in patches) == sorted([int(a.sum()), int(b.sum())])
    for p in patches:
        assert p.image.shape == (24, 24, 1) and p.mask.shape == (24, 24)
        assert np.all(p.image[p.mask > 0] == 200) and np.all(p.image[p.mask == 0] == 30)
    # small defects in an image corner still give full-size, aligned patches
    corner = np.zeros((64, 64), np.uint8)
    corner[0:3, 0:3] = 1
    corner[60:64, 30:34] = 1
    ps = cut_defects(img, corner, patch=48, margin=0, min_pixels=1)
    assert [(p.image.shape, p.mask.shape, int(p.mask.sum())) for p in ps] == [((48, 48, 1), (48, 48), 9),
                                                                             ((48, 48, 1), (48, 48), 16)]
    # a defect larger than the patch is scaled down, not cut off
    big = _blob((64, 64), (32, 32), 20)
    (p,) = cut_defects(img, big, patch=16, margin=0)
    assert p.mask.shape == (16, 16) and 0.6 < p.mask.mean() < 0.9


@pytest.mark.parametrize("family", ["none", "photometric", "geometric", "degradation"])
def test_augmented_patches_keep_image_and_mask_aligned(family):
    rng = np.random.default_rng(1)
    P = 24
    m = _blob((P, P), (12, 12), 6, rng)
    img = np.where(m[..., None] > 0, 220, 40).astype(np.uint8)
    bank = DefectBank("b", [cut_defects(img, m, P, 0)[0]], family)
    for _ in range(5):
        pi, pm = draw_patch(bank, family_pipeline(family), rng, (0.8, 1.2), 30)
        assert pm.sum() > 10
        inside = pi[..., 0][cv2.erode(pm, np.ones((3, 3), np.uint8)) > 0].astype(float).mean()
        outside = pi[..., 0][cv2.dilate(pm, np.ones((3, 3), np.uint8)) == 0].astype(float).mean()
        assert inside > outside + 60, (family, inside, outside)


# ----------------------------------------------------------------------------- hypergradient


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        return self.c2(torch.tanh(self.c1(x)))


def _unrolled_val(model, params, eps, x, y, xv, yv, P, loss_fn):
    """L_val(w - P * grad_w mean(eps * l(w))) with a differentiable inner step."""
    from torch.func import functional_call

    p = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    inner = (eps * loss_fn(functional_call(model, p, (x,)), y)).mean()
    g = torch.autograd.grad(inner, list(p.values()), create_graph=True)
    w1 = {k: p[k] - P[k] * gk for k, gk in zip(p, g)}
    return loss_fn(functional_call(model, w1, (xv,)), yv).mean()


def test_hypergradient_matches_autograd_and_finite_differences():
    torch.manual_seed(0)
    model = _Tiny().double()
    B = 5
    x = torch.rand(B, 1, 8, 8, dtype=torch.double)
    y = (torch.rand(B, 8, 8, dtype=torch.double) > 0.7).double()
    xv = torch.rand(3, 1, 8, 8, dtype=torch.double)
    yv = (torch.rand(3, 8, 8, dtype=torch.double) > 0.7).double()

    def loss_fn(lg, t):
        return per_sample_loss(lg, t, 2.0, 1.0)

    params = {k: p.detach() for k, p in model.named_parameters()}
    # a diagonal preconditioner like Adam's (different per weight)
    P = {k: 0.05 * (0.5 + torch.rand_like(v)) for k, v in params.items()}
    beta = torch.tensor([0.3, -0.2], dtype=torch.double)
    src = torch.tensor([0, 1, 1, 0, 1])

    def eps_of(b):
        return source_weights(b)[src]

    # the method: actual inner step, gradient of L_val there, central differences along P * g
    e = eps_of(beta)
    with torch.no_grad():
        from torch.func import functional_call
    p_req = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    inner = (e * loss_fn(functional_call(model, p_req, (x,)), y)).mean()
    g = torch.autograd.grad(inner, list(p_req.values()))
    w1 = {k: params[k] - P[k] * gk for k, gk in zip(params, g)}
    g_val, _ = val_gradient(model, w1, xv, yv, loss_fn)
    d = {k: P[k] * g_val[k] for k in g_val}
    infl = sample_influence(model, params, x, y, d, loss_fn, step=1e-5)

    # exact: autograd through the unrolled step with respect to each sample's weight
    e_req = e.clone().requires_grad_(True)
    exact = torch.autograd.grad(_unrolled_val(model, params, e_req, x, y, xv, yv, P, loss_fn), e_req)[0]
    assert torch.allclose(infl, exact, rtol=1e-5, atol=1e-10), (infl, exact)

    # finite differences of L_val(w'(e)) in each sample weight
    fd = []
    for i in range(B):
        de = torch.zeros(B, dtype=torch.double)
        de[i] = 1e-5
        hi = _unrolled_val(model, params, e + de, x, y, xv, yv, P, loss_fn).item()
        lo = _unrolled_val(model, params, e - de, x, y, xv, yv, P, loss_fn).item()
        fd.append((hi - lo) / 2e-5)
    assert np.allclose(infl.numpy(), fd, rtol=1e-4, atol=1e-10), (infl, fd)
    assert infl.abs().max() > 0

    # source logits: chain rule through e = S softmax(beta) equals finite differences in beta
    b_req = beta.clone().requires_grad_(True)
    (infl * eps_of(b_req)).sum().backward()
    for s in range(2):
        db = torch.zeros(2, dtype=torch.double)
        db[s] = 1e-5
        hi = _unrolled_val(model, params, eps_of(beta + db), x, y, xv, yv, P, loss_fn).item()
        lo = _unrolled_val(model, params, eps_of(beta - db), x, y, xv, yv, P, loss_fn).item()
        assert abs(b_req.grad[s].item() - (hi - lo) / 2e-5) <= 1e-4 * abs((hi - lo) / 2e-5) + 1e-10


def test_heatmap_starts_uniform():
    net = HeatmapNet(1, 8, 6)
    p = net.log_probs(torch.rand(2, 1, 24, 24)).exp()
    assert torch.allclose(p, torch.full_like(p, 1 / 36))


# ----------------------------------------------------------------------------- toy problems
