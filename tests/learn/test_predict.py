"""Predictions line up with the original masks under every size policy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from synthgen.learn.common.checkpoint import build_model
from synthgen.learn.common.config import DataConfig, ModelConfig, SourceConfig
from synthgen.learn.common.data import SegDataset
from synthgen.learn.common.loop import predict_dataset
from synthgen.learn.common.sources import read_source


@pytest.mark.parametrize("policy", ["resize", "letterbox", "crop"])
@pytest.mark.parametrize("resolution", ["original", "network"])
def test_prediction_and_ground_truth_have_the_same_shape(tmp_path, policy, resolution):
    for i, (h, w) in enumerate([(40, 60), (50, 30)]):
        mask = np.zeros((h, w), np.uint8)
        mask[5:15, 5:20] = 255
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), np.full((h, w), 60, np.uint8))
        cv2.imwrite(str(tmp_path / f"{i}.png"), mask)
    data = DataConfig(size=(32, 32), policy=policy)
    ds = SegDataset(read_source(SourceConfig(kind="folder", path=str(tmp_path)), "t"), data)
    head = policy != "resize"  # a model with and without a decision head
    net = build_model(ModelConfig(depth=2, width=4, decision_head=head), data, 0)
    out = list(predict_dataset(net, ds, 2, resolution, torch.device("cpu")))
    assert len(out) == 2
    for (name, gt, prob, p_head), orig in zip(out, [(40, 60), (50, 30)]):
        assert prob.shape == gt.shape
        assert (p_head is None) if not head else 0 < p_head < 1
        if resolution == "original" or policy == "crop":
            assert gt.shape == orig and gt.sum() == 150  # the full-size mask, not a resized one
        assert 0 <= prob.min() and prob.max() <= 1
