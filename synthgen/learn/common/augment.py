"""Training augmentations (albumentations), identical for real and synthetic images.

Geometric transforms (flips, zoom/translation/rotation/shear, random crops of the ``crop``
policy) move the image, the label map and the validity map together; photometric ones (noise,
blur, brightness/contrast, colour jitter, cutouts) touch the image only. Label maps use nearest
interpolation; pixels brought in from outside the image by an affine transform get label 0 and
validity 0, so the loss ignores them. Cutouts leave the label unchanged (an occluder over a
defect is still a defect location).

Each sample is augmented with its own seed (``set_random_seed``) drawn from the caller's numpy
Generator, so a run is reproducible whatever the order of calls.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np

from synthgen.learn.common.config import AugmentConfig, DataConfig


def build_augment(cfg: AugmentConfig, data: DataConfig) -> A.Compose:
    t: list = []
    if data.policy == "crop":
        H, W = data.size
        t.append(A.PadIfNeeded(H, W, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=1.0))
        if data.defect_crop > 0:
            # the label is the "mask" target, so only defect pixels attract the crop
            t.append(A.OneOf([A.CropNonEmptyMaskIfExists(H, W, p=data.defect_crop),
                              A.RandomCrop(H, W, p=1.0 - data.defect_crop)], p=1.0))
        else:
            t.append(A.RandomCrop(H, W, p=1.0))
    if cfg.hflip:
        t.append(A.HorizontalFlip(p=cfg.hflip))
    if cfg.vflip:
        t.append(A.VerticalFlip(p=cfg.vflip))
    if cfg.affine:
        t.append(A.Affine(scale=tuple(cfg.scale), translate_percent=(-cfg.translate, cfg.translate),
                          rotate=(-cfg.rotate, cfg.rotate), shear=(-cfg.shear, cfg.shear),
                          interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST,
                          border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=cfg.affine))
    if cfg.contrast:
        t.append(A.RandomBrightnessContrast(brightness_limit=cfg.contrast_limit, contrast_limit=cfg.contrast_limit,
                                            p=cfg.contrast))
    if cfg.color_jitter and data.channels == 3:
        t.append(A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05, p=cfg.color_jitter))
    if cfg.blur:
        t.append(A.GaussianBlur(blur_limit=0, sigma_limit=tuple(cfg.blur_sigma), p=cfg.blur))
    if cfg.noise:
        t.append(A.GaussNoise(std_range=tuple(cfg.noise_std), p=cfg.noise))
    if cfg.cutout:
        t.append(A.CoarseDropout(num_holes_range=tuple(cfg.cutout_holes), hole_height_range=tuple(cfg.cutout_size),
                                 hole_width_range=tuple(cfg.cutout_size), fill=0, fill_mask=None, p=cfg.cutout))
    return A.Compose(t, seed=0)


def augment(pipe: A.Compose, image: np.ndarray, label: np.ndarray, valid: np.ndarray,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment one sample (image (H, W, C) uint8, label and valid (H, W) uint8) with ``seed``."""
    pipe.set_random_seed(int(seed))
    out = pipe(image=image, mask=label, masks=[valid])
    img = out["image"]
    if img.ndim == 2:
        img = img[..., None]
    lab, val = out["mask"], out["masks"][0]
    return img, np.asarray(lab), np.asarray(val)
