"""One accepted camera's labels (pure: numpy + pycocotools): instance and semantic masks from the
defect-ID map, its COCO image and annotations, and its record in the scene's plan file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthgen.annotate.coco import image_id, instance_annotations
from synthgen.dataset.reader import stem as image_stem


@dataclass
class CameraLabels:
    instance: np.ndarray  # uint16: 0 background, k = k-th kept defect of the image
    semantic: np.ndarray  # uint8: 0 background, c = category id of the defect's kind
    coco_image: dict[str, Any]
    coco_annotations: list[dict[str, Any]]
    record: dict[str, Any]  # the camera's entry in the scene record (accepted_cameras)


def camera_labels(scene_index: int, camera_id: int, ids: np.ndarray, visible: list[dict], dropped: list[dict],
                  category_of: dict[str, int], crop: tuple[int, int, int, int] | None = None,
                  image_ext: str = ".png") -> CameraLabels:
    """Labels of one camera: ``ids`` is its (cropped) defect-ID map, ``visible`` the kept defects
    (numbered 1..n in this order), ``dropped`` the others with their reasons; the image file ends
    in ``image_ext``."""
    keep = {v["defect_id"]: n + 1 for n, v in enumerate(visible)}  # defect id -> instance k
    inst = np.zeros(ids.shape, np.uint16)
    sem = np.zeros(ids.shape, np.uint8)
    for v in visible:
        m = ids == v["defect_id"]
        inst[m] = keep[v["defect_id"]]
        sem[m] = category_of[v["kind"]]
    stem = image_stem(scene_index, camera_id)
    crop_field = {"crop": list(crop)} if crop else {}
    img_id = image_id(scene_index, camera_id)
    coco_image = {"id": img_id, "file_name": f"{stem}{image_ext}", "width": int(ids.shape[1]), "height": int(ids.shape[0]),
                  "scene_id": scene_index, "camera_id": camera_id, **crop_field}
    instances = [{"instance": keep[v["defect_id"]], "kind": v["kind"], "defect_id": v["defect_id"],
                  "scene_id": scene_index, "camera_id": camera_id, "part_instance_id": v["part_instance_id"]}
                 for v in visible]
    record = {"camera_id": camera_id, "image": f"images/{stem}{image_ext}", **crop_field,
              "visible_defects": [{**v, "instance": keep[v["defect_id"]]} for v in visible],
              "dropped_defects": dropped}
    return CameraLabels(inst, sem, coco_image, instance_annotations(inst, img_id, instances, category_of), record)
