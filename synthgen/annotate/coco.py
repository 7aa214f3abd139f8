"""Masks -> COCO instances (pure: numpy + pycocotools).

Image and annotation ids are derived from (scene, camera, instance) rather than counters, so a
resumed, sharded or merged run produces byte-identical annotations to a single uninterrupted run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

CAMERA_STRIDE = 1000  # image_id = scene * 1000 + camera
INSTANCE_STRIDE = 1000  # annotation_id = image_id * 1000 + instance


def image_id(scene_index: int, camera_id: int) -> int:
    return scene_index * CAMERA_STRIDE + camera_id + 1


def annotation_id(img_id: int, instance: int) -> int:
    return img_id * INSTANCE_STRIDE + instance


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE of a boolean (H, W) mask, with ``counts`` as str (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    r = dict(rle)
    if isinstance(r["counts"], str):
        r["counts"] = r["counts"].encode("ascii")
    return mask_utils.decode(r).astype(bool)


def decode_segmentation(seg, hw: tuple[int, int]) -> np.ndarray:
    """A COCO segmentation of any form (polygons, uncompressed or compressed RLE) as a bool (H, W) mask."""
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, hw[0], hw[1]))
    elif isinstance(seg.get("counts"), list):
        rle = mask_utils.frPyObjects(seg, hw[0], hw[1])
    else:
        rle = dict(seg)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
    return mask_utils.decode(rle).astype(bool)


def instance_annotations(instance_map: np.ndarray, img_id: int, instances: list[dict[str, Any]],
                         category_of_kind: dict[str, int]) -> list[dict[str, Any]]:
    """COCO annotations for an instance-id map (H, W uint16; k = instance k).

    ``instances`` lists ``{"instance": k, "kind": str, "defect_id": int, ...}`` for each k
    present; extra keys are copied into the annotation (scene/camera/defect ids).
    """
    anns = []
    for inst in instances:
        k = inst["instance"]
        m = instance_map == k
        if not m.any():
            continue
        rle = encode_rle(m)
        x, y, w, h = (float(v) for v in mask_utils.toBbox(mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))))
        ann = {
            "id": annotation_id(img_id, k),
            "image_id": img_id,
            "category_id": category_of_kind[inst["kind"]],
            "segmentation": rle,
            "area": int(m.sum()),
            "bbox": [x, y, w, h],
            "iscrowd": 0,
        }
        ann.update({key: v for key, v in inst.items() if key not in ("instance", "kind")})
        anns.append(ann)
    return anns


def categories(kinds: list[str]) -> list[dict[str, Any]]:
    """COCO categories, ids 1..K in the given (sorted) kind order; also the semantic class index."""
    return [{"id": i + 1, "name": k, "supercategory": "defect"} for i, k in enumerate(kinds)]
