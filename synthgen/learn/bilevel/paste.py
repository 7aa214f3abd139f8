"""Online Cut&Paste: defect patches cut from labelled images, pasted onto backgrounds.

Pure numpy / opencv / albumentations, no bpy. A *defect bank* holds the patches of one defect
source: each patch is a square ``(P, P)`` crop around one defect (a connected group of mask
pixels) with its binary mask. Cutting happens on images already sized by the data policy, so a
defect keeps the scale it has in the images the network sees.

Pasting blends the patch into the background with a feathered alpha (the mask blurred by
``feather`` pixels, limited to the mask's close neighbourhood) and writes the *binary* mask into
the label at the same place, so the label is exactly the source mask moved to the sampled
location (clipped at the image border). Optional scale and rotation transform patch, alpha and
mask together (nearest-neighbour for the mask).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import albumentations as A
import cv2
import numpy as np

AUGMENT_FAMILIES = ("none", "photometric", "geometric", "degradation")


@dataclass
class Patch:
    image: np.ndarray   # (P, P, C) uint8
    mask: np.ndarray    # (P, P) uint8 0/1
    origin: str         # name of the image it was cut from


@dataclass
class DefectBank:
    name: str
    patches: list[Patch] = field(default_factory=list)
    augment: str = "none"

    def __len__(self) -> int:
        return len(self.patches)


def cut_defects(image: np.ndarray, label: np.ndarray, patch: int, margin: int = 4, min_pixels: int = 4,
                merge_distance: int = 6, origin: str = "") -> list[Patch]:
    """One patch per defect of ``label`` (> 0 is defect). Components closer than ``merge_distance``
    pixels form one defect (a crack broken by resizing stays one crack). A defect larger than the
    patch is scaled down to fit (its aspect kept); the patch is centred on the defect's box."""
    m = (label > 0).astype(np.uint8)
    if m.sum() < min_pixels:
        return []
    grown = cv2.dilate(m, np.ones((merge_distance, merge_distance), np.uint8)) if merge_distance > 1 else m
    n, comp = cv2.connectedComponents(grown, connectivity=8)
    out = []
    for k in range(1, n):
        sel = (comp == k) & (m > 0)
        if sel.sum() < min_pixels:
            continue
        ys, xs = np.nonzero(sel)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        side = max(y1 - y0, x1 - x0) + 2 * margin
        cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
        top, left = round(cy - side / 2), round(cx - side / 2)
        # crop a side x side window (zero-padded outside the image)
        pad = max(side, patch)  # room for the context window of a small defect near the border
        img_p = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        msk_p = np.pad(sel.astype(np.uint8), ((pad, pad), (pad, pad)))
        crop_i = img_p[top + pad: top + pad + side, left + pad: left + pad + side]
        crop_m = msk_p[top + pad: top + pad + side, left + pad: left + pad + side]
        if side > patch:
            crop_i = cv2.resize(crop_i, (patch, patch), interpolation=cv2.INTER_AREA).reshape(patch, patch, -1)
            crop_m = (cv2.resize(crop_m.astype(np.float32), (patch, patch), interpolation=cv2.INTER_AREA) >= 0.5)
            crop_m = crop_m.astype(np.uint8)
        elif side < patch:
            a = (patch - side) // 2
            b = patch - side - a
            # context around a small defect: take it from the image too, so feathering blends real texture
            crop_i = img_p[top + pad - a: top + pad + side + b, left + pad - a: left + pad + side + b]
            crop_m = np.pad(crop_m, ((a, b), (a, b)))
        if crop_m.sum() < min_pixels:
            continue
        out.append(Patch(np.ascontiguousarray(crop_i), np.ascontiguousarray(crop_m), origin))
    return out


