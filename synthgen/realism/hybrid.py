"""Rendered defects on real photos: the hybrid route.

A render with ``verification.save_pairs: true`` keeps, for every kept defect, its box of the
contrast check's two renders (defect on, defect off) and its label (``pairs/``). The change the
defect makes is carried onto a real healthy photo of the same kind of surface:

- ``ratio`` (default): inside the label, the photo is multiplied by (on + 4) / (off + 4) of the
  renders' grey levels: shading changes (a dark pit, a bright rim) scale the photo's own texture;
- ``difference``: inside the label, on - off is added.

Outside the label nothing changes, so the label is exactly the changed pixels that the render's
label holds; a neutral change (on == off) leaves the photo as it was. Each composite draws (from
its own seeded stream) a healthy photo, how many defects, and for each a pair, a scale, flips
and a position where it does not overlap an earlier one; a label cut by the render's image border
(an edge defect) is put with that side on the photo's border (a pair that does not fit is drawn again,
up to five draws per defect). The result is a synthgen-layout
dataset (images/, masks/, annotations/coco.json, manifest.json) that the learn side reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from synthgen.annotate.coco import categories as coco_categories
from synthgen.annotate.coco import image_id, instance_annotations
from synthgen.dataset.reader import COCO, IMAGES, INSTANCE_MASKS, PAIRS, PLANS, SEMANTIC_MASKS
from synthgen.errors import SynthgenError
from synthgen.io import atomic_folder, atomic_write_image, atomic_write_json, atomic_write_png

EPS = 4.0  # grey levels added to both renders in the ratio, so near-black renders do not blow up


@dataclass(frozen=True)
class Pair:
    kind: str
    on: Path
    off: Path
    label: Path


def read_pairs(root: Path) -> list[Pair]:
    """The defect pairs of a rendered dataset, with their kinds (from the scene records)."""
    root = Path(root)
    out = []
    for rec in sorted((root / PLANS).glob("*.json")):
        for cam in json.loads(rec.read_text()).get("accepted_cameras", []):
            stem = Path(cam["image"]).stem
            for v in cam.get("visible_defects", []):
                base = root / PAIRS / f"{stem}_{v['instance']:02d}"
                p = Pair(v["kind"], *(base.with_name(f"{base.name}_{n}.png") for n in ("on", "off", "label")))
                if p.on.is_file() and p.off.is_file() and p.label.is_file():
                    out.append(p)
    if not out:
        raise SynthgenError(f"{root}: no defect pairs under {PAIRS}/ (render it with verification.save_pairs: true)")
    return out


def _grey(a: np.ndarray) -> np.ndarray:
    return (a.mean(axis=2) if a.ndim == 3 else a).astype(np.float32)


def carry(bg: np.ndarray, on: np.ndarray, off: np.ndarray, label: np.ndarray, y: int, x: int,
          mode: str = "ratio") -> tuple[np.ndarray, np.ndarray]:
    """``bg`` (H, W) or (H, W, C) uint8 with the change of (``on``, ``off``) applied inside
    ``label`` (h, w bool) at top-left (``y``, ``x``); returns (image, the placed label (H, W) bool)."""
    h, w = label.shape
    if y < 0 or x < 0 or y + h > bg.shape[0] or x + w > bg.shape[1]:
        raise ValueError("the defect does not fit the photo at that position")
    out = bg.copy()
    region = out[y:y + h, x:x + w].astype(np.float32)
    g_on, g_off = _grey(on), _grey(off)
    if mode == "ratio":
        r = (g_on + EPS) / (g_off + EPS)
        new = region * (r[..., None] if region.ndim == 3 else r)
    elif mode == "difference":
        d = g_on - g_off
        new = region + (d[..., None] if region.ndim == 3 else d)
    else:
        raise SynthgenError(f"--mode: unknown mode '{mode}' (ratio or difference)")
    sel = label[..., None] if region.ndim == 3 else label
    region = np.where(sel, np.clip(np.rint(new), 0, 255), region)
    out[y:y + h, x:x + w] = region.astype(np.uint8)
    placed = np.zeros(bg.shape[:2], bool)
    placed[y:y + h, x:x + w] = label
    return out, placed


def _load_pair(p: Pair, scale: float, flips: tuple[bool, bool]):
    on, off = (cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in (p.on, p.off))
    label = cv2.imread(str(p.label), cv2.IMREAD_GRAYSCALE) > 127
    if on is None or off is None:
        raise SynthgenError(f"{p.on}: cannot read defect pair")
    if scale != 1.0:
        size = (max(1, round(label.shape[1] * scale)), max(1, round(label.shape[0] * scale)))
        on, off = (cv2.resize(a, size, interpolation=cv2.INTER_LINEAR) for a in (on, off))
        label = cv2.resize(label.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    for axis, f in enumerate(flips):
        if f:
            on, off, label = (np.flip(a, axis) for a in (on, off, label))
    return on, off, label


def _onto_cut_sides(label: np.ndarray, y: int, x: int, hw: tuple[int, int]) -> tuple[int, int]:
    """A label that reaches a side of its box was cut there by the render's image border (a break
    at the tile's edge): that side goes onto the photo's border, as in the render."""
    h, w = label.shape
    if label[0].any():
        y = 0
    elif label[-1].any():
        y = hw[0] - h
    if label[:, 0].any():
        x = 0
    elif label[:, -1].any():
        x = hw[1] - w
    return y, x


def compose(bg: np.ndarray, pairs: list[Pair], rng: np.random.Generator, n: int, scale: tuple[float, float],
            mode: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``bg`` with ``n`` defects drawn from ``pairs``; returns (image, instance map uint16, kinds)."""
    img, inst, kinds = bg, np.zeros(bg.shape[:2], np.uint16), []
    for _ in range(5 * n):  # a pair larger than the photo, or with no room left, is drawn again
        if len(kinds) == n:
            break
        p = pairs[int(rng.integers(len(pairs)))]
        on, off, label = _load_pair(p, float(rng.uniform(*scale)), (bool(rng.random() < 0.5), bool(rng.random() < 0.5)))
        h, w = label.shape
        if h > bg.shape[0] or w > bg.shape[1] or not label.any():
            continue
        for _ in range(20):
            y, x = int(rng.integers(bg.shape[0] - h + 1)), int(rng.integers(bg.shape[1] - w + 1))
            y, x = _onto_cut_sides(label, y, x, bg.shape[:2])
            if not (inst[y:y + h, x:x + w] > 0)[label].any():
                img, placed = carry(img, on, off, label, y, x, mode)
                kinds.append(p.kind)
                inst[placed] = len(kinds)
                break
    return img, inst, kinds


