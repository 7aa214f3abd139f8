"""Config sections shared by ``seg``, ``bilevel`` and ``vqgen`` (pydantic): named data ``sources``,
the ``data`` policy (size, channels, classes), the U-Net ``model``, ``augment`` and ``eval``.

Every learning config builds on ``synthgen.config.base._Model``, the render config's base too
(unknown keys are errors; a loaded config is frozen: overrides make a copy). Relative paths resolve
against the config file's folder. Print a full schema with ``synthgen seg schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synthgen.config.base import _Model
from synthgen.config.loading import resolve_path


def _resolve(v: str | None, info: ValidationInfo) -> str | None:
    return resolve_path(v, info)


def split_keys(data: dict, prefix: str = "") -> list[str]:
    """Dotted keys of a split file that hold lists of entries (``defective.train``)."""
    out = []
    for k, v in data.items():
        if isinstance(v, list):
            out.append(prefix + k)
        elif isinstance(v, dict):
            out.extend(split_keys(v, prefix + k + "."))
    return out


class HybridConfig(_Model):
    """Rendered defects on real photos (``synthgen.realism.hybrid``): composites are made once per
    setting and kept under the rendered dataset's ``.hybrid/`` folder."""

    healthy: SourceConfig = Field(description="the photos to carry defects onto (its images without a defect)")
    num: int = Field(500, ge=1, description="composites to make")
    seed: int = Field(0, ge=0, description="seed of the draws (photo, pairs, scale, flips, position)")
    per_image: tuple[int, int] = Field((1, 1), description="defects per composite, min max")
    scale: tuple[float, float] = Field((1.0, 1.0), description="scale range of a carried defect")
    mode: Literal["ratio", "difference"] = Field("ratio", description="ratio: photo x on/off; difference: + on-off")


class SourceConfig(_Model):
    """One dataset: a synthgen dataset, a folder of images + masks, a COCO file or a split file."""

    kind: Literal["synthgen", "folder", "coco", "split", "hybrid"] = Field(
        description="synthgen: a synthgen dataset root (images/, masks/semantic/, annotations/coco.json); "
                    "folder: images with same-named mask files; coco: a COCO json; split: a split json "
                    "whose lists hold {image, mask, class} entries; hybrid: the defects of a synthgen dataset "
                    "rendered with verification.save_pairs, carried onto the healthy photos of another source "
                    "(see hybrid)")
    path: str = Field(description="dataset root (synthgen), image folder (folder), COCO json (coco) or split "
                                  "json (split); relative to the config file")
    keys: list[str] = Field(default_factory=list, description="split only: dotted keys of the lists to read, "
                                                              "e.g. [defective.train]")
    images_root: str | None = Field(default=None, description="coco/split: folder that image and mask paths "
                                                              "are relative to (default: the json's folder)")
    mask_dir: str | None = Field(default=None, description="folder only: folder of the masks (default: the "
                                                           "image folder)")
    mask_suffix: str = Field(default=".png", description="folder only: mask file = <image stem><suffix> in the "
                                                         "same (sub)folder, e.g. .png or _label.bmp; without an "
                                                         "extension (_mask) any image extension is accepted")
    recursive: bool = Field(default=True, description="folder only: search subfolders too (one folder per item)")
    extensions: list[str] = Field(default_factory=lambda: [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"],
                                  description="folder only: image file extensions")
    mask_threshold: int = Field(default=127, ge=0, le=254, description="folder/split: mask grey value > "
                                                                     "threshold is defect (0..255 scale)")
    missing_mask: Literal["error", "healthy", "skip"] = Field(
        default="error", description="folder/split: an image without a mask file is an error, a healthy "
                                     "(all background) image, or skipped")
    class_name: str | None = Field(default=None, description="folder/split: defect class of mask pixels when an "
                                                             "entry names none (multi-class only)")
    limit: int | None = Field(default=None, ge=1, description="use at most this many images (first in sorted "
                                                              "order)")
    optional: bool = Field(default=False, description="if the path does not exist, skip this source (and the "
                                                      "mixes and test sets that need it) instead of failing")
    hybrid: HybridConfig | None = Field(default=None, description="hybrid only: the healthy photos and how the "
                                                                  "composites are drawn")

    @field_validator("path", "images_root", "mask_dir")
    @classmethod
    def _paths(cls, v, info: ValidationInfo):
        return _resolve(v, info)

    @field_validator("extensions")
    @classmethod
    def _ext(cls, v):
        return [e.lower() if e.startswith(".") else "." + e.lower() for e in v]

    @model_validator(mode="after")
    def _check(self):
        p = Path(self.path)
        if not p.exists():
            if not self.optional:
                raise ValueError(f"path: not found: {p} (set optional: true to skip a missing source)")
            return self
        if self.kind == "split":
            if not self.keys:
                raise ValueError("keys: a split source needs at least one key, e.g. [defective.train]")
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"path: cannot read split file {p}: {exc}") from None
            avail = split_keys(data)
            for k in self.keys:
                if k not in avail:
                    raise ValueError(f"keys: '{k}' is not a list in {p.name} (available: {', '.join(avail)})")
        elif self.keys:
            raise ValueError("keys: only split sources take keys")
        if (self.kind == "hybrid") != (self.hybrid is not None):
            raise ValueError("hybrid: a hybrid source needs a hybrid section (healthy photos), and only it takes one")
        if self.kind in ("folder", "synthgen", "hybrid") and not p.is_dir():
            raise ValueError(f"path: not a folder: {p}")
        if self.kind in ("coco", "split") and not p.is_file():
            raise ValueError(f"path: not a file: {p}")
        return self

    @property
    def available(self) -> bool:
        return Path(self.path).exists()


