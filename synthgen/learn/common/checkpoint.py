"""Checkpoints: the one reader of ``.pt`` files, and a U-Net rebuilt from a checkpoint.

A segmentation checkpoint holds the U-Net weights (``model``, or ``unet`` for a bi-level run's
``model.pt``) and the config it was trained with (``config.data`` and ``config.model``), so
``seg eval`` and ``seg predict`` accept both.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synthgen.errors import SynthgenError
from synthgen.learn.common.config import DataConfig, ModelConfig
from synthgen.learn.common.unet import UNet


def build_model(model: ModelConfig, data: DataConfig, seed: int) -> UNet:
    """U-Net with weights initialised from ``seed`` (global torch RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet(data.channels, 1 if data.binary else data.num_classes, model.depth, model.width,
                    thin=model.thin, max_width=model.max_width,
                    decision_head=model.decision_head, decision_detach=model.decision_detach)


def read_checkpoint(path: Path | str) -> dict:
    """The one reader of synthgen ``.pt`` files: a dict, or a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file for the user
        raise SynthgenError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ck, dict):
        raise SynthgenError(f"{path}: not a synthgen checkpoint")
    return ck


def load_checkpoint(path: Path | str) -> dict:
    """A U-Net checkpoint: ``seg train``'s ``last.pt`` / ``best.pt`` or a bi-level run's ``model.pt``."""
    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"{path}: checkpoint not found (train first: synthgen seg train CONFIG)")
    ck = read_checkpoint(path)
    cfg = ck.get("config") if isinstance(ck.get("config"), dict) else {}
    if not ("model" in ck or "unet" in ck) or "data" not in cfg or "model" not in cfg:
        raise SynthgenError(f"{path}: not a segmentation checkpoint (expected one written by `seg train` or "
                            f"`bilevel train`; a vqgen checkpoint is used by `vqgen sample`)")
    return ck


def model_from_checkpoint(ck: dict, device: torch.device) -> tuple[UNet, DataConfig]:
    data = DataConfig.model_validate(ck["config"]["data"])
    model = build_model(ModelConfig.model_validate(ck["config"]["model"]), data, 0)
    model.load_state_dict(ck["model"] if "model" in ck else ck["unet"])
    return model.to(device, memory_format=torch.channels_last).eval(), data
