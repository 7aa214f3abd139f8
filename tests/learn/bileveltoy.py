"""Helpers of the bi-level tests: a blob drawer, toy datasets where one defect source is noise
(``noise_toy``) or defects sit in one region (``region_toy``), their configs and a one-thread
fixture. Test modules import the fixtures from here."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from synthgen.learn.bilevel.config import BilevelConfig


def _blob(shape, center, radius, rng=None):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = radius
    if rng is not None:
        ang = np.arctan2(yy - center[0], xx - center[1])
        r = radius * (1 + 0.25 * np.sin(3 * ang + rng.uniform(0, 6)))
    return ((yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= r ** 2).astype(np.uint8)


@pytest.fixture
def one_thread():
    """The toy runs are checked at a fixed seed and thread count: float reductions (and so the
    sampled trajectory) depend on the number of threads."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _write(folder: Path, name: str, img: np.ndarray, mask: np.ndarray) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "images" / f"{name}.png"), img)
    cv2.imwrite(str(folder / "masks" / f"{name}.png"), mask.astype(np.uint8) * 255)


S = 32  # toy image side


def _layout_bg(rng) -> np.ndarray:
    """'Part' region (top-left quadrant, mid grey, fine noise) on a 'belt' (dark, coarse noise)."""
    belt = cv2.resize(rng.normal(45, 12, (S // 4, S // 4)), (S, S), interpolation=cv2.INTER_LINEAR)
    img = belt + rng.normal(0, 3, (S, S))
    img[: S // 2, : S // 2] = 120 + rng.normal(0, 6, (S // 2, S // 2))
    return np.clip(img, 0, 255)


def _add_blob(img, mask, center, radius, rng, value=230):
    b = _blob(img.shape, center, radius, rng)
    img[b > 0] = value
    if mask is not None:
        mask[b > 0] = 1


def _toy_config(root: Path, defects: dict, runs: list[str], steps: int, extra_learn: dict | None = None,
                real: bool = False) -> BilevelConfig:
    sources = {n: {"kind": "folder", "path": str(root / n / "images"), "mask_dir": str(root / n / "masks"),
                   "missing_mask": "healthy"} for n in ("bg", "val", *{s for d in defects.values()
                                                                         for s in d["sources"]})}
    if real:
        sources["real"] = {"kind": "folder", "path": str(root / "real" / "images"),
                           "mask_dir": str(root / "real" / "masks")}
    cfg = {
        "out": str(root / "out"), "sources": sources,
        "data": {"size": [S, S], "channels": 1, "cache": True},
        "model": {"depth": 2, "width": 8},
        "synthesis": {"defects": defects, "backgrounds": ["bg"], "real": ["real"] if real else [],
                      "real_fraction": 0.25 if real else 0.0, "healthy_fraction": 0.0, "patch": 12, "margin": 1, "min_pixels": 4,
                      "pastes": [1, 1], "feather": 0.0, "scale": [1.0, 1.0], "rotate": 0,
                      "flip_backgrounds": False},
        "learn": {"val": ["val"], "val_batch": 8, "grid": 4, "heatmap_lr": 0.01, "weights_lr": 0.1,
                  "entropy": 0.0, **(extra_learn or {})},
        "train": {"steps": steps, "batch_size": 8, "lr": 0.01, "seed": 0, "device": "cpu", "log_every": 10},
        "eval": {"test_sets": {"val": ["val"]}},
        "runs": runs,
    }
    return BilevelConfig.model_validate(cfg)


@pytest.fixture(scope="module")
def noise_toy(tmp_path_factory):
    """Backgrounds: dark texture. 'good' defects: bright blobs with their masks. 'noise': masks of
    random blobs on plain background texture (labels with nothing visible)."""
    root = tmp_path_factory.mktemp("noise_toy")
    rng = np.random.default_rng(0)

    def dark():
        return np.clip(rng.normal(50, 8, (S, S)), 0, 255)

    for i in range(24):
        _write(root / "bg", f"b{i}", dark().astype(np.uint8), np.zeros((S, S)))
    for i in range(12):
        img, m = dark(), np.zeros((S, S), np.uint8)
        _add_blob(img, m, rng.integers(8, S - 8, 2), rng.uniform(3, 5), rng)
        _write(root / "good", f"g{i}", img.astype(np.uint8), m)
        img2, m2 = dark(), np.zeros((S, S), np.uint8)
        _add_blob(np.zeros((S, S)), m2, rng.integers(8, S - 8, 2), rng.uniform(3, 5), rng)
        _write(root / "noise", f"n{i}", img2.astype(np.uint8), m2)
    for i in range(16):
        img, m = dark(), np.zeros((S, S), np.uint8)
        if i % 4:
            _add_blob(img, m, rng.integers(6, S - 6, 2), rng.uniform(3, 5), rng)
        _write(root / "val", f"v{i}", img.astype(np.uint8), m)
    return root


@pytest.fixture(scope="module")
def region_toy(tmp_path_factory):
    """Validation defects only ever occur on the 'part' (top-left quadrant); bright marks on the
    'belt' are not defects (unlabelled in validation and backgrounds)."""
    root = tmp_path_factory.mktemp("region_toy")
    rng = np.random.default_rng(1)

    def belt_marks(img):
        for _ in range(rng.integers(0, 3)):
            while True:  # anywhere on the belt, clear of the part
                c = rng.integers(4, S - 4, 2)
                if c[0] >= S // 2 + 4 or c[1] >= S // 2 + 4:
                    break
            _add_blob(img, None, c, rng.uniform(2.5, 4), rng)

    for i in range(32):
        img = _layout_bg(rng)
        belt_marks(img)
        _write(root / "bg", f"b{i}", img.astype(np.uint8), np.zeros((S, S)))
    for i in range(12):
        img, m = _layout_bg(rng), np.zeros((S, S), np.uint8)
        _add_blob(img, m, rng.integers(5, S // 2 - 5, 2), rng.uniform(2.5, 4), rng)
        _write(root / "defects", f"d{i}", img.astype(np.uint8), m)
    for i in range(16):
        img, m = _layout_bg(rng), np.zeros((S, S), np.uint8)
        _add_blob(img, m, rng.integers(5, S // 2 - 5, 2), rng.uniform(2.5, 4), rng)
        belt_marks(img)
        _write(root / "val", f"v{i}", img.astype(np.uint8), m)
    return root