class MixItem(_Model):
    """A source in a training mix with its sampling ratio."""

    source: str = Field(description="name of a source in `sources`")
    ratio: float = Field(default=1.0, gt=0, description="relative share of the samples of an epoch drawn from "
                                                        "this source (ratios are normalised over the mix)")
    ratio_end: float | None = Field(default=None, gt=0, description="the ratio at the last epoch: it moves "
                                    "linearly from ratio to ratio_end over the epochs (for example a rendered "
                                    "source from 1.5 down to 0.2 against real at 1.5); unset = constant")


class DataConfig(_Model):
    size: tuple[int, int] = Field(default=(192, 192), description="network input [height, width] in pixels")
    policy: Literal["resize", "letterbox", "crop"] = Field(
        default="resize",
        description="resize: stretch every image to size; letterbox: scale to fit keeping the aspect ratio, "
                    "pad bottom/right (padding ignored by loss and metrics); crop: random size-crops in "
                    "training (padded if smaller), full images at native resolution in evaluation")
    channels: Literal[1, 3] = Field(default=1, description="1: greyscale input, 3: RGB input")
    classes: list[str] = Field(default_factory=lambda: ["defect"], min_length=1,
                               description="defect class names (class index = position + 1, 0 = background); "
                                           "one class = binary defect-vs-background, every defect kind maps to it")
    cache: bool = Field(default=True, description="keep decoded, resized images in memory")
    defect_crop: float = Field(default=0.0, ge=0, le=1,
                               description="crop policy: probability that a training crop is placed around a "
                                           "random defect pixel (images with defects); otherwise uniformly")

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if min(v) < 16:
            raise ValueError(f"size must be >= 16 pixels, got {list(v)}")
        return v

    @property
    def binary(self) -> bool:
        return len(self.classes) == 1

    @property
    def num_classes(self) -> int:
        """Classes including background."""
        return len(self.classes) + 1


class ModelConfig(_Model):
    depth: int = Field(default=4, ge=1, le=7, description="number of 2x down-sampling stages")
    width: int = Field(default=32, ge=2, le=256, description="channels at full resolution (doubled per stage)")
    max_width: int = Field(default=512, ge=2, description="cap on channels per stage")
    thin: bool = Field(default=False, description="the thin, fast variant for high-resolution inference: a "
                                                  "stride-2 stem (every stage at half resolution) and one conv per "
                                                  "stage instead of two")
    decision_head: bool = Field(default=False, description="add an image-level OK/NG classifier on the U-Net's "
                                                           "features, trained jointly with the segmentation loss "
                                                           "(its score is the decision rule `head`)")
    decision_detach: bool = Field(default=True, description="the decision loss does not move the segmentation "
                                                            "features (gradient-flow adjustment); false: it does")


LATER_MODEL_DEFAULTS = {"decision_head": False, "decision_detach": True}  # added after models were saved


