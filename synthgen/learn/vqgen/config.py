"""Pydantic model of the ``synthgen vqgen train`` config (VQ-VAE + PixelCNN joint image+mask generation).

Sections: ``data`` (where the few labelled images come from, crop/resize policy), ``vqvae``
(autoencoder and codebook), ``pixelcnn`` (the prior over code maps), ``train`` (steps, seed,
device), ``sample`` (mask threshold and filtering of degenerate masks). Relative paths resolve
against the config file's folder. Full reference: docs/vqgen.md; schema: ``synthgen vqgen schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synthgen.learn.common.config import _Model, _resolve


def _json_node(data, key: str):
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class PairDataConfig(_Model):
    """The few labelled images (and optional healthy ones) and how training inputs are cut from them."""

    kind: Literal["folder", "split"] = Field(
        description="folder: the generic image+mask format (path/images/<name>.*, path/masks/<name>.png); "
                    "split: a split json whose lists hold {image, mask, class} entries (magnetic tile)")
    path: str = Field(description="folder root (folder) or split json (split); relative to the config file")
    keys: list[str] = Field(default_factory=list, description="split only: dotted keys of the lists of "
                                                              "defective images, e.g. [limited_train_10]")
    healthy_keys: list[str] = Field(default_factory=list, description="split only: dotted keys of lists of "
                                                                      "defect-free images used for healthy crops, "
                                                                      "e.g. [healthy.train]")
    healthy_limit: int | None = Field(default=20, ge=1, description="use at most this many healthy images "
                                                                    "(first in list order); null = all")
    images_root: str | None = Field(default=None, description="split only: folder the json's paths are "
                                                              "relative to (default: the json's folder)")
    mask_threshold: int = Field(default=127, ge=0, le=254, description="mask grey value > threshold is "
                                                                     "defect (0..255 scale)")
    channels: Literal[1, 3] = Field(default=1, description="image channels: 1 greyscale, 3 RGB (the mask "
                                                           "is one more channel)")
    mode: Literal["crop", "resize"] = Field(
        default="crop", description="crop: square patches cut at native scale around defects (and anywhere "
                                    "on healthy images); resize: whole images stretched to size x size")
    size: int = Field(default=64, ge=16, le=512, description="side of the square training input in pixels; "
                                                             "must be divisible by 2**vqvae.downsample")
    crop_scale: tuple[float, float] = Field(
        default=(1.0, 1.0), description="crop mode: the crop side in source pixels is size x U(a, b), then "
                                        "resized to size (1, 1 = native scale)")
    defect_jitter: float = Field(default=0.35, ge=0, le=0.5, description="crop mode: max offset of a random "
                                                                          "defect pixel from the crop centre, "
                                                                          "fraction of the crop side")
    healthy_fraction: float = Field(default=0.25, ge=0, lt=1, description="share of training crops cut from "
                                                                          "healthy images (needs healthy_keys)")
    flips: bool = Field(default=True, description="random horizontal/vertical flips and 90-degree rotations "
                                                  "of training inputs")
    class_name: str = Field(default="defect", description="class of entries that name none (folder source)")

    @field_validator("path", "images_root")
    @classmethod
    def _paths(cls, v, info: ValidationInfo):
        return _resolve(v, info)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo):
        if self.crop_scale[0] <= 0 or self.crop_scale[1] < self.crop_scale[0]:
            raise ValueError(f"crop_scale: need 0 < a <= b, got {list(self.crop_scale)}")
        if (info.context or {}).get("from_checkpoint"):
            return self  # a checkpoint's config: the training data need not exist where it is sampled
        p = Path(self.path)
        if self.kind == "folder":
            if self.keys or self.healthy_keys:
                raise ValueError("keys: only split sources take keys / healthy_keys")
            if not (p / "images").is_dir() or not (p / "masks").is_dir():
                raise ValueError(f"path: {p} needs images/ and masks/ folders (generic image+mask format)")
        else:
            if not p.is_file():
                raise ValueError(f"path: split file not found: {p}")
            if not self.keys:
                raise ValueError("keys: a split source needs at least one key, e.g. [limited_train_10]")
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"path: cannot read split file {p}: {exc}") from None
            for field, keys in (("keys", self.keys), ("healthy_keys", self.healthy_keys)):
                for k in keys:
                    if not isinstance(_json_node(data, k), list):
                        raise ValueError(f"{field}: '{k}' is not a list in {p.name}")  # noqa: TRY004
        return self


class VQVAEConfig(_Model):
    hidden: int = Field(default=64, ge=8, le=512, description="channels of the encoder/decoder convolutions")
    downsample: int = Field(default=2, ge=1, le=4, description="number of stride-2 stages: code map side = "
                                                               "size / 2**downsample")
    res_blocks: int = Field(default=2, ge=0, le=8, description="residual blocks at code resolution "
                                                               "(encoder and decoder each)")
    codebook_size: int = Field(default=128, ge=2, le=4096, description="number of codes K")
    embed_dim: int = Field(default=32, ge=2, le=512, description="dimension of each code vector")
    commitment: float = Field(default=0.25, ge=0, description="commitment loss weight beta")
    ema: bool = Field(default=True, description="update the codebook by exponential moving averages (else "
                                                "by a codebook loss)")
    ema_decay: float = Field(default=0.95, gt=0, lt=1, description="EMA decay of codebook statistics")
    dead_code_steps: int = Field(default=100, ge=0, description="re-initialise codes unused for this many "
                                                                "training steps from random encoder outputs "
                                                                "(0 = never)")
    mask_weight: float = Field(default=1.0, ge=0, description="weight of the mask-channel BCE loss relative "
                                                              "to the image MSE loss")
    defect_weight: float = Field(default=5.0, ge=1, description="reconstruction loss weight of pixels inside "
                                                                "the defect mask (small defects matter)")


class PixelCNNConfig(_Model):
    channels: int = Field(default=64, ge=8, le=512, description="channels of the gated stacks")
    layers: int = Field(default=8, ge=1, le=32, description="gated layers (first is mask type A, then B)")
    kernel: int = Field(default=5, ge=3, le=11, description="kernel size of the stacks (odd)")
    conditional: bool = Field(default=True, description="condition on the defect class (healthy crops are "
                                                        "the class 'healthy')")

    @field_validator("kernel")
    @classmethod
    def _odd(cls, v):
        if v % 2 == 0:
            raise ValueError(f"must be odd, got {v}")
        return v


class VQTrainConfig(_Model):
    vqvae_steps: int = Field(default=2000, ge=1, description="VQ-VAE optimisation steps")
    prior_steps: int = Field(default=2000, ge=1, description="PixelCNN optimisation steps")
    batch_size: int = Field(default=32, ge=1, description="inputs per step")
    lr: float = Field(default=2e-3, gt=0, description="Adam learning rate of the VQ-VAE")
    prior_lr: float = Field(default=2e-3, gt=0, description="Adam learning rate of the PixelCNN")
    seed: int = Field(default=0, ge=0, description="seed of weights, crops and batches")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto = cuda if available")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: torch's choice)")
    log_every: int = Field(default=50, ge=1, description="steps between loss-curve points")


class SampleConfig(_Model):
    threshold: float = Field(default=0.5, gt=0, lt=1, description="mask probability above which a decoded "
                                                                  "pixel is defect")
    min_mask_pixels: int = Field(default=8, ge=0, description="a defect-class sample whose mask has fewer "
                                                              "pixels is degenerate (empty)")
    max_mask_fraction: float = Field(default=0.9, gt=0, le=1, description="a sample whose mask covers more "
                                                                          "than this fraction is degenerate")
    on_degenerate: Literal["drop", "keep"] = Field(
        default="drop", description="drop: degenerate defect-class samples are not written (and more are "
                                    "drawn until N are kept); keep: written but flagged in samples.json")
    temperature: float = Field(default=1.0, gt=0, le=5, description="softmax temperature of the prior")
    batch_size: int = Field(default=64, ge=1, description="code maps drawn in parallel")
    max_tries: int = Field(default=5, ge=1, description="drop mode: draw at most this many x N samples")


class VQGenConfig(_Model):
    """``synthgen vqgen train`` config."""

    out: str = Field(default="out/vqgen", description="output folder: checkpoints/, curves, previews")
    data: PairDataConfig = Field(description="training images and crop policy")
    vqvae: VQVAEConfig = Field(default_factory=VQVAEConfig, description="autoencoder and codebook")
    pixelcnn: PixelCNNConfig = Field(default_factory=PixelCNNConfig, description="prior over code maps")
    train: VQTrainConfig = Field(default_factory=VQTrainConfig, description="optimisation, seed, device")
    sample: SampleConfig = Field(default_factory=SampleConfig, description="defaults of `vqgen sample`")

    @field_validator("out")
    @classmethod
    def _out(cls, v, info: ValidationInfo):
        return _resolve(v, info)

    @model_validator(mode="after")
    def _sizes(self):
        f = 2 ** self.vqvae.downsample
        if self.data.size % f:
            raise ValueError(f"data.size: {self.data.size} is not divisible by 2**vqvae.downsample = {f}")
        if self.data.size // f < 2:
            raise ValueError(f"data.size: code map would be smaller than 2x2 ({self.data.size} / {f})")
        return self


def vqgen_schema() -> dict:
    return VQGenConfig.model_json_schema()
