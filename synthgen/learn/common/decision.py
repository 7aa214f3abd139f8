"""Image-level decision metrics: is this image defective? (the figure a line operator acts on).

Each image gets one defect score, the maximum predicted defect probability over its pixels (for
several classes: over every defect class). Over a test set that mixes defective and healthy
images, the defective-vs-healthy ranking is summarised by:

- ``image_ap``: average precision, sum over distinct score thresholds of (R_n - R_{n-1}) P_n, the
  KolektorSDD-style detection AP (scikit-learn's ``average_precision_score``; tied scores form
  one threshold, so a tie between a defective and a healthy image costs precision);
- ``image_auroc``: area under the ROC curve (ties count one half).

Both are NaN unless the set holds at least one defective and one healthy image.
"""

from __future__ import annotations

import numpy as np


def image_score(prob: np.ndarray) -> float:
    """Defect score of one image: max defect probability ((H, W) binary or (K+1, H, W))."""
    if prob.size == 0:
        return 0.0
    return float(prob.max() if prob.ndim == 2 else prob[1:].max())


def decision_metrics(scores, defective) -> dict:
    """``image_ap`` and ``image_auroc`` of scores (higher = more likely defective)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = np.asarray(scores, float)
    y = np.asarray(defective, bool)
    out = {"image_ap": float("nan"), "image_auroc": float("nan"),
           "images_defective": int(y.sum()), "images_healthy": int((~y).sum())}
    if y.any() and (~y).any():
        out["image_ap"] = float(average_precision_score(y, s))
        out["image_auroc"] = float(roc_auc_score(y, s))
    return out
