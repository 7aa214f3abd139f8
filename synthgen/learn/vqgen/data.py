"""Training inputs of ``vqgen``: image + mask pairs from a generic folder or a split json, cut into
square patches around defects (plus patches of healthy images) or resized whole, as one
``(C+1, S, S)`` array per input: image channels in [-1, 1], then the mask channel in {-1, 1}.

Also writes the generic image+mask format (``images/<name>.png``, ``masks/<name>.png``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.common.config import SourceConfig
from synthgen.learn.common.data import load_image, load_label
from synthgen.learn.common.sources import Entry, read_folder, read_split
from synthgen.learn.vqgen.config import PairDataConfig

HEALTHY = "healthy"


@dataclass
class Pair:
    image: np.ndarray   # (H, W, C) uint8
    mask: np.ndarray    # (H, W) bool
    cls: str            # defect class name, or "healthy" when the mask is empty
    name: str


def _pair(e: Entry, channels: int, default_class: str, healthy: bool = False) -> Pair:
    """Decode one seg-reader entry (any mask pixel is defect; its class comes from the entry)."""
    img = load_image(e.image, channels)
    mask = np.zeros(img.shape[:2], bool) if healthy else load_label(e, ["defect"], img.shape[:2]) > 0
    return Pair(img, mask, (e.class_name or default_class) if mask.any() else HEALTHY, e.image.stem)


def _folder_pairs(cfg: PairDataConfig) -> list[Pair]:
    """The generic image+mask format (``images/``, ``masks/<stem>.png``), as read by the seg folder
    reader; class labels from ``samples.json`` (written by ``vqgen sample``) when present."""
    root = Path(cfg.path)
    classes: dict[str, str] = {}
    meta = root / "samples.json"
    if meta.is_file():
        try:
            for s in json.loads(meta.read_text()).get("samples", []):
                if s.get("class"):
                    classes[str(s["name"])] = str(s["class"])
        except (OSError, ValueError, AttributeError) as exc:
            raise SynthgenError(f"{meta}: cannot read: {exc}") from None
    src = SourceConfig(kind="folder", path=str(root / "images"), mask_dir=str(root / "masks"),
                       mask_threshold=cfg.mask_threshold, missing_mask="healthy")
    entries = read_folder(src, "data")
    # reported here, not by the seg reader, whose message names its `missing_mask` setting (not in this config)
    for e in entries:
        if e.mask is None:
            raise SynthgenError(f"{e.image}: no mask {e.image.stem}{src.mask_suffix} in {root / 'masks'} "
                                f"(data.path: every image needs a mask; an all-black mask marks a healthy image)")
    out = []
    for e in entries:
        e.class_name = classes.get(e.image.stem, cfg.class_name)
        out.append(_pair(e, cfg.channels, cfg.class_name))
    return out


def _split_pairs(cfg: PairDataConfig, keys: list[str], healthy: bool) -> list[Pair]:
    """Entries of a split json, as read by the seg split reader; ``healthy`` lists are all background
    (and limited to ``healthy_limit`` per key)."""
    out = []
    for key in keys:
        src = SourceConfig(kind="split", path=cfg.path, keys=[key], images_root=cfg.images_root,
                           mask_threshold=cfg.mask_threshold, missing_mask="healthy" if healthy else "error",
                           limit=cfg.healthy_limit if healthy else None)
        out += [_pair(e, cfg.channels, cfg.class_name, healthy) for e in read_split(src, "data")[: src.limit]]
    return out


def load_pairs(cfg: PairDataConfig) -> list[Pair]:
    if cfg.kind == "folder":
        pairs = _folder_pairs(cfg)
    else:
        pairs = _split_pairs(cfg, cfg.keys, False) + _split_pairs(cfg, cfg.healthy_keys, True)
    if not pairs:
        raise SynthgenError(f"data.path: no images found in {cfg.path}")
    if not any(p.cls != HEALTHY for p in pairs):
        raise SynthgenError(f"data.path: no image with a non-empty mask in {cfg.path}")
    return pairs


def to_input(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 + (H, W) bool -> (C+1, H, W) float32 network input."""
    x = img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    m = mask.astype(np.float32)[None] * 2.0 - 1.0
    return np.concatenate([x, m], 0)


