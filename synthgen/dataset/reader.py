"""Reading a synthgen dataset folder: the layout the writer produces, for every consumer.

The folder names below are the single definition of the layout (``writer.Dataset`` writes
through them; the learning side's ``synthgen`` source and the preview read through them).
``read_items`` lists the images with, for each, its semantic mask (when written) and its COCO
annotations, so a consumer never re-derives the layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from synthgen.errors import SynthgenError

IMAGES = "images"
INSTANCE_MASKS = "masks/instance"
SEMANTIC_MASKS = "masks/semantic"
PLANS = "plans"
COCO = "annotations/coco.json"
PAIRS = "pairs"  # with verification.save_pairs: <stem>_<k>_{on,off,label}.png per kept defect
JOB_FILE = "job.json"  # config hash, seed, shard (synthgen.dataset.job)
MANIFEST = "manifest.json"
IMAGE_EXTS = (".png", ".jpg")  # images are PNG, or JPEG with render.image_format: jpeg; masks are PNG
# The counts of a scene record (plans/<scene>.json "counts") that manifest.json sums over scenes.
SCENE_COUNTS = ("cameras_planned", "cameras_accepted", "cameras_no_part", "cameras_no_defect",
                "cameras_crop_too_small", "defects_planned", "defect_views_visible", "defect_views_dropped")


def stem(scene_index: int, camera_id: int) -> str:
    """The file stem of one camera's image, masks and pairs: ``<scene:06d>_<camera:02d>``."""
    return f"{scene_index:06d}_{camera_id:02d}"


@dataclass
class DatasetItem:
    image: Path
    semantic: Path | None                        # uint8 class map (0 = background, c = category id)
    annotations: list = field(default_factory=list)  # COCO annotations of the image


@dataclass
class DatasetIndex:
    root: Path
    items: list[DatasetItem]
    categories: dict[int, str]                   # COCO category id -> name
    unlisted: int = 0                            # images not in the COCO file (a render not yet finished)


def read_items(root: Path | str) -> DatasetIndex:
    """Images of a synthgen dataset root (sorted), with their masks and COCO annotations."""
    root = Path(root)
    img_dir = root / IMAGES
    if not img_dir.is_dir():
        raise SynthgenError(f"{root}: not a synthgen dataset (no {IMAGES}/ folder)")
    coco_path = root / COCO
    coco = None
    if coco_path.is_file():
        try:
            coco = json.loads(coco_path.read_text())
        except (OSError, ValueError) as exc:
            raise SynthgenError(f"{coco_path}: cannot read COCO annotations: {exc}") from None
    cats = {int(c["id"]): str(c["name"]) for c in (coco or {}).get("categories", [])}
    by_file: dict[str, list] = {}
    ids: dict = {}
    if coco is not None:
        ids = {im["id"]: Path(im["file_name"]).name for im in coco.get("images", [])}
        for a in coco.get("annotations", []):
            by_file.setdefault(ids.get(a["image_id"], ""), []).append(a)
    items = []
    for p in sorted(p for p in img_dir.iterdir() if p.suffix in IMAGE_EXTS and not p.name.startswith(".")):
        sem = root / SEMANTIC_MASKS / f"{p.stem}.png"
        if not sem.is_file() and coco is None:
            raise SynthgenError(f"{sem}: semantic mask missing and no {COCO} in {root}")
        items.append(DatasetItem(p, sem if sem.is_file() else None, by_file.get(p.name, [])))
    listed = set(ids.values())
    return DatasetIndex(root, items, cats, sum(it.image.name not in listed for it in items))
