"""Benchmark: the magnetic-tile U-Net under a named compute budget, over seeds.

    python benchmarks/seg_budget.py --budget cpu --setting full --seeds 0 1 2
    python benchmarks/seg_budget.py --budget cpu --setting limited --seeds 0 1 2
    python benchmarks/seg_budget.py --budget gpu --setting full --seeds 0 1 2    # on a CUDA machine

``--budget cpu`` trains ``configs/seg_magnetic_tile_cpu.yaml`` (thin U-Net, 128 px native-scale
crops, about 10 minutes per seed on 2 CPU cores); ``--budget gpu`` trains
``configs/seg_magnetic_tile_gpu.yaml`` (standard U-Net width 32, 256 px native crops, DataLoader
workers and mixed precision). ``--setting full`` uses ``defective.train`` + ``healthy.train`` (3:1),
``limited`` uses ``limited_train_10`` + ``healthy.train`` (3:1). Each seed is trained (or resumed:
finished seeds are reused), its best validation checkpoint evaluated on the real test split at the
original resolution, and the script prints mean ± std over seeds of the test figures, the
per-class table, and writes the learning curves of every seed into one PNG (``--figure``).
``--epochs`` overrides the budget's epochs (for a quick look). ``--add DIR --add-ratio R`` adds an
extra training source to the setting's mix at ratio R, with the same number of samples per epoch
(the same compute): a synthgen dataset (``annotations/coco.json``) or a folder of ``images/`` and
``masks/`` (for example the pairs of ``synthgen vqgen sample``); its runs go to
``<setting>+<DIR name>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"cpu": ROOT / "configs" / "seg_magnetic_tile_cpu.yaml", "gpu": ROOT / "configs" / "seg_magnetic_tile_gpu.yaml"}
MIXES = {"full": [("real_train", 3.0), ("healthy_train", 1.0)], "limited": [("real_limited", 3.0), ("healthy_train", 1.0)]}
ROWS = [("defective", "iou_dataset", "defective IoU"), ("defective", "dice_dataset", "defective Dice"),
        ("defective", "map", "defective mAP (intersect)"), ("defective", "map50", "defective mAP50"),
        ("defective", "defect_recall", "defect recall"), ("defective", "small_recall", "small-defect recall"),
        ("all", "image_ap", "image AP (defective vs healthy)"), ("all", "image_auroc", "image AUROC"),
        ("all", "miou_custom", "all mIoU custom"), ("healthy", "healthy_fp_rate", "healthy FP rate")]


def ms(vals) -> str:
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], float)
    if v.size == 0:
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if v.size > 1 else f"{v.mean():.3f}"


def run_seed(cfg, seed: int, out: Path, device: str | None) -> dict:
    from synthgen.learn.seg.evaluate import evaluate
    from synthgen.learn.seg.train import train

    last = out / "checkpoints" / "last.pt"
    done = out / "eval" / "metrics.json"
    if done.is_file():
        hist = json.loads((out / "history.json").read_text())
        if hist and hist[-1]["epoch"] == cfg.train.epochs:
            return json.loads(done.read_text())["results"] | {"_history": hist}
    t0 = time.perf_counter()
    train(cfg, out, resume=last.is_file(), device=device, progress=False,
          log=lambda m: print(f"  s{seed} {m}", flush=True))
    seconds = time.perf_counter() - t0
    res = evaluate(cfg, out / "checkpoints" / "best.pt", out / "eval", device=device, progress=False,
                   log=lambda m: print(f"  s{seed} {m}", flush=True))
    print(f"  seed {seed}: trained in {seconds / 60:.1f} min", flush=True)
    return res | {"_history": json.loads((out / "history.json").read_text())}


def curves(histories: dict[int, list[dict]], path: Path, title: str) -> None:
    from synthgen.learn.common.figures import pyplot, save_figure

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for s, h in histories.items():
        ep = [e["epoch"] for e in h]
        a.plot(ep, [e["train_loss"] for e in h], label=f"seed {s}")
        b.plot(ep, [e.get("val", {}).get("iou_dataset") or np.nan for e in h], label=f"seed {s} IoU")
        b.plot(ep, [e.get("val", {}).get("image_ap") or np.nan for e in h], "--", color=b.lines[-1].get_color(),
               label=f"seed {s} image AP")
    a.set(xlabel="epoch", ylabel="loss (BCE + Dice)", title="training loss")
    b.set(xlabel="epoch", ylim=(0, 1), title="validation (defective.val + 60 healthy.val)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", choices=sorted(CONFIGS), default="cpu")
    ap.add_argument("--setting", choices=sorted(MIXES), default="full")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--figure", type=Path, default=None, help="learning-curve PNG (default: <out>/curves.png)")
    ap.add_argument("--add", type=Path, default=None, help="extra training source: synthgen dataset or folder "
                                                             "with images/ and masks/")
    ap.add_argument("--add-ratio", type=float, default=3.0, help="mix ratio of --add (the setting's defective "
                                                                 "source has 3, healthy 1)")
    args = ap.parse_args()

    from synthgen.config.loading import load_config
    from synthgen.learn.common.config import MixItem, SourceConfig
    from synthgen.learn.seg.config import SegConfig

    base = load_config(CONFIGS[args.budget], SegConfig)
    setting = args.setting
    t = {"mix": [MixItem(source=s, ratio=r) for s, r in MIXES[args.setting]]}
    if args.add:
        d = args.add.resolve()
        src = (SourceConfig(kind="synthgen", path=str(d)) if (d / "annotations" / "coco.json").is_file()
               else SourceConfig(kind="folder", path=str(d / "images"), mask_dir=str(d / "masks")))
        base = base.model_copy(update={"sources": {**base.sources, "extra": src}})
        t["mix"].append(MixItem(source="extra", ratio=args.add_ratio))
        setting = f"{args.setting}+{d.name}"
    out = args.out or ROOT / "out" / "bench" / f"seg_{args.budget}_{setting}"
    if args.epochs:
        t["epochs"] = args.epochs
    results = {}
    t0 = time.perf_counter()
    for s in args.seeds:
        cfg = base.model_copy(update={"train": base.train.model_copy(update={**t, "seed": s})})
        print(f"seed {s}: {cfg.train.epochs} epochs x {cfg.train.samples_per_epoch} samples", flush=True)
        results[s] = run_seed(cfg, s, out / f"s{s}", args.device)
    minutes = (time.perf_counter() - t0) / 60
    hist = {s: r.pop("_history") for s, r in results.items()}
    fig = args.figure or out / "curves.png"
    curves(hist, fig, f"magnetic tile U-Net, {args.budget} budget, {setting} data, seeds {args.seeds}")
    print(f"\n{args.budget} budget, {setting} data, seeds {args.seeds} ({minutes:.1f} min in all; "
          f"mean train {np.mean([sum(e['seconds'] for e in h) for h in hist.values()]) / 60:.1f} min per seed); "
          f"curves: {fig}\n")
    print("| figure (real test split, original size) | mean ± std |\n|---|---:|")
    for tset, key, label in ROWS:
        print(f"| {label} | {ms([r.get(tset, {}).get(key) for r in results.values()])} |")
    classes = sorted({c for r in results.values() for c in (r.get("defective", {}).get("per_class") or {})})
    if classes:
        print("\n| class | images | IoU | defect recall | image recall |\n|---|---:|---:|---:|---:|")
        for c in classes:
            pcs = [r["defective"]["per_class"].get(c, {}) for r in results.values()]
            print(f"| {c} | {pcs[0].get('images')} | {ms([p.get('iou_dataset') for p in pcs])} | "
                  f"{ms([p.get('defect_recall') for p in pcs])} | {ms([p.get('image_recall') for p in pcs])} |")
    best = [hist[s][int(np.argmax([e.get('val', {}).get('iou_dataset') or 0 for e in hist[s]]))]["epoch"]
            for s in hist]
    print(f"\nbest validation epoch per seed: {best} of {[len(h) for h in hist.values()]}")
    from synthgen.learn.common.io import atomic_json

    atomic_json(out / "summary.json", {"budget": args.budget, "setting": setting, "seeds": args.seeds,
                                       "results": results, "minutes": minutes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
