"""U-Net shapes for depth/width variants and odd input sizes."""

from __future__ import annotations

import pytest
import torch

from synthgen.learn.common.unet import UNet, count_parameters


@pytest.mark.parametrize("depth,width,thin", [(1, 4, False), (3, 8, False), (4, 8, True)])
@pytest.mark.parametrize("hw", [(32, 32), (37, 53)])
def test_output_shape_matches_input(depth, width, thin, hw):
    net = UNet(in_channels=3, num_classes=2, depth=depth, width=width, thin=thin).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, *hw))
    assert y.shape == (2, 2, *hw)


def _conv_macs(net: torch.nn.Module, hw=(256, 256)) -> int:
    """Multiply-accumulates of all (transposed) convolutions for one greyscale image."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        total += k * out.numel() if isinstance(mod, torch.nn.Conv2d) else k * inp[0].numel() // mod.in_channels * mod.out_channels

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, *hw))
    for h in hs:
        h.remove()
    return total


def test_thin_variant_needs_far_less_compute_at_the_same_width():
    std, thin = UNet(1, 1, 4, 16), UNet(1, 1, 4, 16, thin=True)
    assert _conv_macs(thin) < 0.25 * _conv_macs(std)
    assert count_parameters(thin) < 0.6 * count_parameters(std)
