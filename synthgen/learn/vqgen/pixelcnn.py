"""Gated PixelCNN prior over VQ-VAE code maps (van den Oord et al., 2016), optionally class-conditioned.

Causality is built from shifted, padded convolutions rather than weight masks, so there is no
blind spot and no leak:

- the *vertical* stack at row ``i`` only sees rows ``< i`` (first layer: kernel ``(k//2+1, k)``
  over rows ``i-k//2-1 .. i-1``; later layers see rows ``.. i`` of a stack that is itself strictly
  above);
- the *horizontal* stack at ``(i, j)`` sees row ``i``, columns ``< j`` in the first layer
  (mask type A) and columns ``<= j`` of the previous horizontal output in later layers (type B),
  plus the vertical stack of the same row (which only holds rows above).

So output ``(i, j)`` depends exactly on the positions before ``(i, j)`` in raster order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedLayer(nn.Module):
    """One gated layer with a vertical and a horizontal stack; ``mask_type`` 'A' (first) or 'B'."""

    def __init__(self, channels: int, kernel: int = 5, mask_type: str = "B", num_classes: int = 0):
        super().__init__()
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.mask_type, self.k = mask_type, kernel
        self.kh = kernel // 2 + 1      # vertical kernel height
        self.kw = kernel // 2 + 1      # horizontal kernel width
        c = channels
        self.v_conv = nn.Conv2d(c, 2 * c, (self.kh, kernel))
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_conv = nn.Conv2d(c, 2 * c, (1, self.kw))
        self.h_out = nn.Conv2d(c, c, 1)
        self.cond = nn.Embedding(num_classes, 2 * c) if num_classes > 0 else None

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, v: torch.Tensor, h: torch.Tensor, cls: torch.Tensor | None = None):
        H, W = v.shape[-2:]
        half = self.k // 2
        if self.mask_type == "A":
            # rows i-kh .. i-1 (strictly above), columns j-half .. j+half
            v_pre = self.v_conv(F.pad(v, (half, half, self.kh, 0)))[:, :, :H]
            # row i, columns j-kw .. j-1 (strictly left)
            h_pre = self.h_conv(F.pad(h, (self.kw, 0, 0, 0)))[:, :, :, :W]
        else:
            # rows i-kh+1 .. i of a stack that only holds rows above
            v_pre = self.v_conv(F.pad(v, (half, half, self.kh - 1, 0)))
            # columns j-kw+1 .. j of the previous horizontal output
            h_pre = self.h_conv(F.pad(h, (self.kw - 1, 0, 0, 0)))
        h_pre = h_pre + self.v_to_h(v_pre)
        if self.cond is not None and cls is not None:
            bias = self.cond(cls)[:, :, None, None]
            v_pre, h_pre = v_pre + bias, h_pre + bias
        v_new = self._gate(v_pre)
        h_new = self.h_out(self._gate(h_pre))
        if self.mask_type == "B":
            h_new = h_new + h     # residual (type A's input holds the current position: no residual)
        return v_new, h_new


class GatedPixelCNN(nn.Module):
    """Autoregressive prior p(codes) = prod p(c_ij | c_<ij, class) over a code map of ``num_codes``."""

    def __init__(self, num_codes: int, channels: int = 64, layers: int = 8, kernel: int = 5,
                 num_classes: int = 0):
        super().__init__()
        self.num_codes, self.num_classes = num_codes, num_classes
        self.embed = nn.Embedding(num_codes, channels)
        self.layers = nn.ModuleList(
            GatedLayer(channels, kernel, "A" if i == 0 else "B", num_classes) for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, num_codes, 1))

    def forward_embedded(self, x: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, K, H, W) from embedded inputs (B, C, H, W): used by the causality tests."""
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, cls)
        return self.head(h)

    def forward(self, codes: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """(B, H, W) code indices -> logits (B, K, H, W)."""
        return self.forward_embedded(self.embed(codes).permute(0, 3, 1, 2), cls)

    def loss(self, codes: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood per code (nats)."""
        return F.cross_entropy(self(codes, cls), codes)

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], cls: torch.Tensor | None = None,
               generator: torch.Generator | None = None, temperature: float = 1.0,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw ``n`` code maps of ``shape`` in raster order; deterministic for a seeded generator."""
        H, W = shape
        codes = torch.zeros(n, H, W, dtype=torch.long, device=device)
        for i in range(H):
            for j in range(W):
                # rows below i cannot influence row i: run the network on rows <= i only
                logits = self(codes[:, : i + 1], cls)[:, :, i, j] / temperature
                probs = torch.softmax(logits.float(), dim=1)
                codes[:, i, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return codes
