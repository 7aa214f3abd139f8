"""``synthgen seg predict``: look at what a model sees in your images.

For every image (files, or folders searched recursively) the checkpoint's U-Net predicts a
defect probability map at the image's original size, and the checkpoint's saved decision
(``synthgen.learn.common.decision``: score rule and threshold chosen on validation) calls it OK
or NG. Written to ``--out``:

    scores.csv             image, score, rule, threshold, decision (OK / NG), predicted defect
                           pixels and components
    overlays/<image>.png   for each NG image (<image>.<ext>.png where two inputs share a
                           stem): the image with the predicted defect pixels tinted red and
                           outlined, "NG" and the score in the corner, and, under the `head`
                           rule, a yellow box where the decision head's score came from
    masks/<image>.png      predicted mask of every image, 0 / 255

``--threshold`` (and ``--rule``) replace the saved decision, for a checkpoint without one or to
move the operating point by hand. Rows follow the sorted input order; files are written atomically.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from synthgen.errors import SynthgenError
from synthgen.learn.common.checkpoint import load_checkpoint, model_from_checkpoint
from synthgen.learn.common.data import SegDataset, load_image
from synthgen.learn.common.decision import RULES, Decision
from synthgen.learn.common.io import atomic_png, atomic_text, ensure_out
from synthgen.learn.common.loop import predict_dataset, resolve_device
from synthgen.learn.common.operating import require_decision, saved_decision
from synthgen.learn.common.sources import IMAGE_EXTS, Entry, mask_lookalike, walk_files


def collect(inputs: list[Path], mask_suffix: str | None = None, log=print) -> list[Entry]:
    """The images of ``inputs`` (files, and folders searched recursively). Each keeps
    its path relative to the inputs' common folder, so outputs of photos with the same name in
    different folders stay apart. ``mask_suffix``: files named ``<stem><suffix>`` after another
    input are masks and are left out; without it, files that look like masks are named in a warning."""
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files += [f for f in walk_files(p) if f.suffix.lower() in IMAGE_EXTS]
        elif p.is_file():
            files.append(p)
        else:
            raise SynthgenError(f"{p}: no such file or folder")
    names = {(f.parent, f.stem) for f in files}
    if mask_suffix:
        files = [f for f in files if not (f.name.endswith(mask_suffix)
                                          and (f.parent, f.name[:-len(mask_suffix)]) in names)]
    else:
        lookalikes = [(f, sfx) for f in files if (sfx := mask_lookalike(f, names))]
        if lookalikes:
            f, sfx = lookalikes[0]
            log(f"warning: {len(lookalikes)} input(s) are named like the masks of other inputs ({f.name}); they are "
                f"predicted as photos. Pass --mask-suffix {sfx} to leave them out")
    if not files:
        raise SynthgenError(f"{', '.join(map(str, inputs))}: no images found ({', '.join(IMAGE_EXTS)})")
    roots = [p if p.is_dir() else p.parent for p in inputs]
    base = Path(os.path.commonpath([r.resolve() for r in roots])) if len(inputs) > 1 else roots[0].resolve()
    return [Entry(f, None, rel=str(f.resolve().relative_to(base)) if f.resolve().is_relative_to(base) else f.name)
            for f in files]


def overlay(image: np.ndarray, mask: np.ndarray, score: float, label: str = "",
            box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The image, predicted defect pixels tinted red and outlined, the label and score in the
    corner; ``box`` (x0, y0, x1, y1): where the decision head's score came from, in yellow."""
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    out = bgr.astype(np.float32)
    out[mask] = 0.5 * out[mask] + 0.5 * np.array([0, 0, 255], np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (0, 0, 255), 1)
    if box is not None:
        cv2.rectangle(out, box[:2], box[2:], (0, 255, 255), 1)
    text = f"{label} {score:.3g}".strip()
    cv2.putText(out, text, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
    return out


def hotspot(dmap: np.ndarray, sample) -> tuple[int, int, int, int]:
    """The decision head's hottest cell (8 x 8 network pixels), with one cell around it, as a box
    in original image pixels."""
    r, c = np.unravel_index(int(np.argmax(dmap)), dmap.shape)
    (th, tw), (oh, ow) = sample.content_hw, sample.orig_hw
    sy, sx = oh / th, ow / tw
    x0, y0 = max(0, int((c - 1) * 8 * sx)), max(0, int((r - 1) * 8 * sy))
    return x0, y0, min(ow - 1, int((c + 2) * 8 * sx)), min(oh - 1, int((r + 2) * 8 * sy))


def resolve(ck: dict, where: str, threshold: float | None, rule: str | None) -> Decision:
    """The saved decision, or one made of ``--threshold`` / ``--rule``."""
    if threshold is None:
        dec = require_decision(ck, where)
        if rule is not None and rule != dec.rule:
            raise SynthgenError(f"--rule {rule}: the saved threshold belongs to rule {dec.rule}; pass --threshold too")
        return dec
    if rule is not None and rule not in RULES:
        raise SynthgenError(f"--rule: unknown score rule '{rule}' ({', '.join(RULES)})")
    base = saved_decision(ck, where) or Decision("max", 0.5, 1.0)
    return Decision(rule or base.rule, threshold, base.recall, base.top_k, base.sigma, base.pixel_threshold,
                    rule or base.rule)


def predict(checkpoint: Path, inputs: list[Path], out: Path, threshold: float | None = None, device: str = "auto",
            batch_size: int = 8, rule: str | None = None, mask_suffix: str | None = None, log=print) -> list[dict]:
    ck = load_checkpoint(checkpoint)
    dec = resolve(ck, str(checkpoint), threshold, rule)
    entries = collect(inputs, mask_suffix, log)
    dev = resolve_device(device)
    model, data = model_from_checkpoint(ck, dev)
    if dec.rule == "head" and model.decision is None:
        raise SynthgenError(f"{checkpoint}: decision rule 'head' needs a model with a decision head")
    out = ensure_out(out)
    ds = SegDataset(entries, data.model_copy(update={"cache": False}))
    rows = []
    maps: dict = {}  # the decision head's map of the batch being predicted (its hottest cell is drawn)
    hook = model.decision.register_forward_hook(lambda _m, _i, o: maps.update(last=o.detach().float().cpu())) \
        if model.decision is not None and dec.rule == "head" else None
    bs = 1 if data.policy == "crop" else batch_size  # as predict_dataset batches
    stems = [Path(e.rel).with_suffix(".png") for e in entries]
    if len(set(stems)) < len(stems):  # img.jpg and img.png both given: keep the extensions apart
        stems = [Path(e.rel + ".png") for e in entries]
    preds = predict_dataset(model, ds, batch_size, "original", dev)
    for idx, (e, stem, (_name, _gt, prob, head)) in enumerate(zip(entries, stems, preds)):
        mask = prob >= dec.pixel_threshold if prob.ndim == 2 else prob.argmax(0) > 0  # as seg eval predicts
        score = dec.score(prob, head)
        ng = bool(score >= dec.threshold)
        if ng:
            box = hotspot(maps["last"][idx % bs, 0].numpy(), ds[idx]) if hook is not None else None
            atomic_png(out / "overlays" / stem, overlay(load_image(e.image, data.channels), mask, score, "NG", box))
        atomic_png(out / "masks" / stem, mask.astype(np.uint8) * 255)
        rows.append({"image": e.rel, "score": round(score, 6), "rule": dec.rule, "threshold": round(dec.threshold, 6),
                     "decision": "NG" if ng else "OK", "defect_pixels": int(mask.sum()),
                     "components": int(ndimage.label(mask, structure=np.ones((3, 3), bool))[1])})
    if hook is not None:
        hook.remove()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_text(out / "scores.csv", buf.getvalue())
    n = sum(r["decision"] == "NG" for r in rows)
    log(f"{len(rows)} images: {n} NG, {len(rows) - n} OK (rule {dec.rule}, NG when score >= {dec.threshold:.4g}); "
        f"wrote {out}")
    return rows
