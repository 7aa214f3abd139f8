"""Benchmark: can a small classifier tell the twin's crops from real magnetic-tile photos?

A realism score for the twin (issue 13): patches of ``--patch`` px at native scale are cut from
real photos (``../shared/data/magnetic_tile``, the fixed split) and from a rendered twin dataset,
per class (the five defect classes, centred on a defect; ``healthy``, anywhere), in equal numbers.
Images are split in halves (real and twin separately, by image, so no photo gives patches to both
halves); a small CNN (plain torch) learns real vs twin on one half and is tested on the other.
Accuracy 50 % means indistinguishable; the aim is under 75 %. Mean ± std over ``--seeds``.

Real photos are JPEGs and the twin writes PNGs; ``--jpeg Q`` recompresses the twin's patches at
quality Q first, so the score measures the look rather than the file format.

    python benchmarks/twin_realism.py out/twin_magnetic_tile --seeds 0 1 2 --jpeg 90
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "magnetic_tile"
CLASSES = ["Blowhole", "Break", "Crack", "Fray", "Uneven", "healthy"]


def _patch(img: np.ndarray, mask: np.ndarray | None, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """A ``size`` patch of the greyscale ``img``: centred on a random defect pixel when ``mask``
    has one (shifted to stay inside), else anywhere; None when the image is too small."""
    H, W = img.shape
    if H < size or W < size:
        return None
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        k = int(rng.integers(len(ys)))
        y0 = int(np.clip(ys[k] - size // 2, 0, H - size))
        x0 = int(np.clip(xs[k] - size // 2, 0, W - size))
    else:
        y0, x0 = int(rng.integers(H - size + 1)), int(rng.integers(W - size + 1))
    return img[y0: y0 + size, x0: x0 + size]


def real_items(split: Path) -> list[tuple[str, Path, Path | None]]:
    s = json.loads(split.read_text())
    out = []
    for part in ("train", "val", "test"):
        out += [(e["class"], split.parent / e["image"], split.parent / e["mask"]) for e in s["defective"][part]]
        out += [("healthy", split.parent / e["image"], None) for e in s["healthy"][part]]
    return out


def twin_items(root: Path) -> list[tuple[str, Path, dict | None]]:
    from synthgen.dataset.reader import read_items

    idx = read_items(root)
    out = []
    for it in idx.items:
        if not it.annotations:
            out.append(("healthy", it.image, None))
        for a in it.annotations:
            out.append((idx.categories[a["category_id"]], it.image, a))
    return out


def _load(item, size: int, rng, jpeg: int | None) -> np.ndarray | None:
    from pycocotools import mask as mask_utils

    _, path, m = item  # m: a COCO annotation (twin), a mask file (real defect) or None (healthy)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if jpeg:
        img = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg])[1], cv2.IMREAD_GRAYSCALE)
    if isinstance(m, dict):
        rle = dict(m["segmentation"])
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode()
        mask = mask_utils.decode(rle) > 0
    else:
        mask = cv2.imread(str(m), cv2.IMREAD_GRAYSCALE) > 127 if m is not None else None
    return _patch(img, mask, size, rng)


def _halves(items: list, rng) -> tuple[list, list]:
    """Split by image file, so one photo never gives patches to both halves."""
    files = sorted({str(it[1]) for it in items})
    rng.shuffle(files)
    a = set(files[: len(files) // 2])
    return [it for it in items if str(it[1]) in a], [it for it in items if str(it[1]) not in a]


def _balanced(real: list, twin: list, per_class: int, size: int, rng, jpeg) -> tuple[np.ndarray, np.ndarray, list]:
    """``per_class`` patches per class from each side (0 = real, 1 = twin), drawn at random places,
    cycling over the class's images when it has fewer; classes missing on either side are left out."""
    xs, ys, cs = [], [], []
    for cls in CLASSES:
        pools = ([it for it in real if it[0] == cls], [it for it in twin if it[0] == cls])
        if not pools[0] or not pools[1]:
            continue
        for label, pool in enumerate(pools):
            got, tries = 0, 0
            while got < per_class and tries < 20 * per_class:
                tries += 1
                p = _load(pool[int(rng.integers(len(pool)))], size, rng, jpeg if label == 1 else None)
                if p is not None:
                    xs.append(p)
                    ys.append(label)
                    cs.append(cls)
                    got += 1
    return np.array(xs, np.float32) / 255.0, np.array(ys, np.int64), cs


def _classifier(size: int):
    from torch import nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(1, 16), block(16, 32), block(32, 64), block(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 2))


def run_seed(real: list, twin: list, args, seed: int) -> dict:
    import torch

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    r_tr, r_te = _halves(real, rng)
    t_tr, t_te = _halves(twin, rng)
    xtr, ytr, _ = _balanced(r_tr, t_tr, args.per_class, args.patch, rng, args.jpeg)
    xte, yte, cte = _balanced(r_te, t_te, args.per_class, args.patch, rng, args.jpeg)
    if len(set(ytr.tolist())) < 2 or len(set(yte.tolist())) < 2:
        raise SystemExit("not enough patches of both kinds; render more twin images")
    model = _classifier(args.patch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    X, Y = torch.from_numpy(xtr)[:, None], torch.from_numpy(ytr)
    for _ in range(args.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(X)))
        for s in range(0, len(X), 64):
            b = order[s: s + 64]
            xb = X[b]
            if rng.uniform() < 0.5:
                xb = xb.flip(-1)
            loss = torch.nn.functional.cross_entropy(model(xb), Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xte)[:, None]).argmax(1).numpy()
    ok = pred == yte
    if len(set(pred.tolist())) == 1:
        print(f"seed {seed}: the classifier put every test patch in one class; its accuracy says nothing")
    per = {c: float(ok[[k for k, cc in enumerate(cte) if cc == c]].mean())
           for c in CLASSES if any(cc == c for cc in cte)}
    return {"accuracy": float(ok.mean()), "per_class": per, "train": len(ytr), "test": len(yte)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", type=Path, default=DATA / "split.json")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--per-class", type=int, default=150, help="patches per class and side, per half (drawn at "
                                                                "random places, several per image if needed)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--jpeg", type=int, default=None, help="recompress the twin's patches as JPEG at this quality")
    args = ap.parse_args()
    if not args.split.is_file():
        print(f"skipped: magnetic tile data not found at {args.split}")
        return 0
    real, twin = real_items(args.split), twin_items(args.dataset)
    res = [run_seed(real, twin, args, s) for s in args.seeds]
    acc = np.array([r["accuracy"] for r in res])
    print(f"real vs twin classifier, {args.patch} px patches, jpeg {args.jpeg}, seeds {args.seeds}: "
          f"{len(twin)} twin items ({len({str(t[1]) for t in twin})} images), {res[0]['train']} train / "
          f"{res[0]['test']} test patches per seed")
    print("| class | accuracy (50 % = indistinguishable) |\n|---|---:|")

    def sd(v) -> str:
        return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{np.mean(v):.3f}"

    print(f"| all | {sd(acc)} (seeds: {', '.join(f'{a:.3f}' for a in acc)}) |")
    for c in CLASSES:
        v = [r["per_class"][c] for r in res if c in r["per_class"]]
        if v:
            print(f"| {c} | {sd(v)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
