"""Per-instance and per-image statistics of a side, and the distances between two sides.

Per defect instance (``INSTANCE_FEATURES``):
- geometry: ``area`` (fraction of the image), ``box`` (longest box side / shorter image side),
  ``border`` (gap between the box and the nearest image edge / shorter image side), ``x``, ``y``
  (centroid / image width, height);
- look: ``contrast`` ((mean inside - mean of a ring around it) / the ring's std: how far the
  defect stands out of its surrounding texture, negative = darker), ``rel_contrast`` (the same
  difference / the ring's mean), ``edge`` (mean gradient on the mask's boundary / mean gradient in
  the ring: 1 = no sharper than the texture), ``width`` (2 x area / perimeter in pixels: the width
  of a thin defect), ``noise`` (noise level around it, grey levels: Immerkaer's estimator).

Instances under ``MIN_INSTANCE_PX`` pixels (specks of a thresholded mask) are left out.

Per healthy image (``HEALTHY_FEATURES``): ``brightness`` (mean grey level), ``noise`` (as above,
whole image), ``texture`` (std of the image minus its blur at sigma 8 px / its mean: the
grinding streaks' strength).

Distances: the two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``) per feature,
and for calibration ``distance``: the mean over features of the 1-Wasserstein distance in units of
the real side's spread (features marked ``log`` compared as logarithms). Both are deterministic.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from synthgen.realism.sources import HEALTHY, Item, item_mask, read_image

# name -> (compare as log, description)
INSTANCE_FEATURES = {
    "area": (True, "area / image area"),
    "box": (True, "longest box side / short image side"),
    "border": (False, "gap to border / short image side"),
    "x": (False, "centroid x / width"),
    "y": (False, "centroid y / height"),
    "contrast": (False, "(inside - ring) / ring std"),
    "rel_contrast": (False, "(inside - ring) / ring mean"),
    "edge": (True, "boundary gradient / ring gradient"),
    "width": (True, "2 area / perimeter (px)"),
    "noise": (True, "noise sigma around (grey levels)"),
}
HEALTHY_FEATURES = {
    "brightness": (False, "mean grey level"),
    "noise": (True, "noise sigma (grey levels)"),
    "texture": (True, "std of image - blur(8 px) / mean"),
}
GEOMETRY = ("area", "box", "border", "x", "y")
MIN_INSTANCE_PX = 10  # smaller components are mask specks, not defects (a render keeps >= min_visible_pixels)
LOOK = ("contrast", "rel_contrast", "edge", "width", "noise")
RING_PX = 6


def noise_sigma(img: np.ndarray, where: np.ndarray | None = None) -> float:
    """Noise level in grey levels (Immerkaer 1996): the mean absolute response to the 3 x 3 mask
    that cancels smooth image structure, x sqrt(pi / 2) / 6; over ``where`` when given."""
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = np.abs(cv2.filter2D(img.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT))
    v = r[where] if where is not None else r.ravel()
    if v.size < 9:
        return float("nan")
    return float(math.sqrt(math.pi / 2) / 6 * v.mean())


def _gradient(img: np.ndarray) -> np.ndarray:
    f = img.astype(np.float32)
    return np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3))


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def instance_features(img: np.ndarray, mask: np.ndarray) -> dict[str, float] | None:
    """The features of one instance (``mask`` bool, same size as the greyscale ``img``); None for
    an instance under ``MIN_INSTANCE_PX`` pixels."""
    if mask is None or mask.sum() < MIN_INSTANCE_PX:
        return None
    H, W = mask.shape
    short = min(H, W)
    m8 = mask.astype(np.uint8)
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    near = cv2.dilate(m8, _disk(1)) > 0
    ring = (cv2.dilate(m8, _disk(RING_PX)) > 0) & ~near
    boundary = near & ~(cv2.erode(m8, _disk(1)) > 0)
    f = img.astype(np.float32)
    inside = f[mask].mean()
    out = {"area": mask.sum() / (H * W), "box": max(x1 - x0, y1 - y0) / short,
           "border": min(x0, y0, W - x1, H - y1) / short, "x": xs.mean() / W, "y": ys.mean() / H}
    if ring.sum() >= 9:
        rv = f[ring]
        g = _gradient(img)
        out["contrast"] = (inside - rv.mean()) / (rv.std() + 1.0)
        out["rel_contrast"] = (inside - rv.mean()) / (rv.mean() + 1.0)
        out["edge"] = (g[boundary].mean() + 1e-3) / (g[ring].mean() + 1e-3)
    contours, _ = cv2.findContours(m8, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    out["width"] = 2.0 * mask.sum() / max(perimeter, 1.0)
    pad = 32
    box = np.zeros_like(mask)
    box[max(0, y0 - pad): y1 + pad, max(0, x0 - pad): x1 + pad] = True
    out["noise"] = noise_sigma(img, box & ~near)
    return {k: float(v) for k, v in out.items()}


def healthy_features(img: np.ndarray) -> dict[str, float]:
    f = img.astype(np.float32)
    hp = f - cv2.GaussianBlur(f, (0, 0), 8)
    return {"brightness": float(f.mean()), "noise": noise_sigma(img),
            "texture": float(hp.std() / (f.mean() + 1.0))}


def side_features(items: list[Item], max_per_class: int, rng: np.random.Generator) -> dict[str, list[dict]]:
    """Features per class (``healthy`` included) of at most ``max_per_class`` items each, drawn with
    ``rng`` (all of them when there are fewer)."""
    by: dict[str, list[Item]] = {}
    for it in items:
        by.setdefault(it.cls, []).append(it)
    out: dict[str, list[dict]] = {}
    for cls, pool in sorted(by.items()):
        if len(pool) > max_per_class:
            pool = [pool[k] for k in sorted(rng.choice(len(pool), max_per_class, replace=False))]
        feats = []
        for it in pool:
            img = read_image(it.image)
            if cls == HEALTHY:
                feats.append(healthy_features(img))
            else:
                f = instance_features(img, item_mask(it, img.shape))
                if f is not None:
                    feats.append(f)
        out[cls] = feats
    return out


def column(feats: list[dict], key: str, log: bool = False) -> np.ndarray:
    v = np.array([d[key] for d in feats if key in d and math.isfinite(d[key])], np.float64)
    if log:
        v = np.log(np.maximum(v, 1e-6))
    return v


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (0 = same distribution, 1 = disjoint); NaN if empty."""
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(a, b).statistic)


