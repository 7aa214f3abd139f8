"""Export a synthgen dataset to the formats users load (pure: numpy, OpenCV, pycocotools).

- ``yolo-seg``: Ultralytics segmentation layout: ``images/``, ``labels/<stem>.txt`` with one
  ``class x1 y1 x2 y2 ...`` line per polygon (coordinates normalised to 0..1, classes 0-based
  in COCO category order) and ``data.yaml``;
- ``coco-polygons``: ``annotations/coco.json`` with polygon segmentations instead of RLE;
- ``fiftyone``: FiftyOne's ``COCODetectionDataset`` layout (``data/`` + ``labels.json``, polygons),
  loadable with ``fo.Dataset.from_dir(dir, fo.types.COCODetectionDataset)``.

Polygons are OpenCV contours of each instance mask (``CHAIN_APPROX_NONE``: every boundary
pixel). Formats without holes get each hole joined to its outer contour by a zero-width cut, so
a polygon filled with the even-odd rule gives the mask back. Images are hard-linked when the
file system allows, else copied; the export is written into a temporary folder and renamed.
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


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """(N, 2) float pixel-corner polygons of a boolean mask: one per outer contour, its holes cut
    in, so filling each with the even-odd rule restores the mask."""
    m = np.ascontiguousarray(mask.astype(np.uint8))
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
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
        out.append(poly)
    return out


def rasterise(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`mask_polygons` (even-odd fill of pixel-centre polygons)."""
    out = np.zeros(shape, np.uint8)
    for p in polygons:
        layer = np.zeros(shape, np.uint8)
        cv2.fillPoly(layer, [np.round(p).astype(np.int32)], 1)
        out ^= layer
    return out.astype(bool)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def export_dataset(root: str | Path, out: str | Path, fmt: str) -> dict:
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
    with atomic_folder(out) as tmp:
        counts = _write(root, coco, tmp, fmt)
    return counts


def _write(root: Path, coco: dict, out: Path, fmt: str) -> dict:
    cats = sorted(coco["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}  # YOLO classes are 0-based
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    polygons = 0
    anns_out = []
    for img in coco["images"]:
        w, h = img["width"], img["height"]
        img_dir = {"yolo-seg": out / "images", "coco-polygons": out / IMAGES, "fiftyone": out / "data"}[fmt]
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
            label = out / "labels" / f"{Path(img['file_name']).stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{ln}\n" for ln in lines))
    if fmt == "yolo-seg":
        names = "\n".join(f"  {i}: {c['name']}" for i, c in enumerate(cats))
        (out / "data.yaml").write_text(f"# synthgen export (YOLO segmentation)\npath: .\ntrain: images\n"
                                       f"val: images\nnames:\n{names}\n")
    else:
        doc = {**coco, "annotations": anns_out}
        target = out / ("labels.json" if fmt == "fiftyone" else COCO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc))
    return {"images": len(coco["images"]), "instances": len(coco["annotations"]), "polygons": polygons}
