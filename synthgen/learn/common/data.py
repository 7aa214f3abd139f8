"""Decoding, the size policy and mixes: from source entries to the arrays a network sees.

``load_image`` / ``load_label`` decode an entry (``synthgen.learn.common.sources``);
``SegDataset`` applies the size policy (``resize`` / ``letterbox`` / ``crop``) and caches decoded
images; ``MixSampler`` draws the samples of each epoch from several sources with ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.common.config import DataConfig, MixItem, SourceConfig
from synthgen.learn.common.sources import Entry, read_source


def load_image(path: Path, channels: int) -> np.ndarray:
    """(H, W, channels) uint8; greyscale or RGB."""
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    img = cv2.imread(str(path), flag)
    if img is None:
        raise SynthgenError(f"{path}: cannot read image")
    if img.dtype != np.uint8:
        img = (img / (256 if img.dtype == np.uint16 else 1)).astype(np.uint8)
    if channels == 1:
        return img[..., None]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def class_index(name: str | None, classes: list[str], where: str) -> int:
    if len(classes) == 1:
        return 1
    if name is None or name not in classes:
        raise SynthgenError(f"{where}: defect class '{name}' is not in data.classes ({', '.join(classes)})")
    return classes.index(name) + 1


def load_label(e: Entry, classes: list[str], hw: tuple[int, int]) -> np.ndarray:
    """Label map (H, W) uint8 of an entry; ``hw`` is the image size (for healthy entries)."""
    if e.mask_kind == "coco":
        from synthgen.annotate.coco import decode_segmentation

        lab = np.zeros(hw, np.uint8)
        for a in e.coco_anns or []:
            seg = a.get("segmentation")
            if not seg:
                continue
            m = decode_segmentation(seg, hw)
            if m.shape != hw:
                raise SynthgenError(f"{e.image}: COCO mask size {m.shape} != image size {hw}")
            lab[m] = class_index(e.category_names.get(int(a["category_id"])), classes, str(e.image))
        return lab
    if e.mask is None:
        return np.zeros(hw, np.uint8)
    raw = cv2.imread(str(e.mask), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise SynthgenError(f"{e.mask}: cannot read mask")
    if raw.ndim == 3:
        raw = raw.max(axis=2)
    if raw.shape != hw:
        raise SynthgenError(f"{e.mask}: mask size {raw.shape} != image size {hw} of {e.image.name}")
    if e.mask_kind == "semantic":
        lab = np.zeros(hw, np.uint8)
        for v in np.unique(raw):
            name = e.category_names.get(int(v), str(v))
            if v == 0 or (e.only is not None and name not in e.only):
                continue
            lab[raw == v] = class_index(name, classes, str(e.mask))
        return lab
    if raw.max() == 1:
        return raw.astype(np.uint8) * class_index(e.class_name, classes, str(e.mask))  # a 0/1 mask
    scale = 257 if raw.dtype == np.uint16 else 1
    return ((raw > e.threshold * scale).astype(np.uint8) * class_index(e.class_name, classes, str(e.mask)))


@dataclass
class Sample:
    """A decoded, policy-sized sample. ``valid`` is False on padding (ignored by loss/metrics)."""

    image: np.ndarray        # (H, W, C) uint8
    label: np.ndarray        # (H, W) uint8
    valid: np.ndarray        # (H, W) uint8 0/1
    orig_hw: tuple[int, int]
    content_hw: tuple[int, int]  # size of the image content before padding (letterbox)
    name: str


def apply_policy(img: np.ndarray, lab: np.ndarray, data: DataConfig) -> tuple[np.ndarray, np.ndarray,
                                                                               np.ndarray, tuple[int, int]]:
    """Resize/letterbox to ``data.size`` (crop: unchanged). Returns image, label, valid, content size."""
    H, W = data.size
    h, w = lab.shape
    if data.policy == "crop":
        return img, lab, np.ones((h, w), np.uint8), (h, w)
    if data.policy == "resize":
        th, tw = H, W
    else:
        s = min(H / h, W / w)
        th, tw = max(1, round(h * s)), max(1, round(w * s))
    interp = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LINEAR
    im = cv2.resize(img, (tw, th), interpolation=interp).reshape(th, tw, img.shape[2])
    lb = cv2.resize(lab, (tw, th), interpolation=cv2.INTER_NEAREST)
    valid = np.ones((th, tw), np.uint8)
    if (th, tw) != (H, W):
        im = np.pad(im, ((0, H - th), (0, W - tw), (0, 0)))
        lb = np.pad(lb, ((0, H - th), (0, W - tw)))
        valid = np.pad(valid, ((0, H - th), (0, W - tw)))
    return im, lb, valid, (th, tw)


class SegDataset:
    """Entries of one or more sources, decoded with the size policy (cached in memory)."""

    def __init__(self, entries: list[Entry], data: DataConfig):
        self.entries = entries
        self.data = data
        self._cache: dict[int, Sample] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def original_label(self, i: int) -> np.ndarray:
        e = self.entries[i]
        img = load_image(e.image, self.data.channels)
        return load_label(e, self.data.classes, img.shape[:2])

    def __getitem__(self, i: int) -> Sample:
        if i in self._cache:
            return self._cache[i]
        e = self.entries[i]
        img = load_image(e.image, self.data.channels)
        lab = load_label(e, self.data.classes, img.shape[:2])
        im, lb, valid, content = apply_policy(img, lab, self.data)
        s = Sample(im, lb, valid, img.shape[:2], content, e.name)
        if self.data.cache:
            self._cache[i] = s
        return s


def build_dataset(names: list[str], sources: dict[str, SourceConfig], data: DataConfig,
                  kinds: list[str] | None = None) -> SegDataset:
    entries: list[Entry] = []
    for n in names:
        entries.extend(read_source(sources[n], n))
    return SegDataset(entries if kinds is None else keep_kinds(entries, kinds), data)


def keep_kinds(entries: list[Entry], kinds: list[str]) -> list[Entry]:
    """Only the defects of ``kinds``: COCO entries keep those annotations (entries left with none are
    dropped); a synthgen dataset's semantic masks label only those classes; threshold-mask entries
    are kept when their class is one of them. What is left unlabelled of other kinds does not
    matter to a cut patch (pasted by its own mask); do not train on it as a whole image."""
    want, out = frozenset(kinds), []
    for e in entries:
        if e.mask_kind == "coco":
            anns = [a for a in e.coco_anns or [] if e.category_names.get(int(a["category_id"])) in want]
            if anns:
                out.append(replace(e, coco_anns=anns))
        elif e.mask_kind == "semantic":
            out.append(replace(e, only=want))
        elif e.class_name in want:
            out.append(e)
    return out


def available(names: list[str], sources: dict[str, SourceConfig]) -> list[str]:
    """Names whose source path exists (optional sources may be missing)."""
    return [n for n in names if sources[n].available]


class MixSampler:
    """Draws the (dataset index, item index) pairs of each epoch from a mix of sources.

    The samples of an epoch are split over sources in proportion to their ratios (largest
    remainder); within a source, items are drawn without replacement from successive random
    permutations, so every image is seen before any repeats. A source with ``ratio_end`` has its
    ratio moved linearly from ``ratio`` (first epoch) to ``ratio_end`` (last epoch), so a schedule
    is a pure function of the epoch. Fully determined by the generator.
    """

    def __init__(self, mix: list[MixItem], sources: dict[str, SourceConfig], data: DataConfig,
                 samples_per_epoch: int | None = None, epochs: int = 1):
        self.datasets = [build_dataset([m.source], sources, data) for m in mix]
        self.start = np.array([m.ratio for m in mix], float)
        self.end = np.array([m.ratio if m.ratio_end is None else m.ratio_end for m in mix], float)
        self.epochs = epochs
        self.n = samples_per_epoch or sum(len(d) for d in self.datasets)

    def ratios_at(self, epoch: int) -> np.ndarray:
        """The normalised ratios of epoch ``epoch`` (0-based)."""
        f = epoch / (self.epochs - 1) if self.epochs > 1 else 0.0
        r = self.start + min(max(f, 0.0), 1.0) * (self.end - self.start)
        return r / r.sum()

    def counts_at(self, epoch: int) -> np.ndarray:
        """Samples per source in epoch ``epoch``: the ratios times the epoch's size, largest remainder."""
        raw = self.ratios_at(epoch) * self.n
        counts = np.floor(raw).astype(int)
        for i in np.argsort(-(raw - counts), kind="stable")[: self.n - counts.sum()]:
            counts[i] += 1
        return counts

    def epoch(self, rng: np.random.Generator, epoch: int = 0) -> list[tuple[int, int]]:
        out = []
        for k, (d, c) in enumerate(zip(self.datasets, self.counts_at(epoch))):
            idx = np.concatenate([rng.permutation(len(d)) for _ in range(-(-c // len(d)))])[:c] if c else []
            out.extend((k, int(i)) for i in idx)
        order = rng.permutation(len(out))
        return [out[i] for i in order]
