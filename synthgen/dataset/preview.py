"""Contact sheets of rendered output: images in a grid, labelled, with mask overlays when the
dataset has instance masks (pure: PIL/opencv/numpy)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from synthgen.dataset.reader import IMAGE_EXTS
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_bytes

# Distinct overlay colours (RGB) for instance ids; id k uses PALETTE[k % len].
PALETTE = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)], np.uint8)


def overlay(image: np.ndarray, instance: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend instance ids (H, W uint16, 0 = background) over an RGB image (H, W, 3 uint8), with
    1-px contours so small masks stay visible."""
    out = image.astype(np.float32).copy()
    for k in np.unique(instance):
        if k == 0:
            continue
        m = instance == k
        col = PALETTE[int(k) % len(PALETTE)].astype(np.float32)
        out[m] = (1 - alpha) * out[m] + alpha * col
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in col), 1)
    return np.clip(out, 0, 255).astype(np.uint8)


def contact_sheet(root: str | Path, out: str | Path, max_images: int = 36, columns: int = 6,
                  thumb_width: int = 320) -> Path:
    """Write a grid of the dataset's images (with overlays if ``masks/instance`` exists)."""
    root, out = Path(root), Path(out)
    if out.suffix.lower() != ".png":
        raise SynthgenError(f"--out {out}: the contact sheet is a PNG; give a file name ending in .png")
    images = sorted(p for p in (root / "images").glob("*") if p.suffix in IMAGE_EXTS)
    if not images:
        raise SynthgenError(f"{root}: no images found under images/ (is this a synthgen output folder?)")
    images = images[:max_images]
    thumbs = []
    for p in images:
        im = np.asarray(Image.open(p).convert("RGB"))
        inst_path = root / "masks" / "instance" / f"{p.stem}.png"
        label = p.stem
        kinds: dict[int, str] = {}
        inst = None
        if inst_path.is_file():
            inst = np.asarray(Image.open(inst_path))
            im = overlay(im, inst)
            label += f"  {len(np.unique(inst)) - 1} defects"
            scene_idx, cam_idx = (int(x) for x in p.stem.split("_")[:2])
            for cam in plan_summary(root, scene_idx).get("accepted_cameras", []):
                if cam["camera_id"] == cam_idx:
                    kinds = {v["instance"]: v["kind"] for v in cam["visible_defects"]}
        scale = thumb_width / im.shape[1]
        h = round(im.shape[0] * scale)
        t = Image.fromarray(im).resize((thumb_width, h), Image.LANCZOS)
        draw = ImageDraw.Draw(t)
        draw.text((4, 2), label, fill=(255, 255, 0))
        for k, kind in kinds.items():
            ys, xs = np.nonzero(inst == k)
            if len(xs):
                x, y = xs.max() * scale + 3, ys.min() * scale - 2
                col = tuple(int(c) for c in PALETTE[k % len(PALETTE)])
                draw.text((x + 1, y + 1), kind, fill=(0, 0, 0))
                draw.text((x, y), kind, fill=col)
        thumbs.append(t)
    th = max(t.height for t in thumbs)
    rows = (len(thumbs) + columns - 1) // columns
    cols = min(columns, len(thumbs))
    sheet = Image.new("RGB", (cols * thumb_width, rows * th), (20, 20, 20))
    for i, t in enumerate(thumbs):
        sheet.paste(t, ((i % columns) * thumb_width, (i // columns) * th))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    return out


def plan_summary(root: str | Path, scene_index: int) -> dict:
    p = Path(root) / "plans" / f"{scene_index:06d}.json"
    return json.loads(p.read_text()) if p.is_file() else {}
