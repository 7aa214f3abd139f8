"""Image-level decisions: is this part OK or NG? (the call a line acts on).

**Score rules.** Every image gets one defect score per rule, from its defect-probability map
``p`` (binary: the model's map; several classes: ``1 - p(background)``):

- ``max``: the highest pixel probability. One confident pixel on healthy grinding texture makes
  the image NG; kept as the reference;
- ``top_k``: the mean of the ``top_k`` highest probabilities (default 64 pixels): an isolated hot
  pixel moves it by at most 1/k;
- ``smooth_max``: the maximum of ``p`` smoothed by a Gaussian of ``sigma`` pixels (default 2):
  a defect must cover a neighbourhood, not a pixel;
- ``largest_area``: the pixel area of the largest 8-connected component with ``p >=
  eval.threshold``;
- ``head``: the model's decision head (``model.decision_head``), an image classifier on the
  U-Net's features trained jointly with the segmentation loss (``synthgen.learn.common.unet``).

``rule: auto`` takes the rule with the highest image AP on validation.

**Operating point.** The threshold is chosen on validation images only, never on test: the
highest threshold that keeps ``recall`` of the defective validation images (an image is NG when
its score >= the threshold). The chosen ``Decision`` (rule, threshold, settings, validation
figures) is saved in every checkpoint the learn side writes, so ``seg predict`` on new photos
needs nothing else.

**Figures** of a test set (``decision_figures``): recall of its defective images and the
false-positive rate of its healthy images at the operating point, image AP and AUROC of the
rule, and its PR curve. AP is the KolektorSDD-style detection AP (scikit-learn's
``average_precision_score``; tied scores form one threshold). Where scikit-learn is missing (a bare
GPU node), ``_ap_auroc_without_sklearn`` gives the same figures (tested equal, ties included).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from synthgen.errors import SynthgenError

RULES = ("head", "top_k", "smooth_max", "largest_area", "max")  # auto: ties go to the earlier rule


def defect_map(prob: np.ndarray) -> np.ndarray:
    """Defect probability per pixel: (H, W) binary map as is, (K+1, H, W) -> 1 - background."""
    return prob if prob.ndim == 2 else 1.0 - prob[0]


def rule_scores(prob: np.ndarray, head: float | None = None, top_k: int = 64, sigma: float = 2.0,
                threshold: float = 0.5) -> dict[str, float]:
    """Score of one image under every rule (``head`` only when the model has a decision head)."""
    p = np.asarray(defect_map(prob), np.float32)
    out = {"max": 0.0, "top_k": 0.0, "smooth_max": 0.0, "largest_area": 0.0}
    if p.size:
        flat = p.ravel()
        k = min(top_k, flat.size)
        out["max"] = float(flat.max())
        out["top_k"] = float(np.partition(flat, flat.size - k)[flat.size - k:].mean())
        out["smooth_max"] = float(cv2.GaussianBlur(p, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).max())
        lab, n = ndimage.label(p >= threshold, structure=np.ones((3, 3), bool))
        out["largest_area"] = float(np.bincount(lab.ravel())[1:].max()) if n else 0.0
    if head is not None:
        out["head"] = float(head)
    return out


def _ap_auroc_without_sklearn(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Average precision over distinct thresholds and the ROC area (Mann-Whitney, ties = 1/2)."""
    from scipy.stats import rankdata

    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y_sorted)[last]
    precision, recall = tp / (last + 1), tp / y.sum()
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    auroc = float((rankdata(s)[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return ap, auroc


def decision_metrics(scores, defective) -> dict:
    """``image_ap`` and ``image_auroc`` of scores (higher = more likely defective)."""
    s = np.asarray(scores, float)
    y = np.asarray(defective, bool)
    out = {"image_ap": float("nan"), "image_auroc": float("nan"),
           "images_defective": int(y.sum()), "images_healthy": int((~y).sum())}
    if y.any() and (~y).any():
        try:
            from sklearn.metrics import average_precision_score, roc_auc_score
        except ImportError:
            out["image_ap"], out["image_auroc"] = _ap_auroc_without_sklearn(y, s)
        else:
            out["image_ap"] = float(average_precision_score(y, s))
            out["image_auroc"] = float(roc_auc_score(y, s))
    return out


def operating_threshold(scores, defective, recall: float) -> float:
    """The highest threshold t with ``mean(score >= t over defective images) >= recall``."""
    if not 0 < recall <= 1:
        raise SynthgenError(f"eval.decision.recall: {recall} is outside (0, 1]")
    pos = np.sort(np.asarray(scores, float)[np.asarray(defective, bool)])[::-1]
    if pos.size == 0:
        raise SynthgenError("eval.decision: the validation images hold no defective image; the operating "
                            "point needs some (add defective sources to the validation list)")
    k = max(1, math.ceil(recall * pos.size - 1e-9))
    return float(pos[k - 1])


@dataclass
class Decision:
    """A saved OK/NG call: the rule, its settings and the threshold chosen on validation."""

    rule: str
    threshold: float
    recall: float  # the validation recall it was chosen to keep
    top_k: int = 64
    sigma: float = 2.0
    pixel_threshold: float = 0.5
    requested: str = "auto"  # the configured rule (auto: this one had the best validation AP)
    validation: dict = field(default_factory=dict)  # figures on the validation images it was chosen on

    def score(self, prob: np.ndarray, head: float | None = None) -> float:
        s = rule_scores(prob, head, self.top_k, self.sigma, self.pixel_threshold)
        if self.rule not in s:
            raise SynthgenError(f"decision rule '{self.rule}': the model has no decision head "
                                f"(model.decision_head) to score with")
        return s[self.rule]

    def settings(self) -> dict:
        """What the decision was chosen for (a config asking for other settings chooses again)."""
        return {"rule": self.requested, "recall": self.recall, "top_k": self.top_k, "sigma": self.sigma,
                "pixel_threshold": self.pixel_threshold}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str) -> Decision:
        try:
            dec = cls(**d)
        except TypeError as exc:
            raise SynthgenError(f"{where}: unreadable saved decision ({exc})") from None
        if dec.rule not in RULES:
            raise SynthgenError(f"{where}: saved decision rule '{dec.rule}' is unknown ({', '.join(RULES)})")
        return dec


def choose(rows: list[dict], settings, pixel_threshold: float) -> Decision:
    """The decision on validation ``rows`` ({"scores": {rule: s}, "defective": bool}) for the
    ``eval.decision`` settings: the rule (``auto``: best validation image AP) and its threshold."""
    have = [r for r in RULES if rows and all(r in row["scores"] for row in rows)]
    if settings.rule != "auto" and settings.rule not in have:
        raise SynthgenError(f"eval.decision.rule: '{settings.rule}' needs a model with a decision head "
                            f"(model.decision_head: true)")
    y = [row["defective"] for row in rows]
    aps = {r: decision_metrics([row["scores"][r] for row in rows], y)["image_ap"] for r in have}
    if settings.rule == "auto":
        finite = [r for r in have if np.isfinite(aps[r])]
        rule = max(finite, key=lambda r: (round(aps[r], 9), -RULES.index(r))) if finite else "top_k"
    else:
        rule = settings.rule
    s = [row["scores"][rule] for row in rows]
    t = operating_threshold(s, y, settings.recall)
    dec = Decision(rule, t, settings.recall, settings.top_k, settings.sigma, pixel_threshold, settings.rule)
    dec.validation = {"images": len(rows), **decision_figures(s, y, dec, curve=False),
                      "image_ap_per_rule": aps}
    return dec


def decision_figures(scores, defective, dec: Decision, curve: bool = True) -> dict:
    """Figures of one test set at the decision's operating point (NaN where undefined)."""
    s = np.asarray(scores, float)
    y = np.asarray(defective, bool)
    ng = s >= dec.threshold
    out = {"decision_rule": dec.rule, "decision_threshold": dec.threshold,
           "decision_recall": float(ng[y].mean()) if y.any() else float("nan"),
           "decision_healthy_fp": float(ng[~y].mean()) if (~y).any() else float("nan"),
           "decision_ng": int(ng.sum()), **decision_metrics(s, y)}
    if curve and y.any() and (~y).any():
        order = np.argsort(-s, kind="mergesort")
        tp = np.cumsum(y[order])
        out["decision_pr"] = {"recall": (tp / y.sum()).tolist(), "precision": (tp / np.arange(1, len(s) + 1)).tolist(),
                              "point": [out["decision_recall"], float(y[ng].mean()) if ng.any() else 1.0]}
    return out
