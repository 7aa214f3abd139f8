"""U-Net in plain torch with configurable depth and width (no torchvision).

``UNet(in_channels, num_classes, depth, width)``: ``depth`` 2x down-sampling stages, ``width``
channels at full resolution doubling per stage (capped by ``max_width``); each stage is two
3x3 conv + BatchNorm + ReLU, skips are concatenated after a 2x transposed convolution.

``thin=True`` is the fast variant for high-resolution real-time inference: the encoder starts
with a stride-2 3x3 stem, so every stage runs at half the resolution of the standard net, each
stage has one conv instead of two, and full resolution is restored by a transposed convolution
to ``width // 2`` channels concatenated with the input image and one 3x3 conv. At 512x512 on a
2-core CPU it is several times faster than the standard net of the same width (see
``benchmarks/seg_throughput.py``); fine detail of one-pixel-wide defects suffers somewhat.

``decision_head=True`` adds the image-level OK/NG classifier of the segmentation-based decision
networks (Tabernik et al. 2020; mixed supervision, Bozic et al. 2021): the last decoder features
and the segmentation logits pass three (max-pool, 3x3 conv) stages and a 1x1 conv to a coarse map
of decision logits, whose global maximum is the image's logit. The maximum makes it independent
of the image size (trained on crops, applied to whole photos). Its input is detached, as in the
mixed-supervision paper's gradient-flow adjustment: the decision loss does not move the
segmentation features, so pixel accuracy is what the segmentation loss alone makes it
(``decision_detach=False`` lets it shape them).

Inputs of any size work: they are padded to a multiple of the total stride and cropped back.
Output logits (B, num_classes, H, W); for binary segmentation use num_classes = 1.
``forward_with_decision`` also returns the decision logits (B,) (None without a head).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, convs: int):
        super().__init__(_conv(cin, cout), *[_conv(cout, cout) for _ in range(convs - 1)])


class UNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 1, depth: int = 4, width: int = 32,
                 thin: bool = False, max_width: int = 512, decision_head: bool = False,
                 decision_detach: bool = True):
        super().__init__()
        if depth < 1 or width < 2:
            raise ValueError("depth must be >= 1 and width >= 2")
        self.depth, self.thin, self.decision_detach = depth, thin, decision_detach
        convs = 1 if thin else 2
        chans = [min(width * 2**i, max_width) for i in range(depth + 1)]
        self.stem = _conv(in_channels, chans[0], stride=2) if thin else None
        self.downs = nn.ModuleList()
        cin = chans[0] if thin else in_channels
        for c in chans[:-1]:
            self.downs.append(_Block(cin, c, convs))
            cin = c
        self.bottom = _Block(chans[-2], chans[-1], convs)
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in range(depth, 0, -1):
            self.ups.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 2, stride=2))
            self.up_blocks.append(_Block(2 * chans[i - 1], chans[i - 1], convs))
        if thin:
            half = max(width // 2, 2)
            self.full_up = nn.ConvTranspose2d(chans[0], half, 2, stride=2)
            self.full = _conv(half + in_channels, half)
            self.head = nn.Conv2d(half, num_classes, 1)
        else:
            self.head = nn.Conv2d(chans[0], num_classes, 1)
        feat = max(width // 2, 2) if thin else chans[0]
        self.decision = nn.Sequential(
            nn.MaxPool2d(2), _conv(feat + num_classes, 16), nn.MaxPool2d(2), _conv(16, 32), nn.MaxPool2d(2),
            _conv(32, 32), nn.Conv2d(32, 1, 1)) if decision_head else None

    @property
    def stride(self) -> int:
        """Input sizes are padded to a multiple of this."""
        return 2 ** (self.depth + int(self.thin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> logits (B, num_classes, H, W)."""
        return self.forward_with_decision(x, decision=False)[0]

    def _trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The padded input through the U-Net: (last decoder features, segmentation logits)."""
        inp = x
        if self.stem is not None:
            x = self.stem(x)
        skips = []
        for block in self.downs:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        if self.thin:
            x = self.full(torch.cat([self.full_up(x), inp], dim=1))
        return x, self.head(x)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.stride
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "constant")
        return x

    def decision_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) -> (the decision head's input, segmentation logits (B, K, H, W)). The
        padded rows and columns are left out of the head's input; a crop smaller than 8 px still
        keeps one cell."""
        h, w = x.shape[-2:]
        feats, logits = self._trunk(self._pad(x))
        return torch.cat([feats, logits], dim=1)[..., :max(h, 8), :max(w, 8)], logits[..., :h, :w]

    def decide(self, head_input: torch.Tensor) -> torch.Tensor:
        """The image logits (B,) of head inputs: the global maximum of the head's logit map."""
        return self.decision(head_input).amax(dim=(1, 2, 3))

    def forward_with_decision(self, x: torch.Tensor, decision: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, C, H, W) -> (logits (B, num_classes, H, W), decision logits (B,) or None)."""
        if not (decision and self.decision is not None):
            h, w = x.shape[-2:]
            return self._trunk(self._pad(x))[1][..., :h, :w], None
        feats, logits = self.decision_input(x)
        feats = feats.detach() if self.decision_detach else feats
        return logits, self.decide(feats)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
