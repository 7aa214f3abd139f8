"""Image-level decision metrics: is this image defective? (the figure a line operator acts on).

Each image gets one defect score, the maximum predicted defect probability over its pixels (for
several classes: over every defect class). Over a test set that mixes defective and healthy
images, the defective-vs-healthy ranking is summarised by:

- ``image_ap``: average precision, sum over distinct score thresholds of (R_n - R_{n-1}) P_n, the
  KolektorSDD-style detection AP (scikit-learn's ``average_precision_score``; tied scores form
  one threshold, so a tie between a defective and a healthy image costs precision);
- ``image_auroc``: area under the ROC curve (ties count one half).

Both are NaN unless the set holds at least one defective and one healthy image. Where
scikit-learn is not installed (a bare GPU node), the same two figures come from
``_ap_auroc_without_sklearn`` (numpy and scipy; tested equal to scikit-learn's, ties included).
"""

from __future__ import annotations

import numpy as np


def image_score(prob: np.ndarray) -> float:
    """Defect score of one image: max defect probability ((H, W) binary or (K+1, H, W))."""
    if prob.size == 0:
        return 0.0
    return float(prob.max() if prob.ndim == 2 else prob[1:].max())


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