def family_pipeline(family: str) -> A.Compose | None:
    """The albumentations pipeline of an augmentation family (one defect source per family)."""
    if family == "none":
        return None
    if family == "photometric":
        t = [A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.4, p=1.0),
             A.RandomGamma(gamma_limit=(70, 140), p=0.7)]
    elif family == "geometric":
        t = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5),
             A.Affine(scale=(0.7, 1.3), rotate=(-30, 30), shear=(-10, 10), interpolation=cv2.INTER_LINEAR,
                      mask_interpolation=cv2.INTER_NEAREST, border_mode=cv2.BORDER_REFLECT_101, p=1.0),
             A.ElasticTransform(alpha=8, sigma=4, p=0.3)]
    elif family == "degradation":
        t = [A.GaussianBlur(blur_limit=0, sigma_limit=(0.3, 1.5), p=0.6),
             A.GaussNoise(std_range=(0.02, 0.08), p=0.8),
             A.Downscale(scale_range=(0.5, 0.9), p=0.3)]
    else:
        raise ValueError(f"unknown augmentation family {family!r} (one of {', '.join(AUGMENT_FAMILIES)})")
    return A.Compose(t, seed=0)


def draw_patch(bank: DefectBank, pipe: A.Compose | None, rng: np.random.Generator, scale: tuple[float, float],
               rotate: float) -> tuple[np.ndarray, np.ndarray]:
    """A random patch of ``bank`` after its family's augmentation and the paste scale/rotation."""
    p = bank.patches[int(rng.integers(len(bank)))]
    img, msk = p.image, p.mask
    if pipe is not None:
        pipe.set_random_seed(int(rng.integers(2**31 - 1)))
        o = pipe(image=img, mask=msk)
        img, msk = o["image"], o["mask"]
        if img.ndim == 2:
            img = img[..., None]
    s = float(rng.uniform(*scale)) if scale[1] > scale[0] else float(scale[0])
    r = float(rng.uniform(-rotate, rotate)) if rotate > 0 else 0.0
    if s != 1.0 or r != 0.0:
        P = img.shape[0]
        M = cv2.getRotationMatrix2D(((P - 1) / 2, (P - 1) / 2), r, s)
        img = cv2.warpAffine(img, M, (P, P), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        img = img.reshape(P, P, -1)
        msk = cv2.warpAffine(msk, M, (P, P), flags=cv2.INTER_NEAREST, borderValue=0)
    return np.ascontiguousarray(img), (msk > 0).astype(np.uint8)


def feather_alpha(mask: np.ndarray, feather: float) -> np.ndarray:
    """Blending weight in [0, 1]: 1 on the mask, falling off over ``feather`` pixels outside it."""
    m = mask.astype(np.float32)
    if feather <= 0:
        return m
    blurred = cv2.GaussianBlur(m, (0, 0), feather)
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8),
                      iterations=max(1, int(np.ceil(2 * feather)))).astype(np.float32)
    return np.maximum(m, np.clip(blurred * 2.0, 0, 1) * ring)


def paste(background: np.ndarray, label: np.ndarray, patch_img: np.ndarray, patch_mask: np.ndarray,
          center: tuple[int, int], feather: float = 1.5, label_value: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Paste one patch centred at ``center`` = (row, col); returns new image and label (copies).

    The label gets ``label_value`` exactly where the (moved, border-clipped) patch mask is 1; the
    image is ``alpha * patch + (1 - alpha) * background`` with the feathered alpha."""
    H, W = label.shape
    P = patch_mask.shape[0]
    top, left = int(center[0]) - P // 2, int(center[1]) - P // 2
    y0, y1 = max(top, 0), min(top + P, H)
    x0, x1 = max(left, 0), min(left + P, W)
    img, lab = background.copy(), label.copy()
    if y0 >= y1 or x0 >= x1:
        return img, lab
    sy, sx = slice(y0 - top, y1 - top), slice(x0 - left, x1 - left)
    a = feather_alpha(patch_mask, feather)[sy, sx, None]
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(a * patch_img[sy, sx].astype(np.float32) + (1 - a) * region + 0.5, 0, 255
                                ).astype(np.uint8)
    lab[y0:y1, x0:x1][patch_mask[sy, sx] > 0] = label_value
    return img, lab
