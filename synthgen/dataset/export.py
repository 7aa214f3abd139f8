"""Export a synthgen dataset to the formats users load (pure: numpy, OpenCV, pycocotools).

- ``yolo-seg``: Ultralytics segmentation layout: ``images/``, ``labels/<stem>.txt`` with one
  ``class x1 y1 x2 y2 ...`` line per polygon (coordinates normalised to 0..1, classes 0-based
  in COCO category order) and ``data.yaml``;
- ``coco-polygons``: ``annotations/coco.json`` with polygon segmentations instead of RLE;
- ``fiftyone``: FiftyOne's ``COCODetectionDataset`` layout (``data/`` + ``labels.json``, polygons),
  loadable with ``fo.Dataset.from_dir(dir, fo.types.COCODetectionDataset)``.

Polygons trace each instance mask along its pixels' outer boundary, an eighth of a pixel inside
it (contours of the mask upsampled 4x, mapped back): a pixel is inside exactly when its centre
is, so pycocotools (``annToMask``) and the Ultralytics convention (coordinates truncated to
integers, ``cv2.fillPoly``) both give the mask back, one-pixel-wide cracks and single pixels
included, and every polygon has at least 4 points. Formats without holes get each hole joined to
its outer contour by a zero-width cut (the even-odd rule gives the mask back).

``yolo-seg`` splits the images by scene into ``images/train`` and ``images/val`` (and
``labels/...``): ``val_fraction`` of the scenes, drawn with a fixed seed, go to validation, so
no scene's views are on both sides. Images are hard-linked when the file system allows, else
copied; the export is written into a temporary folder and renamed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from synthgen.annotate.coco import decode_rle
from synthgen.dataset.reader import COCO, IMAGES
from synthgen.errors import SynthgenError
from synthgen.io import atomic_folder

FORMATS = ("yolo-seg", "coco-polygons", "fiftyone")


UPSAMPLE = 4  # contours of the 4x mask lie 1/8 pixel inside the pixels' outer boundary


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """(N, 2) float polygons (pixel (x, y) covers [x, x+1] x [y, y+1]) of a boolean mask: one per
    outer contour, its holes cut in, so filling each with the even-odd rule restores the mask."""
    m = np.ascontiguousarray(mask.astype(np.uint8))
    if not m.any():
        return []
    up = cv2.resize(m, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    hier = hierarchy[0]
    out = []
    for i, c in enumerate(contours):
        if hier[i][3] != -1:  # a hole: joined to its parent below
            continue
        poly = c[:, 0, :].astype(np.float64)
        child = hier[i][2]
        while child != -1:
            hole = contours[child][:, 0, :].astype(np.float64)
            d = ((poly[:, None, :] - hole[None, :, :]) ** 2).sum(-1)
            a, b = np.unravel_index(int(np.argmin(d)), d.shape)
            poly = np.vstack([poly[: a + 1], hole[b:], hole[: b + 1], poly[a:]])
            child = hier[child][0]
        out.append((poly + 0.5) / UPSAMPLE)
    return out


def rasterise(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The mask pycocotools makes of polygons (as ``COCO.annToMask`` does: their union)."""
    from pycocotools import mask as mask_utils

    if not polygons:
        return np.zeros(shape, bool)
    h, w = shape
    rle = mask_utils.merge(mask_utils.frPyObjects([p.ravel().tolist() for p in polygons], h, w))
    return mask_utils.decode(rle).astype(bool)


def rasterise_yolo(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The mask of polygons by the Ultralytics convention: coordinates truncated to integers,
    ``cv2.fillPoly`` (union over polygons)."""
    out = np.zeros(shape, np.uint8)
    for p in polygons:
        cv2.fillPoly(out, [p.astype(np.int32)], 1)
    return out.astype(bool)


def scene_split(file_names: list[str], val_fraction: float, seed: int = 0) -> set[str]:
    """The file names that go to validation: every view of ``val_fraction`` of the scenes (file
    names ``<scene>_<camera>.<ext>``), at least one scene when the fraction is above 0."""
    if not 0 <= val_fraction < 1:
        raise SynthgenError(f"--val-fraction {val_fraction}: must be in [0, 1)")
    scenes = sorted({Path(f).name.split("_")[0] for f in file_names})
    if val_fraction == 0:
        return set()
    if len(scenes) < 2:
        raise SynthgenError(f"--val-fraction {val_fraction}: the dataset has {len(scenes)} scene, and a split by scene "
                            f"needs 2 or more (or --val-fraction 0: validate on the training images)")
    n_val = min(len(scenes) - 1, max(1, round(val_fraction * len(scenes))))
    val = set(np.random.default_rng(seed).choice(scenes, n_val, replace=False).tolist())
    return {f for f in file_names if Path(f).name.split("_")[0] in val}


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def export_dataset(root: str | Path, out: str | Path, fmt: str, val_fraction: float = 0.2) -> dict:
    """Write ``root`` (a synthgen dataset) to ``out`` in ``fmt``; returns counts."""
    root, out = Path(root), Path(out)
    if fmt not in FORMATS:
        raise SynthgenError(f"--format {fmt!r}: not one of {', '.join(FORMATS)}")
    coco_path = root / COCO
    if not coco_path.is_file():
        raise SynthgenError(f"{root}: not a synthgen dataset (no {COCO})")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SynthgenError(f"{out}: exists and is not an empty folder; give a new --out")
    coco = json.loads(coco_path.read_text())
    val = scene_split([im["file_name"] for im in coco["images"]], val_fraction) if fmt == "yolo-seg" else set()
    with atomic_folder(out) as tmp:
        counts = _write(root, coco, tmp, fmt, val)
    return counts


def _write(root: Path, coco: dict, out: Path, fmt: str, val: set[str]) -> dict:
    cats = sorted(coco["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}  # YOLO classes are 0-based
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    polygons = 0
    anns_out = []
    for img in coco["images"]:
        w, h = img["width"], img["height"]
        subset = "val" if img["file_name"] in val else "train"
        img_dir = {"yolo-seg": out / "images" / subset, "coco-polygons": out / IMAGES, "fiftyone": out / "data"}[fmt]
        _link(root / IMAGES / img["file_name"], img_dir / img["file_name"])
        lines = []
        for a in by_image.get(img["id"], []):
            polys = mask_polygons(decode_rle(a["segmentation"]))
            polygons += len(polys)
            for p in polys:
                xy = p / np.array([w, h])
                lines.append(f"{index[a['category_id']]} " + " ".join(f"{v:.6f}" for v in xy.ravel()))
            if fmt != "yolo-seg":
                anns_out.append({**a, "segmentation": [[round(float(v), 2) for v in p.ravel()] for p in polys]})
        if fmt == "yolo-seg":
            label = out / "labels" / subset / f"{Path(img['file_name']).stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{ln}\n" for ln in lines))
    if fmt == "yolo-seg":
        names = "\n".join(f"  {i}: {c['name']}" for i, c in enumerate(cats))
        n_val = len({Path(f).name.split("_")[0] for f in val})
        (out / "data.yaml").write_text(
            f"# synthgen export (YOLO segmentation); validation: {n_val} scene(s), every view of each\n"
            f"path: .\ntrain: images/train\nval: {'images/val' if val else 'images/train'}\nnames:\n{names}\n")
    else:
        doc = {**coco, "annotations": anns_out}
        target = out / ("labels.json" if fmt == "fiftyone" else COCO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc))
    return {"images": len(coco["images"]), "instances": len(coco["annotations"]), "polygons": polygons,
            "val_images": len(val)}
