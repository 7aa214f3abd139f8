"""REAL and RENDERED as defect instances and healthy images.

A path is read by the learn side's readers (``synthgen.learn.common.sources``), its kind told from
the path: a folder with ``images/`` is a synthgen dataset, a json with ``images`` and
``annotations`` is COCO, another json is a split file, another folder holds images with
same-named masks. A split file is read from its ``*.train`` lists when it has any, so that
calibration never sees test photos (``keys`` overrides).

An *instance* is one defect: a connected component of a class's mask in an image, on both sides
by default (a photo's mask can only be split that way; a rendered image's annotations of one class
are joined, then split the same way), or one COCO annotation (``instances="annotations"``).
Images are read as greyscale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.common.sources import read_mask_file

HEALTHY = "healthy"


@dataclass(frozen=True)
class Item:
    """One defect instance (``cls`` its class) or one healthy image (``cls == "healthy"``)."""

    cls: str
    image: Path
    mask: object = None      # a mask file (threshold > ``threshold``), a COCO annotation, a tuple of
                             # COCO annotations (their union), or None
    component: int = -1      # connected component of the mask (-1: the whole mask / annotation)
    threshold: int = 127


INSTANCES = ("components", "annotations")


def source_config(path: Path, keys: list[str] | None = None, mask_suffix: str = ".png"):
    """The learn side's ``SourceConfig`` for ``path`` (kind told from the path)."""
    from synthgen.learn.common.config import SourceConfig, split_keys

    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"{path}: not found")
    if keys and (path.is_dir() or path.suffix.lower() != ".json"):
        raise SynthgenError(f"--keys: {path} is not a split file; keys pick the lists of a split json")
    if path.is_dir():
        kind = "synthgen" if (path / "images").is_dir() else "folder"
        return SourceConfig(kind=kind, path=str(path), mask_suffix=mask_suffix, missing_mask="healthy")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{path}: cannot read json: {exc}") from None
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return SourceConfig(kind="coco", path=str(path))
    found = split_keys(data) if isinstance(data, dict) else []
    if not found:
        raise SynthgenError(f"{path}: neither a COCO file nor a split file (no lists of entries)")
    if keys:
        missing = [k for k in keys if k not in found]
        if missing:
            raise SynthgenError(f"{path}: --keys: {', '.join(missing)} not in the split file "
                                f"(it has {', '.join(found)})")
    else:
        keys = [k for k in found if k.endswith(".train")] or found
    return SourceConfig(kind="split", path=str(path), keys=keys, missing_mask="healthy")


def read_side(path: Path, keys: list[str] | None = None, mask_suffix: str = ".png",
              default_class: str = "defect", instances: str = "components") -> list[Item]:
    """Instances and healthy images of one side (see the module docstring)."""
    return source_items(source_config(path, keys, mask_suffix), str(path), default_class, instances)


def source_items(cfg, name: str = "", default_class: str = "defect", instances: str = "components") -> list[Item]:
    """Instances and healthy images of a learn-side ``SourceConfig``. ``instances``: for labelled
    annotations (synthgen, COCO), ``components`` counts them as a mask file's are counted (the
    connected components of each class's mask in an image: the only way a photo's mask splits, so
    both sides' sizes mean the same), ``annotations`` one instance per annotation."""
    from synthgen.learn.common.sources import hybrid_dataset, read_source

    if instances not in INSTANCES:
        raise SynthgenError(f"--instances {instances}: expected one of {', '.join(INSTANCES)}")
    if cfg.kind in ("synthgen", "hybrid"):
        return _synthgen_items(Path(cfg.path) if cfg.kind == "synthgen" else hybrid_dataset(cfg, name), instances)
    out: list[Item] = []
    for e in read_source(cfg, name):
        if e.mask_kind == "coco":
            anns = [a for a in e.coco_anns or [] if a.get("segmentation")]
            out += _annotation_items(e.image, anns, e.category_names, instances, default_class)
            continue
        n = _components(e.mask, e.threshold) if e.mask is not None else 0
        if n == 0:
            out.append(Item(HEALTHY, e.image))
        out += [Item(e.class_name or default_class, e.image, e.mask, k, e.threshold) for k in range(1, n + 1)]
    return out


def _synthgen_items(root: Path, instances: str = "components") -> list[Item]:
    from synthgen.dataset.reader import COCO, read_items

    idx = read_items(root)
    if idx.unlisted:  # their defects would be read as healthy images
        raise SynthgenError(f"{root}: {idx.unlisted} of {len(idx.items)} images are not in {COCO} (the render has "
                            f"not finished: run synthgen render again to finish it, or wait for it)")
    out = []
    for it in idx.items:
        out += _annotation_items(it.image, it.annotations, idx.categories, instances)
    return out


def _annotation_items(image: Path, anns: list[dict], categories: dict, instances: str,
                      default_class: str = "defect") -> list[Item]:
    """The instances of one image's annotations (a healthy item when it has none)."""
    if not anns:
        return [Item(HEALTHY, image)]
    if instances == "annotations":
        return [Item(categories.get(int(a["category_id"]), default_class), image, a) for a in anns]
    from PIL import Image

    with Image.open(image) as im:
        hw = (im.height, im.width)
    by: dict[str, list[dict]] = {}
    for a in anns:
        by.setdefault(categories.get(int(a["category_id"]), default_class), []).append(a)
    out = []
    for cls, group in sorted(by.items()):
        union = tuple(group)
        n, _ = cv2.connectedComponents(_union_mask(union, hw).astype(np.uint8), connectivity=8)
        out += [Item(cls, image, union, k) for k in range(1, n)]
    return out


def _union_mask(anns: tuple, hw: tuple[int, int]) -> np.ndarray:
    from synthgen.annotate.coco import decode_segmentation

    m = np.zeros(hw, bool)
    for a in anns:
        m |= decode_segmentation(a["segmentation"], hw)
    return m


def _components(mask_path: Path, threshold: int) -> int:
    n, _ = cv2.connectedComponents(read_mask_file(mask_path, threshold).astype(np.uint8), connectivity=8)
    return int(n) - 1


def read_image(path: Path) -> np.ndarray:
    """(H, W) uint8 greyscale."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise SynthgenError(f"{path}: cannot read image")
    return img


def item_mask(item: Item, hw: tuple[int, int]) -> np.ndarray | None:
    """The instance's bool mask (None for a healthy image)."""
    if item.mask is None:
        return None
    if isinstance(item.mask, dict):
        from synthgen.annotate.coco import decode_segmentation

        return decode_segmentation(item.mask["segmentation"], hw)
    m = _union_mask(item.mask, hw) if isinstance(item.mask, tuple) else read_mask_file(Path(item.mask), item.threshold)
    if item.component < 0:
        return m
    _, lab = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
    return lab == item.component


def classes_of(items: list[Item]) -> list[str]:
    """Defect classes present, sorted, then ``healthy`` when present."""
    cls = sorted({it.cls for it in items} - {HEALTHY})
    return cls + ([HEALTHY] if any(it.cls == HEALTHY for it in items) else [])
