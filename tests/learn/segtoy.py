"""Helpers of the segmentation tests: a toy blob dataset (bright discs on a dark background), a
tiny config, the magnetic-tile path. Test modules import the fixtures from here."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MAGNETIC_TILE = REPO.parent / "shared" / "data" / "magnetic_tile"


def write_blobs(folder: Path, n: int, seed: int, size: int = 48, healthy_every: int = 4) -> None:
    """Bright discs on a dark noisy background with same-named 0/255 masks; every
    ``healthy_every``-th image has no disc (healthy)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.normal(40, 12, (size, size)).clip(0, 255)
        mask = np.zeros((size, size), np.uint8)
        if healthy_every == 0 or i % healthy_every:
            for _ in range(rng.integers(1, 3)):
                r = int(rng.integers(3, 8))
                cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
                cv2.circle(mask, (cx, cy), r, 255, -1)
        img[mask > 0] += 120
        cv2.imwrite(str(folder / f"img_{i:03d}.jpg"), img.clip(0, 255).astype(np.uint8))
        cv2.imwrite(str(folder / f"img_{i:03d}.png"), mask)


@pytest.fixture(scope="session")
def blobs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blobs")
    write_blobs(root / "train", 24, seed=1)
    write_blobs(root / "test", 12, seed=2)
    return root


def toy_config(blobs: Path, out: Path, **train) -> dict:
    cfg = {
        "out": str(out),
        "sources": {"train": {"kind": "folder", "path": str(blobs / "train")},
                    "test": {"kind": "folder", "path": str(blobs / "test")}},
        "data": {"size": [48, 48], "policy": "resize"},
        "model": {"depth": 2, "width": 8},
        "train": {"mix": [{"source": "train"}], "val": ["test"], "epochs": 6, "batch_size": 4, "lr": 0.01,
                  "seed": 3, "device": "cpu", **train},
        "augment": {"affine": 0.3, "noise": 0.2, "blur": 0.0, "contrast": 0.2},
        "eval": {"test_sets": {"blobs": ["test"]}},
    }
    return cfg


@pytest.fixture
def toy_cfg_file(blobs, tmp_path):
    def _write(**train) -> Path:
        p = tmp_path / "seg.yaml"
        p.write_text(yaml.safe_dump(toy_config(blobs, tmp_path / "out", **train), sort_keys=False))
        return p

    return _write
