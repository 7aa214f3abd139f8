"""Segmentation metrics used in defect inspection (pure numpy/scipy; no torch).

Pixel metrics (per image and over a dataset), standard and customized mIoU, box-level
detection metrics (precision/recall over confidence thresholds, AP, mAP), the image-level
false-positive rate on healthy images, the image-level decision AP / AUROC
(``synthgen.learn.common.decision``), defect recall (all and small defects) and per-class figures.

**Box AP, two matchings.** ``map`` matches a predicted component to a ground-truth one when
their boxes *intersect* (the paper's rule; generous: one huge component that covers the image
intersects every defect). ``map50`` matches only when the boxes' IoU is at least 0.5 (the
detection AP50), so a prediction must also have roughly the defect's extent. Read them together.

**Defect recall.** A ground-truth component (8-connected) is found when any predicted defect
pixel lies on it. ``small_recall`` is the same over components smaller than
``SMALL_FRACTION`` (0.5 %) of their image's area.

Conventions: ``gt`` and ``pred`` are integer class maps (H, W) with 0 = background and
1..K = defect classes (binary: K = 1). ``prob`` is (K+1, H, W) or (H, W) for binary.

**Standard per-image mIoU** (classes c = 0..K)::

    mIoU_std = mean over c in C_std of |P_c ∩ G_c| / |P_c ∪ G_c|,
    C_std = {c : |P_c ∪ G_c| > 0}     (classes absent from both are skipped)

A healthy image (G has no defect pixel) with 3 falsely predicted defect pixels gives
IoU_bg ≈ 1 and IoU_defect = 0 / 3 = 0, so mIoU_std ≈ 0.5: three pixels halve the score.

**Customized per-image mIoU** (the tolerant variant of the micrograph-segmentation literature)::

    mIoU_cust = mean over c in C_cust of IoU_c,
    C_cust = C_std minus {c >= 1 : |G_c| = 0 and |P_c| < tol}

A defect class absent from the ground truth and predicted on fewer than ``tol`` pixels (default
``DEFAULT_TOLERANCE`` = 20) is left out of that image's mean, so the healthy image above scores
≈ 1.0. A class predicted on ``tol`` or more pixels still counts with IoU 0. Dataset mIoU (both
kinds) is the mean of the per-image values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from synthgen.learn.common.decision import RULES, Decision, decision_figures, decision_metrics, rule_scores

DEFAULT_TOLERANCE = 20
SMALL_FRACTION = 0.005  # a defect smaller than 0.5 % of its image is "small"
AP50_IOU = 0.5


# ----------------------------------------------------------------------------- pixel metrics


def iou_dice(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Defect-vs-background IoU and Dice of one image (any class >= 1 is defect).

    Both are 1.0 when neither map has a defect pixel (a correct healthy prediction)."""
    g, p = gt > 0, pred > 0
    inter = np.logical_and(g, p).sum()
    union = np.logical_or(g, p).sum()
    total = g.sum() + p.sum()
    iou = 1.0 if union == 0 else inter / union
    dice = 1.0 if total == 0 else 2 * inter / total
    return float(iou), float(dice)


