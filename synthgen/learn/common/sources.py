"""Readers of labelled image sources: one ``Entry`` (image + the recipe of its label map) per image.

- ``synthgen``: a synthgen dataset root, read through ``synthgen.dataset.reader`` (the layout
  the render side writes); semantic masks, or the COCO annotations rasterised.
- ``folder``: images with same-named mask files (``<stem><mask_suffix>``, grey > threshold).
- ``coco``: a COCO json; category names give classes.
- ``split``: a json of lists of ``{"image", "mask", "class"}`` entries (paths relative to the json),
  e.g. ``magnetic_tile/split.json`` with keys ``defective.train``, ``healthy.test``...
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from synthgen.dataset.reader import read_items
from synthgen.errors import SynthgenError
from synthgen.learn.common.config import SourceConfig

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
    only: frozenset[str] | None = None  # semantic masks: label only these classes (keep_kinds)

    @property
    def name(self) -> str:
        rel = self.rel or self.image.name
        return f"{self.source}/{rel}" if self.source else rel


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{path}: cannot read {what}: {exc}") from None


def read_synthgen(root: Path, source: str = "") -> list[Entry]:
    """Entries of a synthgen dataset root (through ``synthgen.dataset.reader``)."""
    idx = read_items(root)
    return [Entry(it.image, it.semantic, "semantic", category_names=idx.categories, source=source)
            if it.semantic is not None else
            Entry(it.image, None, "coco", category_names=idx.categories, coco_anns=it.annotations, source=source)
            for it in idx.items]


def _mask_pattern(suffix: str) -> tuple[str, str | None]:
    """``mask_suffix`` -> (text after the image stem, extension or None = any image extension).
    ``.png`` -> ("", ".png"); ``_label.bmp`` -> ("_label", ".bmp"); ``_mask`` -> ("_mask", None)."""
    if "." in suffix:
        k = suffix.rindex(".")
        return suffix[:k], suffix[k:].lower()
    return suffix, None


def walk_files(root: Path, recursive: bool = True) -> list[Path]:
    """Files under ``root``, sorted, following symlinked folders (each real folder once)."""
    if not recursive:
        return sorted(p for p in root.iterdir() if p.is_file())
    out, seen = [], set()
    for top, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        out += [Path(top) / n for n in names]
    return sorted(p for p in out if p.is_file())


def list_images(cfg: SourceConfig) -> tuple[list[Path], Path]:
    """Image files of a folder source (recursive unless ``recursive: false``; symlinked folders
    followed) and the mask folder."""
    root = Path(cfg.path)
    mask_dir = Path(cfg.mask_dir) if cfg.mask_dir else root
    files = [p for p in walk_files(root, cfg.recursive) if p.suffix.lower() in cfg.extensions
             and not p.name.startswith(".")]
    if mask_dir != root:
        files = [p for p in files if not p.is_relative_to(mask_dir)]
    return files, mask_dir


def find_mask(cfg: SourceConfig, image: Path, mask_dir: Path) -> Path | None:
    """The mask file of ``image``, or None: ``<mask_dir>/<same subfolder>/<stem><mask_suffix>``
    (a suffix without extension accepts any image extension)."""
    tail, ext = _mask_pattern(cfg.mask_suffix)
    folder = mask_dir / image.parent.relative_to(Path(cfg.path))
    for e in [ext] if ext else cfg.extensions:
        m = folder / (image.stem + tail + e)
        if m != image and m.is_file():
            return m
    return None


MASK_WORDS = ("label", "mask", "gt", "seg", "annotation", "defect")


def mask_lookalike(p: Path, stems: set[tuple[Path, str]]) -> str | None:
    """The suffix (``_label.bmp``) when ``p`` is named like the mask of another file of ``stems``
    ((folder, stem) pairs): ``<stem><sep><mask word>.<ext>``; else None."""
    for sep in ("_", "-", "."):
        base, _, word = p.stem.rpartition(sep)
        if base and word.lower() in MASK_WORDS and (p.parent, base) in stems:
            return f"{sep}{word}{p.suffix}"
    return None


def _refuse_mask_lookalikes(files: list[Path], masks: set[Path], cfg: SourceConfig, source: str,
                            option: str | None = None) -> None:
    """``Part0_label.bmp`` beside ``Part0.jpg`` is a mask whatever ``mask_suffix`` says: reading it
    as an image (and both as healthy) silently trains on nothing, so say which suffix to set."""
    stems = {(p.parent, p.stem) for p in files}
    for p in files:
        suffix = None if p in masks else mask_lookalike(p, stems)
        if suffix:
            fix = f"pass {option} {suffix}" if option else f"source '{source}': set mask_suffix: {suffix}"
            raise SynthgenError(f"{p}: looks like the mask of {p.name[:-len(suffix)]}.*, but the mask suffix is "
                                f"'{cfg.mask_suffix}' ({fix})")


def read_folder(cfg: SourceConfig, source: str = "", option: str | None = None) -> list[Entry]:
    """Images in a folder tree with same-named mask files; an image without a mask file is an
    error, healthy or skipped (``missing_mask``); an empty mask is healthy too."""
    root = Path(cfg.path)
    files, mask_dir = list_images(cfg)
    tail, ext = _mask_pattern(cfg.mask_suffix)
    mask_of = {p: find_mask(cfg, p, mask_dir) for p in files}
    masks = set(mask_of.values()) - {None}
    _refuse_mask_lookalikes(files, masks, cfg, source, option)
    out = []
    for p in files:
        if p in masks or (tail and p.stem.endswith(tail) and (ext is None or p.suffix.lower() == ext)):
            continue  # a mask file (of another image, or named like one), not an image
        m = mask_of[p]
        if m is None:
            if tail == "" and ext == p.suffix.lower() and mask_dir == root:
                raise SynthgenError(f"{p}: image and mask would be the same file; set mask_dir or mask_suffix "
                                    f"(source '{source}')")
            if cfg.missing_mask == "error":
                raise SynthgenError(f"{p}: no mask file {p.stem}{cfg.mask_suffix} next to it (source '{source}': "
                                    f"set mask_suffix, e.g. _label.bmp, or missing_mask: healthy if images "
                                    f"without a mask are healthy)")
            if cfg.missing_mask == "skip":
                continue
        out.append(Entry(p, m, "threshold", cfg.mask_threshold, cfg.class_name, source=source,
                         rel=str(p.relative_to(root))))
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


def hybrid_dataset(cfg: SourceConfig, name: str = "") -> Path:
    """The composites of a hybrid source: made once per setting (and healthy photo list) under
    ``<rendered>/.hybrid/<hash>``, reused after."""
    from synthgen.io import stable_hash
    from synthgen.realism.hybrid import make_hybrid

    h = cfg.hybrid
    photos = sorted({str(p) for p in healthy_images(h.healthy, f"{name}.hybrid.healthy")})
    key = stable_hash([h.model_dump(mode="json", exclude={"healthy"}), photos], 12)
    out = Path(cfg.path) / ".hybrid" / key
    if not (out / "manifest.json").is_file():
        make_hybrid(Path(cfg.path), [Path(p) for p in photos], out, h.num, h.seed, h.per_image, h.scale, h.mode,
                    healthy_source=f"source '{name}': hybrid.healthy")
    return out


def read_mask_file(path: Path, threshold: int) -> np.ndarray:
    """A defect mask file as a boolean array: a 0/1 mask as it is, a grey one above ``threshold``."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise SynthgenError(f"{path}: cannot read mask")
    if raw.ndim == 3:
        raw = raw.max(axis=2)
    if raw.max() <= 1:
        return raw > 0
    return raw > threshold * (257 if raw.dtype == np.uint16 else 1)


