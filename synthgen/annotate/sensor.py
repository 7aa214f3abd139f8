"""Applying a camera's planned model to a rendered image and its label map (pure: numpy, OpenCV).

Order: lens distortion (image and label map through the same map; labels by nearest neighbour,
so a label stays exactly where its pixels went), then optical blur (a Gaussian), vignetting and
sensor noise. Blur, vignetting and noise act on linear light: the 8-bit image is decoded with the sRGB curve, processed, and
encoded again (an image rendered with the Raw view transform is linear already and stays so). Noise model of a linear sensor: a pixel at linear level L collects
L x full_well electrons; shot noise is Poisson (sampled as a normal of variance equal to the
mean), read noise is a normal of ``read_noise_e`` std, and the optional fixed pattern is a
per-pixel gain (1 + fixed_pattern x N(0, 1)) that is the same in every image of a camera.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.geometry.camera import intrinsics as camera_intrinsics
from synthgen.plan.types import CameraPlan, SensorPlan
from synthgen.srgb import linear_to_srgb, srgb_to_linear


def intrinsics(cam: CameraPlan, size: tuple[int, int]) -> np.ndarray:
    """3x3 pinhole matrix of a planned camera for an image of ``size`` (width, height) pixels."""
    return camera_intrinsics(cam.focal_length_mm, cam.sensor_width_mm, size)


def distortion_maps(K: np.ndarray, coeffs, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of the distorted output, where to sample the ideal (rendered) image."""
    w, h = size
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pts = np.stack([xs.ravel(), ys.ravel()], -1).reshape(-1, 1, 2)
    ideal = cv2.undistortPointsIter(pts, K, np.asarray(coeffs, np.float64), None, K,
                                    (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-6))
    m = ideal.reshape(h, w, 2).astype(np.float32)
    return m[..., 0], m[..., 1]


def vignetting_gain(K: np.ndarray, size: tuple[int, int], strength: float) -> np.ndarray:
    """(H, W) gain 1 - strength x (1 - cos^4 theta), theta the field angle of each pixel."""
    w, h = size
    xs, ys = np.meshgrid(np.arange(w) + 0.5 - K[0, 2], np.arange(h) + 0.5 - K[1, 2])
    cos2 = 1.0 / (1.0 + (xs ** 2 + ys ** 2) / K[0, 0] ** 2)
    return 1.0 - strength * (1.0 - cos2 ** 2)


def add_noise(linear: np.ndarray, sp: SensorPlan, rng: np.random.Generator) -> np.ndarray:
    """Noisy linear image (same shape) of a linear image in 0..1."""
    e = linear * sp.full_well_e
    if sp.fixed_pattern > 0:
        prnu = 1.0 + sp.fixed_pattern * np.random.default_rng(sp.pattern_seed).standard_normal(linear.shape[:2])
        e = e * (prnu[..., None] if e.ndim == 3 else prnu)
    e = e + rng.standard_normal(e.shape) * np.sqrt(np.maximum(e, 0.0))  # shot noise
    e = e + rng.standard_normal(e.shape) * sp.read_noise_e
    return e / sp.full_well_e


def distort_labels(labels: np.ndarray, sp: SensorPlan, cam: CameraPlan) -> np.ndarray:
    """A label map of ids as the planned camera's lens moves it (nearest neighbour; unchanged
    without distortion): what ``apply_camera_model`` does to labels, alone (the add-on's overlay)."""
    if sp.distortion is None:
        return labels
    h, w = labels.shape[:2]
    return _remap_labels(labels, *distortion_maps(intrinsics(cam, (w, h)), sp.distortion, (w, h)))


def _remap_labels(labels: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    src = labels.astype(np.int32) if labels.dtype != np.int32 else labels
    return cv2.remap(src, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def apply_camera_model(image: np.ndarray, labels: np.ndarray | None, sp: SensorPlan,
                       cam: CameraPlan, linear: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, labels) as the planned camera sees them: uint8 image (H, W) or (H, W, C), label
    map (H, W) of ids or None. ``linear``: the image holds linear light already (the Raw view
    transform, a machine-vision camera's gamma 1), so it is neither decoded nor encoded."""
    h, w = image.shape[:2]
    K = intrinsics(cam, (w, h))
    out = image
    if sp.distortion is not None:
        mx, my = distortion_maps(K, sp.distortion, (w, h))
        out = cv2.remap(out, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if labels is not None:
            labels = _remap_labels(labels, mx, my)
    if sp.vignetting is None and sp.full_well_e is None and not sp.blur_sigma_px:
        return out, labels
    lin = out / 255.0 if linear else srgb_to_linear(out / 255.0)
    if sp.blur_sigma_px:
        lin = cv2.GaussianBlur(lin, (0, 0), sp.blur_sigma_px, borderType=cv2.BORDER_REFLECT)
    if sp.vignetting is not None:
        g = vignetting_gain(K, (w, h), sp.vignetting)
        lin = lin * (g[..., None] if lin.ndim == 3 else g)
    if sp.full_well_e is not None:
        lin = add_noise(lin, sp, np.random.default_rng(sp.noise_seed))
    enc = np.clip(lin, 0.0, 1.0) if linear else linear_to_srgb(lin)
    return np.rint(enc * 255.0).astype(np.uint8), labels
