"""The shipped configs read the real magnetic-tile data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from segtoy import MAGNETIC_TILE, REPO

from synthgen.config.loading import load_config
from synthgen.learn.common.data import build_dataset
from synthgen.learn.seg.config import ExperimentConfig, SegConfig

pytestmark = [pytest.mark.data, pytest.mark.skipif(
    not (MAGNETIC_TILE / "split.json").is_file(),
    reason=f"real data not found: {MAGNETIC_TILE} (the shared magnetic-tile benchmark, see ../shared/data/README.md)")]


def test_shipped_configs_read_the_split_file():
    cfg = load_config(REPO / "configs" / "seg_magnetic_tile.yaml", SegConfig)
    exp = load_config(REPO / "configs" / "seg_experiment_magnetic_tile.yaml", ExperimentConfig)
    assert set(exp.eval.test_sets) == set(cfg.eval.test_sets)
    limited = build_dataset(["real_limited"], cfg.sources, cfg.data)
    assert len(limited) == 10
    classes = {e.image.parent.parent.name for e in limited.entries}
    assert classes == {"MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"}
    s = limited[0]
    assert s.image.shape == (*cfg.data.size, 1) and s.label.shape == tuple(cfg.data.size)
    assert 0 < s.label.mean() < 0.5  # a defect, thresholded at > 127, not the whole image
    gt = limited.original_label(0)
    assert gt.shape == s.orig_hw and set(np.unique(gt)) <= {0, 1}


def test_healthy_test_images_have_empty_masks():
    cfg = load_config(REPO / "configs" / "seg_magnetic_tile.yaml", SegConfig)
    healthy = build_dataset(["healthy_test"], cfg.sources, cfg.data)
    assert len(healthy) == 182
    assert all(healthy.original_label(i).max() == 0 for i in range(0, 182, 30))