def make_hybrid(rendered: Path, healthy: list[Path], out: Path, num: int, seed: int = 0,
                per_image: tuple[int, int] = (1, 1), scale: tuple[float, float] = (1.0, 1.0), mode: str = "ratio",
                jpeg: int | None = None, progress: bool = False, healthy_source: str = "the healthy source") -> dict:
    """Write ``num`` composites into the new folder ``out`` (written aside and renamed in whole)."""
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SynthgenError(f"--out {out}: folder is not empty")
    if not 0 < per_image[0] <= per_image[1]:
        raise SynthgenError(f"--per-image {per_image[0]} {per_image[1]}: need 0 < min <= max")
    if not 0 < scale[0] <= scale[1]:
        raise SynthgenError(f"--scale {scale[0]:g} {scale[1]:g}: need 0 < min <= max")
    pairs = read_pairs(rendered)
    if not healthy:
        raise SynthgenError(f"{healthy_source}: no image without a defect to carry defects onto")
    cats = coco_categories(sorted({p.kind for p in pairs}))
    cat_of = {c["name"]: c["id"] for c in cats}
    images, anns, count = [], [], 0
    with atomic_folder(out) as tmp:
        for i in tqdm(range(num), unit="image", disable=not progress, desc="hybrid"):
            rng = np.random.default_rng([seed, i])  # one stream per composite: any subset is reproducible
            src = healthy[int(rng.integers(len(healthy)))]
            bg = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
            if bg is None:
                raise SynthgenError(f"{src}: cannot read image")
            img, inst, kinds = compose(bg, pairs, rng, int(rng.integers(per_image[0], per_image[1] + 1)), scale, mode)
            stem = f"{i:06d}_00"
            ext = ".jpg" if jpeg else ".png"
            atomic_write_image(tmp / IMAGES / f"{stem}{ext}", img if img.ndim == 2 else img[..., ::-1], jpeg or 95)
            atomic_write_png(tmp / INSTANCE_MASKS / f"{stem}.png", inst)
            sem = np.zeros(inst.shape, np.uint8)
            for k, kind in enumerate(kinds, start=1):
                sem[inst == k] = cat_of[kind]
            atomic_write_png(tmp / SEMANTIC_MASKS / f"{stem}.png", sem)
            iid = image_id(i, 0)
            images.append({"id": iid, "file_name": f"{stem}{ext}", "width": int(inst.shape[1]),
                           "height": int(inst.shape[0]), "background": str(src)})
            anns += instance_annotations(inst, iid, [{"instance": k, "kind": kd} for k, kd in enumerate(kinds, 1)],
                                         cat_of)
            count += len(kinds)
        atomic_write_json(tmp / COCO, {"info": {"description": "synthgen hybrid: rendered defects on real photos"},
                                       "licenses": [], "categories": cats, "images": images, "annotations": anns})
        summary = {"rendered": str(Path(rendered).resolve()), "pairs": len(pairs), "healthy_photos": len(healthy),
                   "images": num, "defects": count, "seed": seed, "per_image": list(per_image), "scale": list(scale),
                   "mode": mode, "jpeg": jpeg}
        atomic_write_json(tmp / "manifest.json", {"hybrid": summary})
    return summary