def model_key(model: dict) -> dict:
    """A model section as identities compare it: fields added later are left out at their defaults,
    so a checkpoint saved before they existed still matches its config."""
    return {k: v for k, v in model.items() if k not in LATER_MODEL_DEFAULTS or v != LATER_MODEL_DEFAULTS[k]}


class AugmentConfig(_Model):
    """Probabilities (0..1) and ranges of the albumentations pipeline; p = 0 disables a transform."""

    hflip: float = Field(default=0.5, ge=0, le=1, description="probability of a horizontal flip")
    vflip: float = Field(default=0.5, ge=0, le=1, description="probability of a vertical flip")
    affine: float = Field(default=0.5, ge=0, le=1, description="probability of the affine transform below")
    scale: tuple[float, float] = Field(default=(0.85, 1.2), description="zoom range (1 = no zoom)")
    translate: float = Field(default=0.1, ge=0, le=0.5, description="max translation, fraction of the size")
    rotate: float = Field(default=15.0, ge=0, le=180, description="max rotation in degrees")
    shear: float = Field(default=8.0, ge=0, le=45, description="max shear in degrees")
    noise: float = Field(default=0.2, ge=0, le=1, description="probability of Gaussian noise")
    noise_std: tuple[float, float] = Field(default=(0.01, 0.05), description="noise std range, fraction of 255")
    blur: float = Field(default=0.2, ge=0, le=1, description="probability of Gaussian blur")
    blur_sigma: tuple[float, float] = Field(default=(0.3, 1.2), description="blur sigma range in pixels")
    contrast: float = Field(default=0.3, ge=0, le=1, description="probability of brightness/contrast change")
    contrast_limit: float = Field(default=0.2, ge=0, le=1, description="max relative brightness and contrast "
                                                                     "change")
    color_jitter: float = Field(default=0.0, ge=0, le=1, description="probability of colour jitter (RGB input)")
    cutout: float = Field(default=0.0, ge=0, le=1, description="probability of cutouts (masks unchanged)")
    cutout_holes: tuple[int, int] = Field(default=(1, 3), description="number of cutout holes")
    cutout_size: tuple[float, float] = Field(default=(0.05, 0.15), description="hole side, fraction of size")


class DecisionConfig(_Model):
    """The image-level OK/NG call (``synthgen.learn.common.decision``)."""

    rule: Literal["auto", "head", "top_k", "smooth_max", "largest_area", "max"] = Field(
        default="auto", description="image score: head (the decision head), top_k (mean of the top_k highest "
                                    "pixel probabilities), smooth_max (max of the map smoothed by sigma px), "
                                    "largest_area (pixels of the largest component above eval.threshold), max; "
                                    "auto: the rule with the best validation image AP")
    recall: float = Field(default=0.95, description="the operating point keeps this recall of the defective "
                                                    "validation images (0 < recall <= 1)")
    top_k: int = Field(default=64, ge=1, description="pixels averaged by the top_k rule")
    sigma: float = Field(default=2.0, gt=0, description="Gaussian sigma (pixels) of the smooth_max rule")

    @field_validator("recall")
    @classmethod
    def _recall(cls, v):
        if not 0 < v <= 1:
            raise ValueError(f"{v} is outside (0, 1]")
        return v


class EvalConfig(_Model):
    test_sets: dict[str, list[str]] = Field(default_factory=dict, description="test-set name -> sources")
    threshold: float = Field(default=0.5, gt=0, lt=1, description="binary: probability above which a pixel is "
                                                                  "defect")
    tolerance: int = Field(default=20, ge=1, description="customized mIoU: an absent class predicted on fewer "
                                                         "pixels than this is left out of the image's mean")
    min_box_pixels: int = Field(default=1, ge=1, description="predicted components smaller than this "
                                                             "(pixels) are dropped before box matching")
    resolution: Literal["original", "network"] = Field(
        default="original", description="compare at the original image size (predictions resized back) or at "
                                        "the network input size")
    batch_size: int = Field(default=8, ge=1, description="images per inference batch")
    decision: DecisionConfig = Field(default_factory=DecisionConfig, description="the OK/NG call: image score "
                                     "rule and the validation recall its threshold keeps")


HybridConfig.model_rebuild()
