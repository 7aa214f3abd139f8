"""Can a small CNN tell rendered crops from real ones? Accuracy 0.5 = indistinguishable.

Patches of ``patch`` px at native scale, per class: centred on a random pixel of a defect
instance (shifted to stay inside the image), or anywhere in a healthy image. Each side's images
are split in halves by file, so no photo gives patches to both training and testing. A plain
torch CNN (group norm, so no running statistics lag behind a short training) learns real (0)
vs rendered (1) on one half, for at least ``MIN_STEPS`` steps, and is tested on the other, with the same
number of patches per class and side. ``jpeg`` recompresses the rendered patches at that quality
first, so that a rendered PNG is not told from a JPEG photo by its compression alone.
"""

from __future__ import annotations

import numpy as np

from synthgen.realism.sources import HEALTHY, Item, item_mask, read_image


def _patch(img: np.ndarray, mask: np.ndarray | None, size: int, rng: np.random.Generator) -> np.ndarray | None:
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


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    return cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def _halves(items: list[Item], rng) -> tuple[list[Item], list[Item]]:
    files = sorted({str(it.image) for it in items})
    rng.shuffle(files)
    a = set(files[: len(files) // 2])
    return [it for it in items if str(it.image) in a], [it for it in items if str(it.image) not in a]


def _balanced(real, rend, classes, per_class, size, rng, jpeg):
    xs, ys, cs = [], [], []
    for cls in classes:
        pools = ([it for it in real if it.cls == cls], [it for it in rend if it.cls == cls])
        if not pools[0] or not pools[1]:
            continue
        for label, pool in enumerate(pools):
            got, tries = 0, 0
            while got < per_class and tries < 20 * per_class:
                tries += 1
                it = pool[int(rng.integers(len(pool)))]
                img = read_image(it.image)
                if label == 1 and jpeg:
                    img = _jpeg(img, jpeg)
                p = _patch(img, item_mask(it, img.shape) if it.cls != HEALTHY else None, size, rng)
                if p is not None:
                    xs.append(p)
                    ys.append(label)
                    cs.append(cls)
                    got += 1
    return np.array(xs, np.float32).reshape(-1, size, size) / 255.0, np.array(ys, np.int64), cs


MIN_STEPS = 120  # small sets get more epochs: a few steps leave the net at chance


def _net():
    from torch import nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(8, o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(1, 16), block(16, 32), block(32, 64), block(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 2))


def run_seed(real: list[Item], rend: list[Item], classes: list[str], seed: int, per_class: int = 150,
             patch: int = 64, epochs: int = 15, jpeg: int | None = None) -> dict | None:
    """Accuracy overall and per class on held-out halves; None when a side has too few patches."""
    import torch

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    r_tr, r_te = _halves(real, rng)
    t_tr, t_te = _halves(rend, rng)
    xtr, ytr, _ = _balanced(r_tr, t_tr, classes, per_class, patch, rng, jpeg)
    xte, yte, cte = _balanced(r_te, t_te, classes, per_class, patch, rng, jpeg)
    if len(set(ytr.tolist())) < 2 or len(set(yte.tolist())) < 2:
        return None
    model = _net()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    X, Y = torch.from_numpy(xtr)[:, None], torch.from_numpy(ytr)
    per_epoch = -(-len(X) // 64)
    for _ in range(max(epochs, -(-MIN_STEPS // per_epoch))):
        model.train()
        order = torch.from_numpy(rng.permutation(len(X)))
        for s in range(0, len(X), 64):
            b = order[s: s + 64]
            xb = X[b].flip(-1) if rng.uniform() < 0.5 else X[b]
            loss = torch.nn.functional.cross_entropy(model(xb), Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xte)[:, None]).argmax(1).numpy()
    ok = pred == yte
    cte = np.array(cte)
    return {"seed": seed, "accuracy": float(ok.mean()), "train": len(ytr), "test": len(yte),
            "one_class": bool(len(set(pred.tolist())) == 1),
            "per_class": {c: float(ok[cte == c].mean()) for c in classes if (cte == c).any()}}


def summarise(runs: list[dict]) -> dict:
    """Mean and std (ddof 1) over seeds, overall and per class."""
    def ms(v):
        v = np.asarray(v, np.float64)
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                "seeds": [float(x) for x in v]}

    classes = sorted({c for r in runs for c in r["per_class"]})
    return {"overall": ms([r["accuracy"] for r in runs]),
            "per_class": {c: ms([r["per_class"][c] for r in runs if c in r["per_class"]]) for c in classes},
            "patches_train": runs[0]["train"], "patches_test": runs[0]["test"],
            "one_class_seeds": [r["seed"] for r in runs if r["one_class"]]}