def healthy_images(cfg: SourceConfig, name: str = "") -> list[Path]:
    """The images of a source without a labelled pixel: no mask, an empty mask or no annotation."""
    out = []
    for e in read_source(cfg, name):
        if e.mask_kind == "coco" or cfg.kind in ("synthgen", "hybrid"):
            healthy = not any(a.get("segmentation") for a in e.coco_anns or []) if e.mask_kind == "coco" else (
                e.mask is None or not cv2.imread(str(e.mask), cv2.IMREAD_UNCHANGED).any())
        else:
            healthy = e.mask is None or not read_mask_file(e.mask, e.threshold).any()
        if healthy:
            out.append(e.image)
    return out


def read_source(cfg: SourceConfig, name: str = "") -> list[Entry]:
    """Entries of one configured source (sorted, ``limit`` applied)."""
    if not cfg.available:
        raise SynthgenError(f"source '{name}': path not found: {cfg.path}")
    reader = {"synthgen": lambda: read_synthgen(Path(cfg.path), name), "folder": lambda: read_folder(cfg, name),
              "coco": lambda: read_coco(cfg, name), "split": lambda: read_split(cfg, name),
              "hybrid": lambda: read_synthgen(hybrid_dataset(cfg, name), name)}[cfg.kind]
    entries = reader()
    if not entries:
        raise SynthgenError(f"source '{name}': no images found in {cfg.path}")
    return entries[: cfg.limit] if cfg.limit else entries