class PairSampler:
    """Draws training inputs (crops or resized images) with a numpy Generator."""

    def __init__(self, pairs: list[Pair], cfg: PairDataConfig):
        self.cfg = cfg
        self.pairs = pairs
        self.defect = [p for p in pairs if p.cls != HEALTHY]
        self.healthy = [p for p in pairs if p.cls == HEALTHY]
        self.classes = sorted({p.cls for p in self.defect})
        # healthy inputs are a class of their own when some are drawn
        if self.healthy and (cfg.healthy_fraction > 0 or cfg.mode == "resize"):
            self.classes.append(HEALTHY)
        self._defect_pix = [np.argwhere(p.mask) for p in self.defect]
        if cfg.mode == "resize":
            self._resized = {id(p): self._fit(p.image, p.mask) for p in pairs}

    def _fit(self, img, mask):
        S = self.cfg.size
        interp = cv2.INTER_AREA if max(img.shape[:2]) > S else cv2.INTER_LINEAR
        im = cv2.resize(img, (S, S), interpolation=interp).reshape(S, S, img.shape[2])
        mk = cv2.resize(mask.astype(np.float32), (S, S), interpolation=cv2.INTER_LINEAR) > 0.5
        return im, mk

    def _crop(self, p: Pair, pix: np.ndarray | None, rng: np.random.Generator):
        c = self.cfg
        side = max(4, round(c.size * rng.uniform(*c.crop_scale)))
        H, W = p.mask.shape
        if pix is not None and len(pix):
            y, x = pix[rng.integers(len(pix))]
            cy = y + rng.uniform(-c.defect_jitter, c.defect_jitter) * side
            cx = x + rng.uniform(-c.defect_jitter, c.defect_jitter) * side
        else:
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        top = int(np.clip(round(cy - side / 2), 0, max(H - side, 0)))
        left = int(np.clip(round(cx - side / 2), 0, max(W - side, 0)))
        img = p.image[top: top + side, left: left + side]
        mask = p.mask[top: top + side, left: left + side]
        ph, pw = side - img.shape[0], side - img.shape[1]
        if ph or pw:  # image smaller than the crop: replicate edges
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
            mask = np.pad(mask, ((0, ph), (0, pw)))
        if side != c.size:
            return self._fit(img, mask)
        return img, mask

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` inputs (n, C+1, S, S) float32 and class indices (n,) int64."""
        xs, ys = [], []
        for _ in range(n):
            healthy = bool(self.healthy) and HEALTHY in self.classes and rng.random() < self._healthy_share()
            if healthy:
                p = self.healthy[rng.integers(len(self.healthy))]
                pix = None
            else:
                k = rng.integers(len(self.defect))
                p, pix = self.defect[k], self._defect_pix[k]
            if self.cfg.mode == "resize":
                img, mask = self._resized[id(p)]
            else:
                img, mask = self._crop(p, pix, rng)
            if self.cfg.flips:
                r = rng.integers(8)
                img, mask = np.rot90(img, r % 4), np.rot90(mask, r % 4)
                if r >= 4:
                    img, mask = img[:, ::-1], mask[:, ::-1]
            xs.append(to_input(np.ascontiguousarray(img), np.ascontiguousarray(mask)))
            ys.append(self.classes.index(HEALTHY if healthy else p.cls))
        return np.stack(xs), np.array(ys, np.int64)

    def _healthy_share(self) -> float:
        if self.cfg.mode == "resize" and self.cfg.healthy_fraction == 0:
            return len(self.healthy) / len(self.pairs)
        return self.cfg.healthy_fraction

    def class_frequencies(self) -> list[float]:
        """Share of each class among drawn inputs (what `vqgen sample` draws classes from)."""
        h = self._healthy_share() if HEALTHY in self.classes else 0.0
        counts = {c: 0 for c in self.classes}
        for p in self.defect:
            counts[p.cls] += 1
        n = len(self.defect)
        return [h if c == HEALTHY else (1 - h) * counts[c] / n for c in self.classes]
