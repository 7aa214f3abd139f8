"""Segmentation data: readers, size policy, training mixes.

Readers turn a source (``seg_config.SourceConfig``) into a list of ``Entry`` (image path + how
to build its label map). Label maps are uint8 class indices: 0 background, 1..K the classes of
``data.classes`` (binary: every defect kind is 1). Supported sources:

- ``synthgen``: ``images/<scene:06d>_<cam:02d>.png``, ``masks/semantic/<stem>.png`` (uint8, c =
  COCO category id) with category names from ``annotations/coco.json``; without semantic masks
  the COCO annotations (RLE/polygons) are rasterised.
- ``folder``: images with same-named mask files (``<stem><mask_suffix>``, grey > threshold).
- ``coco``: a COCO json; category names give classes.
- ``split``: a json of lists of ``{"image", "mask", "class"}`` entries (paths relative to the json),
  e.g. ``magnetic_tile/split.json`` with keys ``defective.train``, ``healthy.test``...

``SegDataset`` applies the size policy (``resize`` / ``letterbox`` / ``crop``) and caches decoded
images; ``MixSampler`` draws the samples of each epoch from several sources with ratios.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.seg_config import DataConfig, MixItem, SourceConfig

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass
class Entry:
    """One image and the recipe for its label map."""

    image: Path
    mask: Path | None = None            # None: healthy (all background) unless coco_anns is set
    mask_kind: str = "threshold"        # threshold | semantic | coco
    threshold: int = 127
    class_name: str | None = None       # class of all mask pixels (threshold masks)
    category_names: dict[int, str] = field(default_factory=dict)  # semantic index / coco id -> name
    coco_anns: list | None = None
    source: str = ""
    rel: str = ""                       # image path relative to the source root (for reports)

    @property
    def name(self) -> str:
        rel = self.rel or self.image.name
        return f"{self.source}/{rel}" if self.source else rel


# ----------------------------------------------------------------------------- readers


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{path}: cannot read {what}: {exc}") from None


def read_synthgen(root: Path, source: str = "") -> list[Entry]:
    """Entries of a synthgen dataset root."""
    img_dir = root / "images"
    if not img_dir.is_dir():
        raise SynthgenError(f"{root}: not a synthgen dataset (no images/ folder)")
    coco_path = root / "annotations" / "coco.json"
    coco = _read_json(coco_path, "COCO annotations") if coco_path.is_file() else None
    cats = {int(c["id"]): str(c["name"]) for c in (coco or {}).get("categories", [])}
    by_file: dict[str, list] = {}
    if coco is not None:
        ids = {im["id"]: Path(im["file_name"]).name for im in coco.get("images", [])}
        for a in coco.get("annotations", []):
            by_file.setdefault(ids.get(a["image_id"], ""), []).append(a)
    out = []
    for p in sorted(img_dir.glob("*.png")):
        sem = root / "masks" / "semantic" / p.name
        if sem.is_file():
            out.append(Entry(p, sem, "semantic", category_names=cats, source=source))
        elif coco is not None:
            out.append(Entry(p, None, "coco", category_names=cats, coco_anns=by_file.get(p.name, []),
                             source=source))
        else:
            raise SynthgenError(f"{sem}: semantic mask missing and no annotations/coco.json in {root}")
    return out


def read_folder(cfg: SourceConfig, source: str = "") -> list[Entry]:
    """Images in a folder with same-named mask files."""
    root = Path(cfg.path)
    mask_dir = Path(cfg.mask_dir) if cfg.mask_dir else root
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in cfg.extensions)
    mask_of = {p: mask_dir / (p.stem + cfg.mask_suffix) for p in files}
    masks_of_others = {m for q, m in mask_of.items() if m != q}
    out = []
    for p in files:
        if p in masks_of_others:
            continue  # a mask file, not an image
        if mask_of[p] == p:
            raise SynthgenError(f"{p}: image and mask are the same file; set mask_dir or mask_suffix "
                                f"(source '{source}')")
        m = mask_of[p]
        if not m.is_file():
            if cfg.missing_mask == "error":
                raise SynthgenError(f"{p}: no mask file {m.name} in {mask_dir} (set missing_mask: healthy or "
                                    f"skip in source '{source}')")
            if cfg.missing_mask == "skip":
                continue
            m = None
        out.append(Entry(p, m, "threshold", cfg.mask_threshold, cfg.class_name, source=source))
    return out


def read_coco(cfg: SourceConfig, source: str = "") -> list[Entry]:
    path = Path(cfg.path)
    coco = _read_json(path, "COCO annotations")
    root = Path(cfg.images_root) if cfg.images_root else path.parent
    cats = {int(c["id"]): str(c["name"]) for c in coco.get("categories", [])}
    anns: dict[int, list] = {}
    for a in coco.get("annotations", []):
        anns.setdefault(a["image_id"], []).append(a)
    out = []
    for im in sorted(coco.get("images", []), key=lambda x: x["id"]):
        out.append(Entry(root / im["file_name"], None, "coco", category_names=cats,
                         coco_anns=anns.get(im["id"], []), source=source, rel=str(im["file_name"])))
    return out


def read_split(cfg: SourceConfig, source: str = "") -> list[Entry]:
    """Entries listed under ``cfg.keys`` of a split json (``{"image", "mask"?, "class"?}`` or a path)."""
    path = Path(cfg.path)
    data = _read_json(path, "split file")
    root = Path(cfg.images_root) if cfg.images_root else path.parent
    out = []
    for key in cfg.keys:
        node = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise SynthgenError(f"{path}: key '{key}' not found (source '{source}')")
            node = node[part]
        if not isinstance(node, list):
            raise SynthgenError(f"{path}: key '{key}' is not a list (source '{source}')")
        for i, e in enumerate(node):
            if isinstance(e, str):
                e = {"image": e}
            if not isinstance(e, dict) or "image" not in e:
                raise SynthgenError(f"{path}: {key}[{i}]: expected a path or an object with 'image'")
            img = root / e["image"]
            if not img.is_file():
                raise SynthgenError(f"{path}: {key}[{i}].image: file not found: {img}")
            m = root / e["mask"] if e.get("mask") else None
            if m is None or not m.is_file():
                if cfg.missing_mask == "error":
                    raise SynthgenError(f"{path}: {key}[{i}].mask: file not found: {m} (set missing_mask: "
                                        f"healthy or skip in source '{source}')")
                if cfg.missing_mask == "skip":
                    continue
                m = None
            out.append(Entry(img, m, "threshold", cfg.mask_threshold, e.get("class", cfg.class_name),
                             source=source, rel=str(e["image"])))
    return out


def read_source(cfg: SourceConfig, name: str = "") -> list[Entry]:
    """Entries of one configured source (sorted, ``limit`` applied)."""
    if not cfg.available:
        raise SynthgenError(f"source '{name}': path not found: {cfg.path}")
    reader = {"synthgen": lambda: read_synthgen(Path(cfg.path), name), "folder": lambda: read_folder(cfg, name),
              "coco": lambda: read_coco(cfg, name), "split": lambda: read_split(cfg, name)}[cfg.kind]
    entries = reader()
    if not entries:
        raise SynthgenError(f"source '{name}': no images found in {cfg.path}")
    return entries[: cfg.limit] if cfg.limit else entries


# ----------------------------------------------------------------------------- decoding


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
        from pycocotools import mask as mask_utils

        lab = np.zeros(hw, np.uint8)
        for a in e.coco_anns or []:
            seg = a.get("segmentation")
            if not seg:
                continue
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, hw[0], hw[1]))
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, hw[0], hw[1])
            else:
                rle = dict(seg)
                if isinstance(rle["counts"], str):
                    rle["counts"] = rle["counts"].encode("ascii")
            m = mask_utils.decode(rle).astype(bool)
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
            if v == 0:
                continue
            lab[raw == v] = class_index(e.category_names.get(int(v), str(v)), classes, str(e.mask))
        return lab
    scale = 257 if raw.dtype == np.uint16 else 1
    return ((raw > e.threshold * scale).astype(np.uint8) * class_index(e.class_name, classes, str(e.mask)))


# ----------------------------------------------------------------------------- size policy


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


def build_dataset(names: list[str], sources: dict[str, SourceConfig], data: DataConfig) -> SegDataset:
    entries: list[Entry] = []
    for n in names:
        entries.extend(read_source(sources[n], n))
    return SegDataset(entries, data)


def available(names: list[str], sources: dict[str, SourceConfig]) -> list[str]:
    """Names whose source path exists (optional sources may be missing)."""
    return [n for n in names if sources[n].available]


# ----------------------------------------------------------------------------- mixes


class MixSampler:
    """Draws the (dataset index, item index) pairs of each epoch from a mix of sources.

    The samples of an epoch are split over sources in proportion to their ratios (largest
    remainder); within a source, items are drawn without replacement from successive random
    permutations, so every image is seen before any repeats. Fully determined by the generator.
    """

    def __init__(self, mix: list[MixItem], sources: dict[str, SourceConfig], data: DataConfig,
                 samples_per_epoch: int | None = None):
        self.datasets = [build_dataset([m.source], sources, data) for m in mix]
        self.ratios = np.array([m.ratio for m in mix], float)
        self.ratios /= self.ratios.sum()
        self.n = samples_per_epoch or sum(len(d) for d in self.datasets)
        raw = self.ratios * self.n
        counts = np.floor(raw).astype(int)
        for i in np.argsort(-(raw - counts), kind="stable")[: self.n - counts.sum()]:
            counts[i] += 1
        self.counts = counts

    def epoch(self, rng: np.random.Generator) -> list[tuple[int, int]]:
        out = []
        for k, (d, c) in enumerate(zip(self.datasets, self.counts)):
            idx = np.concatenate([rng.permutation(len(d)) for _ in range(-(-c // len(d)))])[:c] if c else []
            out.extend((k, int(i)) for i in idx)
        order = rng.permutation(len(out))
        return [out[i] for i in order]
