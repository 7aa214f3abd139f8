"""Inspection metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from synthgen.learn.common.metrics import (
    Box,
    DatasetMetrics,
    average_precision,
    boxes_from_mask,
    iou_dice,
    match_boxes,
    miou_customized,
    miou_standard,
)


def test_healthy_image_with_three_false_pixels():
    gt = np.zeros((100, 100), int)
    pred = gt.copy()
    pred[10, 10] = pred[50, 60] = pred[90, 5] = 1
    # background IoU = 9997/10000; defect IoU = 0/3 -> standard ~0.5, customized ~1.0
    assert miou_standard(gt, pred) == pytest.approx((9997 / 10000 + 0.0) / 2)
    assert miou_customized(gt, pred) == pytest.approx(9997 / 10000)
    # A big false positive (>= tolerance) is still punished by the customized metric.
    pred[20:30, 20:30] = 1
    assert miou_customized(gt, pred) < 0.6


def test_iou_dice_simple():
    gt = np.zeros((10, 10), int)
    gt[0:4, 0:5] = 1  # 20 px
    pred = np.zeros_like(gt)
    pred[2:6, 0:5] = 1  # 20 px, overlap 10
    iou, dice = iou_dice(gt, pred)
    assert iou == pytest.approx(10 / 30) and dice == pytest.approx(20 / 40)
    assert iou_dice(np.zeros_like(gt), np.zeros_like(gt)) == (1.0, 1.0)


def test_two_predictions_on_one_defect_count_one_tp_and_stray_is_fp():
    gt = np.zeros((40, 40), bool)
    gt[10:20, 10:20] = True
    gts = boxes_from_mask(gt)
    preds = [Box(12, 12, 14, 14, 0.9), Box(17, 17, 19, 19, 0.8), Box(30, 30, 35, 35, 0.95)]
    flags = match_boxes(preds, gts)
    assert flags == [True, False, False]


def test_box_confidence_is_max_probability_in_component():
    prob = np.zeros((20, 20))
    prob[2:5, 2:5] = 0.6
    prob[3, 3] = 0.97
    prob[10:12, 10:15] = 0.7
    boxes = boxes_from_mask(prob > 0.5, prob)
    assert sorted((b.x0, b.y0, b.x1, b.y1, round(b.score, 2)) for b in boxes) == [
        (2, 2, 4, 4, 0.97), (10, 10, 14, 11, 0.7)]


def test_average_precision_on_a_ranked_list():
    # ranked: TP, FP, TP, FP with 3 ground truths:
    # precision at the TPs: 1/1, 2/3 ; recall 1/3, 2/3 ; all-point AP = 1/3*1 + 1/3*2/3 = 5/9
    ap, rec, _prec = average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0], bool), 3)
    assert ap == pytest.approx(5 / 9)
    assert rec[-1] == pytest.approx(2 / 3)
    assert average_precision(np.array([0.5]), np.array([True]), 1)[0] == pytest.approx(1.0)


def test_dataset_metrics_healthy_fp_rate_and_map():
    m = DatasetMetrics()
    gt = np.zeros((30, 30), int)
    gt[5:10, 5:10] = 1
    prob = np.zeros((30, 30))
    prob[6:9, 6:9] = 0.9
    m.add("defective", gt, prob)
    healthy_prob = np.zeros((30, 30))
    healthy_prob[20, 20] = 0.8  # one stray pixel on a healthy image
    m.add("healthy_fp", np.zeros((30, 30), int), healthy_prob)
    m.add("healthy_ok", np.zeros((30, 30), int), np.zeros((30, 30)))
    s = m.summary()
    assert s["healthy_images"] == 2 and s["healthy_fp_rate"] == pytest.approx(0.5)
    assert s["map"] == pytest.approx(1.0)  # the TP (0.9) outranks the FP (0.8)
    assert s["miou_custom"] > s["miou"]


def test_healthy_fp_rate_and_boxes_respect_min_box_pixels():
    m = DatasetMetrics(min_box_pixels=5)
    prob = np.zeros((30, 30))
    prob[3, 3] = 0.9            # 1-pixel speck: ignored
    m.add("speck", np.zeros((30, 30), int), prob)
    prob = np.zeros((30, 30))
    prob[10:13, 10:13] = 0.9    # 9-pixel blob: a false-positive box
    m.add("blob", np.zeros((30, 30), int), prob)
    s = m.summary()
    assert s["healthy_fp_rate"] == pytest.approx(0.5)
    assert [r["pred_boxes"] for r in m.rows] == [0, 1]


def test_multiclass_boxes_match_only_their_own_class():
    gt = np.zeros((20, 20), int)
    gt[2:6, 2:6] = 1
    prob = np.zeros((3, 20, 20))
    prob[0] = 1.0
    prob[:, 2:6, 2:6] = [[[0.1]], [[0.2]], [[0.7]]]  # right place, wrong class
    m = DatasetMetrics(num_classes=3)
    m.add("x", gt, prob)
    s = m.summary()
    assert s["ap_per_class"]["1"] == 0.0 and s["ap_per_class"]["2"] != s["ap_per_class"]["2"]  # NaN: no GT
    assert s["map"] == 0.0


def test_image_level_ap_and_auroc_by_hand_with_ties():
    from synthgen.learn.common.decision import decision_metrics

    # ranked: D 0.9 | D 0.8 and H 0.8 tied | H 0.3 | D 0.1   (3 defective, 2 healthy)
    # thresholds: 0.9 -> R 1/3 P 1 ; 0.8 -> R 2/3 P 2/3 (the tie is one step) ; 0.3 -> R 2/3 ;
    # 0.1 -> R 1 P 3/5.  AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 34/45
    # AUROC: of the 6 defective-healthy pairs, 3 are ordered right and 1 tied (counts 1/2): 3.5/6
    d = decision_metrics([0.9, 0.8, 0.8, 0.3, 0.1], [True, False, True, False, True])
    assert d["image_ap"] == pytest.approx(34 / 45)
    assert d["image_auroc"] == pytest.approx(7 / 12)
    assert d["images_defective"] == 3 and d["images_healthy"] == 2
    only = decision_metrics([0.2, 0.4], [True, True])  # no healthy image: undefined, not 1.0
    assert np.isnan(only["image_ap"]) and np.isnan(only["image_auroc"])


def test_a_prediction_covering_the_image_scores_in_intersect_ap_but_not_in_ap50():
    gt = np.zeros((40, 40), int)
    gt[10:14, 10:14] = 1
    everything = np.full((40, 40), 0.9)
    m = DatasetMetrics()
    m.add("x", gt, everything)
    s = m.summary()
    assert s["map"] == pytest.approx(1.0)     # the one huge box touches the defect
    assert s["map50"] == pytest.approx(0.0)   # but its box IoU is 16 / 1600
    tight = np.zeros((40, 40))
    tight[10:14, 10:15] = 0.9
    m2 = DatasetMetrics()
    m2.add("y", gt, tight)
    assert m2.summary()["map50"] == pytest.approx(1.0)


def test_defect_recall_small_recall_image_scores_and_per_class_groups():
    m = DatasetMetrics()
    gt = np.zeros((100, 100), int)
    gt[10:13, 10:13] = 1        # 9 px = 0.09 % of the image: small, missed
    gt[50:90, 50:90] = 1        # 1600 px: large, found
    prob = np.zeros((100, 100))
    prob[60:70, 60:70] = 0.8
    m.add("crack_img", gt, prob, group="Crack")
    gt2 = np.zeros((100, 100), int)
    gt2[0:5, 0:5] = 1           # small, found
    prob2 = np.zeros((100, 100))
    prob2[1, 1] = 0.6
    m.add("hole_img", gt2, prob2, group="Blowhole")
    m.add("healthy", np.zeros((100, 100), int), np.full((100, 100), 0.2))
    s = m.summary()
    assert s["defect_recall"] == pytest.approx(2 / 3)
    assert s["small_defects"] == 2 and s["small_recall"] == pytest.approx(1 / 2)
    assert [r["score"] for r in m.rows] == pytest.approx([0.8, 0.6, 0.2])
    assert s["image_ap"] == pytest.approx(1.0) and s["image_auroc"] == pytest.approx(1.0)
    pc = s["per_class"]
    assert set(pc) == {"Crack", "Blowhole"}
    assert pc["Crack"]["defect_recall"] == pytest.approx(1 / 2)
    assert pc["Crack"]["iou_dataset"] == pytest.approx(100 / (9 + 1600))
    assert pc["Blowhole"]["image_recall"] == 1.0


def test_image_ap_and_auroc_without_sklearn_equal_sklearns():
    """A GPU node without scikit-learn reports the same image-level AP and AUROC, ties included."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from synthgen.learn.common.decision import _ap_auroc_without_sklearn

    rng = np.random.default_rng(0)
    for trial in range(50):
        n = int(rng.integers(2, 60))
        y = rng.uniform(size=n) < rng.uniform(0.1, 0.9)
        y[0], y[1] = True, False
        s = np.round(rng.uniform(size=n), int(rng.integers(1, 3)))  # coarse scores: many ties
        ap, auroc = _ap_auroc_without_sklearn(y, s)
        assert np.isclose(ap, average_precision_score(y, s)) and np.isclose(auroc, roc_auc_score(y, s)), trial
