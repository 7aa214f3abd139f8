"""Augmentations keep image, label and validity aligned."""

from __future__ import annotations

import numpy as np

from synthgen.learn.common.augment import augment, build_augment
from synthgen.learn.common.config import AugmentConfig, DataConfig


def _scene(size=64):
    """A dark image with bright asymmetric shapes; the label is drawn from the image content."""
    img = np.full((size, size, 1), 30, np.uint8)
    img[10:20, 8:40] = 220
    img[30:55, 45:52] = 220
    img[40:44, 10:14] = 220
    lab = (img[..., 0] > 128).astype(np.uint8)
    return img, lab, np.ones((size, size), np.uint8)


def test_geometric_transforms_move_mask_with_image():
    cfg = AugmentConfig(hflip=0.5, vflip=0.5, affine=1.0, scale=(0.7, 1.3), translate=0.2, rotate=40, shear=15,
                        noise=0, blur=0, contrast=0)
    pipe = build_augment(cfg, DataConfig(size=(64, 64)))
    img, lab, val = _scene()
    moved = 0
    for seed in range(20):
        a_img, a_lab, a_val = augment(pipe, img, lab, val, seed)
        assert a_img.shape == img.shape and a_lab.shape == lab.shape
        moved += (a_lab != lab).any()
        from_image = a_img[..., 0] > 128
        agree = (from_image == (a_lab > 0)).mean()
        assert agree > 0.98, f"seed {seed}: mask and image disagree on {1 - agree:.1%} of pixels"
        # Pixels brought in from outside the image are marked invalid and labelled background.
        assert not (a_lab[a_val == 0]).any()
    assert moved >= 15  # the transforms really did something


def test_photometric_transforms_leave_mask_alone_and_are_seeded():
    cfg = AugmentConfig(hflip=0, vflip=0, affine=0, noise=1, blur=1, contrast=1, cutout=1)
    pipe = build_augment(cfg, DataConfig(size=(64, 64)))
    img, lab, val = _scene()
    a1 = augment(pipe, img, lab, val, 5)
    a2 = augment(pipe, img, lab, val, 5)
    a3 = augment(pipe, img, lab, val, 6)
    assert np.array_equal(a1[1], lab) and np.array_equal(a1[2], val)
    assert not np.array_equal(a1[0], img)
    assert np.array_equal(a1[0], a2[0]) and not np.array_equal(a1[0], a3[0])


def test_crop_policy_gives_network_size():
    pipe = build_augment(AugmentConfig(), DataConfig(size=(32, 48), policy="crop"))
    img, lab, val = _scene(40)
    a_img, a_lab, a_val = augment(pipe, img, lab, val, 1)
    assert a_img.shape == (32, 48, 1) and a_lab.shape == (32, 48)
    assert (a_val == 0).any()  # 40 px wide image padded to 48