def per_class_iou(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(iou (C,), gt pixel counts (C,), pred pixel counts (C,)) for classes 0..num_classes-1;
    IoU is NaN for a class absent from both maps."""
    iou = np.full(num_classes, np.nan)
    gcount = np.zeros(num_classes, np.int64)
    pcount = np.zeros(num_classes, np.int64)
    for c in range(num_classes):
        g, p = gt == c, pred == c
        gcount[c], pcount[c] = g.sum(), p.sum()
        union = np.logical_or(g, p).sum()
        if union:
            iou[c] = np.logical_and(g, p).sum() / union
    return iou, gcount, pcount


def miou_standard(gt: np.ndarray, pred: np.ndarray, num_classes: int = 2) -> float:
    """Standard per-image mIoU (module docstring)."""
    iou, _, _ = per_class_iou(gt, pred, num_classes)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else 1.0


def miou_customized(gt: np.ndarray, pred: np.ndarray, num_classes: int = 2,
                    tolerance: int = DEFAULT_TOLERANCE) -> float:
    """Customized per-image mIoU: small false positives of absent defect classes are ignored."""
    iou, g, p = per_class_iou(gt, pred, num_classes)
    keep = np.isfinite(iou)
    for c in range(1, num_classes):
        if g[c] == 0 and p[c] < tolerance:
            keep[c] = False
    return float(iou[keep].mean()) if keep.any() else 1.0


# ----------------------------------------------------------------------------- boxes


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int  # inclusive
    y1: int  # inclusive
    score: float = 1.0
    label: int = 1

    def intersects(self, o: Box) -> bool:
        return not (self.x1 < o.x0 or o.x1 < self.x0 or self.y1 < o.y0 or o.y1 < self.y0)

    def iou(self, o: Box) -> float:
        iw = min(self.x1, o.x1) - max(self.x0, o.x0) + 1
        ih = min(self.y1, o.y1) - max(self.y0, o.y0) + 1
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        area = lambda b: (b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1)
        return inter / (area(self) + area(o) - inter)


def boxes_from_mask(mask: np.ndarray, score_map: np.ndarray | None = None, label: int = 1,
                    min_pixels: int = 1) -> list[Box]:
    """Connected components (8-connected) of a boolean mask as boxes. The score of a box is the
    maximum of ``score_map`` inside its component (1.0 without a score map)."""
    lab, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
    out = []
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        comp = lab[sl] == i
        if comp.sum() < min_pixels:
            continue
        s = float(score_map[sl][comp].max()) if score_map is not None else 1.0
        out.append(Box(sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1, s, label))
    return out


def match_boxes(preds: list[Box], gts: list[Box], min_iou: float | None = None) -> list[bool]:
    """True/false positive flag per prediction, in descending score order of ``preds``.

    A prediction that intersects (``min_iou`` None) or overlaps with box IoU >= ``min_iou`` a
    ground-truth box of its class is a true positive; each ground-truth box is matched by at
    most one prediction (the highest-scoring one), so a second prediction on the same defect is
    a false positive."""
    order = sorted(range(len(preds)), key=lambda i: -preds[i].score)
    used = [False] * len(gts)
    flags = [False] * len(preds)
    for i in order:
        for j, g in enumerate(gts):
            hit = preds[i].intersects(g) if min_iou is None else preds[i].iou(g) >= min_iou
            if not used[j] and g.label == preds[i].label and hit:
                used[j] = True
                flags[i] = True
                break
    return flags


def average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> tuple[float, np.ndarray, np.ndarray]:
    """AP by all-point interpolation (VOC2010+): area under the precision envelope over recall.

    Returns (AP, recall curve, precision curve) for predictions ranked by score."""
    if num_gt == 0:
        return float("nan"), np.zeros(0), np.zeros(0)
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    tp = np.asarray(tp, bool)[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / num_gt
    precision = ctp / np.maximum(ctp + cfp, 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0 if len(precision) else 0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    ap = float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))
    return ap, recall, precision


# ----------------------------------------------------------------------------- dataset


def component_hits(gt: np.ndarray, pred: np.ndarray) -> list[tuple[int, bool]]:
    """(area in pixels, found) per ground-truth defect component (8-connected); found = any
    predicted defect pixel on it."""
    lab, _ = ndimage.label(gt > 0, structure=np.ones((3, 3), bool))
    out = []
    p = pred > 0
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        comp = lab[sl] == i
        out.append((int(comp.sum()), bool(p[sl][comp].any())))
    return out


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else float("nan")


@dataclass
class DatasetMetrics:
    """Accumulates per-image results; ``summary()`` gives the dataset figures.

    ``add(..., group=...)`` files an image under a group (the defect class of a magnetic-tile
    split entry, for example); ``summary()["per_class"]`` then gives each group's IoU, defect
    recall and image recall, even when the model itself is binary."""

    num_classes: int = 2
    tolerance: int = DEFAULT_TOLERANCE
    threshold: float = 0.5
    min_box_pixels: int = 1
    top_k: int = 64  # settings of the image score rules (eval.decision)
    sigma: float = 2.0

    def __post_init__(self):
        self.rows: list[dict] = []
        classes = range(1, self.num_classes)
        self.dets: dict[int, list[tuple[float, bool]]] = {c: [] for c in classes}
        self.dets50: dict[int, list[tuple[float, bool]]] = {c: [] for c in classes}
        self.num_gt: dict[int, int] = {c: 0 for c in classes}
        self.inter = 0
        self.union = 0
        self.sum_gp = 0

    def add(self, name: str, gt: np.ndarray, prob: np.ndarray, group: str | None = None,
            head: float | None = None) -> dict:
        """Add one image. ``prob``: (H, W) defect probability (binary) or (K+1, H, W); ``head``: the
        decision head's probability, where the model has one."""
        if prob.ndim == 2:
            pred = (prob >= self.threshold).astype(np.int64)
            scores = {1: prob}
        else:
            pred = prob.argmax(0)
            scores = {c: prob[c] for c in range(1, self.num_classes)}
        iou, dice = iou_dice(gt, pred)
        g, p = gt > 0, pred > 0
        inter, union = int(np.logical_and(g, p).sum()), int(np.logical_or(g, p).sum())
        self.inter += inter
        self.union += union
        self.sum_gp += int(g.sum() + p.sum())
        n_pred_boxes = 0
        for c in range(1, self.num_classes):
            gts = boxes_from_mask(gt == c, label=c)
            preds = boxes_from_mask(pred == c, scores[c], label=c, min_pixels=self.min_box_pixels)
            for dets, min_iou in ((self.dets[c], None), (self.dets50[c], AP50_IOU)):
                flags = match_boxes(preds, gts, min_iou)
                dets.extend((preds[i].score, flags[i]) for i in range(len(preds)))
            self.num_gt[c] += len(gts)
            n_pred_boxes += len(preds)
        small = SMALL_FRACTION * gt.size
        comps = component_hits(gt, pred)
        # A healthy image is a false-positive image when any predicted defect box survives the
        # ``min_box_pixels`` filter (the same boxes that the detection metrics count).
        row = {"image": name, "group": group, "iou": iou, "dice": dice,
               "miou": miou_standard(gt, pred, self.num_classes),
               "miou_custom": miou_customized(gt, pred, self.num_classes, self.tolerance),
               "healthy": bool(not g.any()), "false_positive_image": bool(not g.any() and n_pred_boxes > 0),
               "pred_boxes": n_pred_boxes,
               "scores": rule_scores(prob, head, self.top_k, self.sigma, self.threshold),
               "defects": len(comps), "defects_found": sum(h for _, h in comps),
               "small_defects": sum(a < small for a, _ in comps),
               "small_found": sum(h for a, h in comps if a < small), "inter": inter, "union": union}
        row["score"] = row["scores"]["max"]
        self.rows.append(row)
        return row

    def _ap(self, dets: dict[int, list], curves: dict | None = None) -> dict[int, float]:
        aps = {}
        for c, d in dets.items():
            sc = np.array([x[0] for x in d])
            tp = np.array([x[1] for x in d], bool)
            ap, rec, prec = average_precision(sc, tp, self.num_gt[c])
            aps[c] = ap
            if curves is not None:
                curves[c] = {"recall": rec.tolist(), "precision": prec.tolist(),
                             "scores": sorted(sc.tolist(), reverse=True)}
        return aps

    @staticmethod
    def _recall(rows: list[dict], found: str, total: str) -> float:
        n = sum(r[total] for r in rows)
        return sum(r[found] for r in rows) / n if n else float("nan")

    def per_class(self) -> dict[str, dict]:
        """Figures per group of defective images (``add(..., group=)``)."""
        out = {}
        for grp in sorted({r["group"] for r in self.rows if r["group"] and not r["healthy"]}):
            rows = [r for r in self.rows if r["group"] == grp and not r["healthy"]]
            union = sum(r["union"] for r in rows)
            out[grp] = {"images": len(rows),
                        "iou_dataset": sum(r["inter"] for r in rows) / union if union else 1.0,
                        "defect_recall": self._recall(rows, "defects_found", "defects"),
                        "image_recall": float(np.mean([r["pred_boxes"] > 0 for r in rows])),
                        "mean_score": _mean(rows, "score")}
        return out

    def image_figures(self, decision: Decision | None = None) -> dict:
        """Image-level figures: AP and AUROC of every rule (``image_ap_<rule>``); with a decision,
        the figures at its operating point, and ``image_ap`` / ``image_auroc`` of its rule (else of
        ``max``)."""
        y = [not r["healthy"] for r in self.rows]
        out = {}
        for rule in RULES:
            if self.rows and all(rule in r["scores"] for r in self.rows):
                out[f"image_ap_{rule}"] = decision_metrics([r["scores"][rule] for r in self.rows], y)["image_ap"]
        rule = decision.rule if decision else "max"
        s = [r["scores"].get(rule, float("nan")) for r in self.rows]
        out.update(decision_figures(s, y, decision) if decision else decision_metrics(s, y))
        return out

    def summary(self, decision: Decision | None = None) -> dict:
        rows = self.rows
        healthy = [r for r in rows if r["healthy"]]
        curves: dict = {}
        aps = self._ap(self.dets, curves)
        aps50 = self._ap(self.dets50)
        finite = [v for v in aps.values() if np.isfinite(v)]
        finite50 = [v for v in aps50.values() if np.isfinite(v)]
        return {
            "images": len(rows),
            "iou_dataset": 1.0 if self.union == 0 else self.inter / self.union,
            "dice_dataset": 1.0 if self.sum_gp == 0 else 2 * self.inter / self.sum_gp,
            "iou_mean_per_image": _mean(rows, "iou"),
            "dice_mean_per_image": _mean(rows, "dice"),
            "miou": _mean(rows, "miou"),
            "miou_custom": _mean(rows, "miou_custom"),
            "ap_per_class": {str(c): v for c, v in aps.items()},
            "map": float(np.mean(finite)) if finite else float("nan"),
            "ap50_per_class": {str(c): v for c, v in aps50.items()},
            "map50": float(np.mean(finite50)) if finite50 else float("nan"),
            **self.image_figures(decision),
            "defect_recall": self._recall(rows, "defects_found", "defects"),
            "small_defects": sum(r["small_defects"] for r in rows),
            "small_recall": self._recall(rows, "small_found", "small_defects"),
            "healthy_images": len(healthy),
            "healthy_fp_rate": (sum(r["false_positive_image"] for r in healthy) / len(healthy)) if healthy
            else float("nan"),
            "per_class": self.per_class(),
            "pr_curves": {str(c): v for c, v in curves.items()},
        }
