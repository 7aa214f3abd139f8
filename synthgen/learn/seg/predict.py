"""``synthgen seg predict``: look at what a model sees in your images.

For every image (files, or folders searched recursively) the checkpoint's U-Net predicts a
defect probability map at the image's original size. Written to ``--out``:

    overlays/<image>.png   the image with the predicted defect pixels tinted red and outlined,
                           the image's defect score in the corner
    masks/<image>.png      predicted mask, 0 / 255
    scores.csv             image, score (max defect probability: the image-level decision
                           value), defect pixels, components, decision at ``--threshold``

Rows follow the sorted input order; files are written atomically.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from synthgen.errors import SynthgenError
from synthgen.learn.common.checkpoint import load_checkpoint, model_from_checkpoint
from synthgen.learn.common.data import SegDataset, load_image
from synthgen.learn.common.decision import image_score
from synthgen.learn.common.io import atomic_png, atomic_text, ensure_out
from synthgen.learn.common.loop import predict_dataset, resolve_device
from synthgen.learn.common.sources import IMAGE_EXTS, Entry


def collect(inputs: list[Path]) -> list[Entry]:
    out = []
    for p in inputs:
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
            out += [Entry(f, None, rel=str(f.relative_to(p))) for f in files]
        elif p.is_file():
            out.append(Entry(p, None, rel=p.name))
        else:
            raise SynthgenError(f"{p}: no such file or folder")
    if not out:
        raise SynthgenError(f"{', '.join(map(str, inputs))}: no images found ({', '.join(IMAGE_EXTS)})")
    return out


def overlay(image: np.ndarray, mask: np.ndarray, score: float) -> np.ndarray:
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    out = bgr.astype(np.float32)
    out[mask] = 0.5 * out[mask] + 0.5 * np.array([0, 0, 255], np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (0, 0, 255), 1)
    cv2.putText(out, f"{score:.2f}", (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, f"{score:.2f}", (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
    return out


def predict(checkpoint: Path, inputs: list[Path], out: Path, threshold: float = 0.5, device: str = "auto",
            batch_size: int = 8, log=print) -> list[dict]:
    ck = load_checkpoint(checkpoint)
    entries = collect(inputs)
    dev = resolve_device(device)
    model, data = model_from_checkpoint(ck, dev)
    out = ensure_out(out)
    ds = SegDataset(entries, data.model_copy(update={"cache": False}))
    rows = []
    for e, (_name, _gt, prob) in zip(entries, predict_dataset(model, ds, batch_size, "original", dev)):
        mask = prob >= threshold if prob.ndim == 2 else prob.argmax(0) > 0  # as seg eval predicts
        score = image_score(prob)
        img = load_image(e.image, data.channels)
        stem = Path(e.rel).with_suffix(".png")
        atomic_png(out / "overlays" / stem, overlay(img, mask, score))
        atomic_png(out / "masks" / stem, mask.astype(np.uint8) * 255)
        rows.append({"image": e.rel, "score": round(score, 6), "defect_pixels": int(mask.sum()),
                     "components": int(ndimage.label(mask, structure=np.ones((3, 3), bool))[1]),
                     "defective": bool(score >= threshold)})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_text(out / "scores.csv", buf.getvalue())
    n = sum(r["defective"] for r in rows)
    log(f"{len(rows)} images: {n} predicted defective at threshold {threshold}; wrote {out}")
    return rows