def feature_table(cls: str) -> dict[str, tuple[bool, str]]:
    return HEALTHY_FEATURES if cls == HEALTHY else INSTANCE_FEATURES


def compare(real: list[dict], rendered: list[dict], cls: str) -> dict[str, dict]:
    """Per feature: real and rendered median and 10-90 % range, KS distance, counts."""
    out = {}
    for key in feature_table(cls):
        a, b = column(real, key), column(rendered, key)
        q = (lambda v: [float(x) for x in np.percentile(v, [10, 50, 90])] if len(v) else None)
        out[key] = {"real": q(a), "rendered": q(b), "ks": ks(a, b), "n_real": len(a), "n_rendered": len(b)}
    return out


def distance(real: list[dict], rendered: list[dict], features: list[str], cls: str = "") -> float:
    """Mean over ``features`` of the 1-Wasserstein distance between the sides, in units of the real
    side's spread (std, at least 5 % of its median's size); ``log`` features as logarithms.
    A side without values for a feature counts 3 (far)."""
    from scipy.stats import wasserstein_distance

    table = feature_table(cls)
    ds = []
    for key in features:
        log = table[key][0]
        a, b = column(real, key, log), column(rendered, key, log)
        if len(a) == 0 or len(b) == 0:
            ds.append(3.0)
            continue
        scale = max(a.std(), 0.05 * abs(np.median(a)), 1e-6)
        ds.append(min(wasserstein_distance(a / scale, b / scale), 3.0))
    return float(np.mean(ds)) if ds else float("nan")
