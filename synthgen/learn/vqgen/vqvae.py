"""Vector-quantised VAE over joined image + mask channels.

The input is the image (1 or 3 channels, scaled to [-1, 1]) with the defect mask as one more
channel ({-1, 1}). The encoder maps it to a ``size / 2**downsample`` grid of vectors, each
replaced by its nearest codebook entry; the decoder maps the quantised grid back to the image
channels (regression) and one mask logit channel. The codebook is updated either by
exponential moving averages (``ema=True``) or by the codebook loss of van den Oord et al.
(2017); the encoder always gets the commitment loss. Usage of each code is tracked, and codes
unused for ``dead_code_steps`` training steps can be re-initialised from random encoder outputs
of the current batch (``VectorQuantizer.revive``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int, dim: int, commitment: float = 0.25, ema: bool = True,
                 decay: float = 0.95, eps: float = 1e-5):
        super().__init__()
        self.num_codes, self.dim = num_codes, dim
        self.commitment, self.ema, self.decay, self.eps = commitment, ema, decay, eps
        embed = torch.empty(num_codes, dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if ema:
            self.register_buffer("embed", embed)
            self.register_buffer("cluster_size", torch.zeros(num_codes))
            self.register_buffer("embed_avg", embed.clone())
        else:
            self.embed = nn.Parameter(embed)
        # training steps since each code was last chosen, and total use counts (reporting)
        self.register_buffer("idle_steps", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("usage", torch.zeros(num_codes, dtype=torch.long))
        self._last_flat: torch.Tensor | None = None

    def codes_of(self, flat: torch.Tensor) -> torch.Tensor:
        """Nearest code index of each row of ``flat`` (N, D)."""
        e = self.embed
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
        return d.argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, H, W) code indices -> (B, D, H, W) code vectors."""
        return F.embedding(codes, self.embed).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        B, D, H, W = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, D)
        codes = self.codes_of(flat.detach())
        onehot = F.one_hot(codes, self.num_codes).type(flat.dtype)
        counts = onehot.sum(0)
        if self.training:
            with torch.no_grad():
                used = counts > 0
                self.idle_steps += 1
                self.idle_steps[used] = 0
                self.usage += counts.long()
                self._last_flat = flat.detach()
                if self.ema:
                    self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
                    self.embed_avg.mul_(self.decay).add_(onehot.t() @ flat.detach(), alpha=1 - self.decay)
                    n = self.cluster_size.sum()
                    size = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
                    self.embed.copy_(self.embed_avg / size[:, None])
        q = F.embedding(codes, self.embed)
        commit = F.mse_loss(flat, q.detach())
        codebook = torch.zeros((), device=z.device) if self.ema else F.mse_loss(q, flat.detach())
        loss = self.commitment * commit + codebook
        q = flat + (q - flat).detach()  # straight-through estimator
        probs = counts / counts.sum()
        perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
        return {"z_q": q.reshape(B, H, W, D).permute(0, 3, 1, 2).contiguous(), "codes": codes.reshape(B, H, W),
                "vq_loss": loss, "commit": commit.detach(), "codebook": codebook.detach(),
                "perplexity": perplexity.detach(), "active": (counts > 0).sum().detach()}

    @torch.no_grad()
    def revive(self, min_idle: int, generator: torch.Generator | None = None) -> int:
        """Re-initialise codes idle for >= ``min_idle`` steps from random encoder outputs of the last
        training batch. Returns how many codes were revived."""
        if min_idle <= 0 or self._last_flat is None:
            return 0
        dead = (self.idle_steps >= min_idle).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        flat = self._last_flat
        gen_dev = generator.device if generator is not None else flat.device
        pick = torch.randint(0, flat.shape[0], (dead.numel(),), generator=generator, device=gen_dev)
        new = flat[pick.to(flat.device)]
        noise = torch.randn(new.shape, generator=generator, device=gen_dev).to(flat.device)
        new = new + 0.01 * new.std().clamp_min(1e-3) * noise
        self.embed[dead] = new
        if self.ema:
            self.embed_avg[dead] = new
            self.cluster_size[dead] = 1.0
        self.idle_steps[dead] = 0
        return int(dead.numel())


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        return x + self.net(x)


class VQVAE(nn.Module):
    """Encoder -> VectorQuantizer -> decoder over ``channels`` image channels + 1 mask channel."""

    def __init__(self, channels: int = 1, hidden: int = 64, downsample: int = 2, res_blocks: int = 2,
                 num_codes: int = 128, embed_dim: int = 32, commitment: float = 0.25, ema: bool = True,
                 decay: float = 0.95):
        super().__init__()
        self.channels, self.downsample = channels, downsample
        enc: list[nn.Module] = []
        c = channels + 1
        for i in range(downsample):
            out = hidden if i == downsample - 1 else max(hidden // 2, 8)
            enc += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c = out
        enc += [nn.Conv2d(c, hidden, 3, padding=1)]
        enc += [ResBlock(hidden) for _ in range(res_blocks)]
        enc += [nn.ReLU(), nn.Conv2d(hidden, embed_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.vq = VectorQuantizer(num_codes, embed_dim, commitment, ema, decay)
        dec: list[nn.Module] = [nn.Conv2d(embed_dim, hidden, 3, padding=1)]
        dec += [ResBlock(hidden) for _ in range(res_blocks)]
        dec += [nn.ReLU()]
        c = hidden
        for i in range(downsample):
            last = i == downsample - 1
            out = channels + 1 if last else max(hidden // 2, 8)
            dec += [nn.ConvTranspose2d(c, out, 4, stride=2, padding=1)]
            if not last:
                dec += [nn.ReLU()]
            c = out
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: (B, C+1, S, S), image in [-1, 1], mask in {-1, 1}."""
        out = self.vq(self.encoder(x))
        y = self.decoder(out["z_q"])
        out["image"] = y[:, : self.channels]
        out["mask_logits"] = y[:, self.channels]
        return out

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C+1, S, S) -> (B, h, w) code indices."""
        z = self.encoder(x)
        B, D, H, W = z.shape
        return self.vq.codes_of(z.permute(0, 2, 3, 1).reshape(-1, D)).reshape(B, H, W)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, h, w) codes -> image (B, C, S, S) in [-1, 1] and mask probability (B, S, S)."""
        y = self.decoder(self.vq.lookup(codes))
        return y[:, : self.channels].clamp(-1, 1), torch.sigmoid(y[:, self.channels])


def recon_losses(out: dict[str, torch.Tensor], x: torch.Tensor, channels: int, mask_weight: float,
                 defect_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Image MSE and mask BCE, both weighted ``defect_weight`` inside the true mask."""
    target_img = x[:, :channels]
    target_mask = (x[:, channels] > 0).float()
    w = 1.0 + (defect_weight - 1.0) * target_mask
    w = w / w.mean()
    mse = ((out["image"] - target_img) ** 2).mean(1)
    img_loss = (mse * w).mean()
    bce = F.binary_cross_entropy_with_logits(out["mask_logits"], target_mask, reduction="none")
    return img_loss, mask_weight * (bce * w).mean()
