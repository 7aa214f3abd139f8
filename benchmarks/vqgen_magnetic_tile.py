"""Benchmark: does VQ-VAE + PixelCNN generated image+mask data help a U-Net in the limited-data setting?

Magnetic tile (``../shared/data/magnetic_tile``), limited setting: ``limited_train_10`` (2 defective
images per class) + ``healthy.train``. For k in {0, 1, 2, 4} and 3 seeds, a U-Net (synthgen seg:
thin U-Net, 128 px random crops at native scale) is trained on the real mix plus k x as many
generated pairs per epoch as real samples, and evaluated on the real test split only
(``defective.test`` + ``healthy.test``, original resolution): standard and customized mIoU.

    python benchmarks/vqgen_magnetic_tile.py            # resumable: finished runs are reused
    python benchmarks/vqgen_magnetic_tile.py --seeds 0 --ks 0 4 --epochs 5   # quick look

The generator checkpoint is trained first if absent (``synthgen vqgen train
configs/vqgen_magnetic_tile.yaml``). Per seed s, ``4 x base`` pairs are sampled with seed s; mix k
uses the first ``k x base`` of them. Results: ``<out>/results.json`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "magnetic_tile"


def seg_config(gen_dir: Path | None, n_gen: int, k: int, seed: int, args, out: Path):
    from synthgen.learn.seg.config import SegConfig

    split = str(DATA / "split.json")
    sources = {
        "real_limited": {"kind": "split", "path": split, "keys": ["limited_train_10"]},
        "healthy_train": {"kind": "split", "path": split, "keys": ["healthy.train"]},
        "real_test": {"kind": "split", "path": split, "keys": ["defective.test"]},
        "healthy_test": {"kind": "split", "path": split, "keys": ["healthy.test"]},
    }
    mix = [{"source": "real_limited", "ratio": 3.0}, {"source": "healthy_train", "ratio": 1.0}]
    if k > 0:
        sources["generated"] = {"kind": "folder", "path": str(gen_dir / "images"), "mask_dir": str(gen_dir / "masks"),
                                "limit": n_gen}
        mix.append({"source": "generated", "ratio": 4.0 * k})  # k x the real share of each epoch
    cfg = {
        "out": str(out), "sources": sources,
        "data": {"size": [args.crop, args.crop], "policy": "crop", "channels": 1, "classes": ["defect"]},
        "model": {"depth": 4, "width": 16, "thin": True},
        "train": {"mix": mix, "val": [], "epochs": args.epochs, "samples_per_epoch": args.base * (1 + k),
                  "batch_size": 8, "lr": 0.005, "pos_weight": 3.0, "seed": seed, "device": args.device,
                  "threads": args.threads},
        "augment": {"hflip": 0.5, "vflip": 0.5, "affine": 0.5, "rotate": 10, "shear": 5, "noise": 0.2,
                    "blur": 0.2, "contrast": 0.4},
        "eval": {"test_sets": {"all": ["real_test", "healthy_test"], "defective": ["real_test"]}},
    }
    return SegConfig.model_validate(cfg)


def write_real_crops(cfg, out: Path, n: int, seed: int) -> None:
    """``n`` real defect-centred (and healthy) crops, drawn exactly as the generator's training inputs."""
    import cv2

    from synthgen.learn.vqgen.data import PairSampler, load_pairs
    from synthgen.rng import stream

    if (out / "masks").is_dir() and len(list((out / "masks").glob("*.png"))) >= n:
        return
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    x, _ = PairSampler(load_pairs(cfg.data), cfg.data).draw(n, stream(seed, "bench", "real-crops"))
    for i in range(n):
        img = ((x[i, 0] + 1) * 127.5).round().astype(np.uint8)
        cv2.imwrite(str(out / "images" / f"crop{i:05d}.png"), img)
        cv2.imwrite(str(out / "masks" / f"crop{i:05d}.png"), (x[i, 1] > 0).astype(np.uint8) * 255)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "vqgen_magnetic_tile.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "vqgen" / "bench_magnetic_tile")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--ks", type=int, nargs="+", default=[0, 1, 2, 4])
    ap.add_argument("--base", type=int, default=80, help="real samples per epoch (generated: k x base)")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--crop", type=int, default=128, help="U-Net training crop side (px)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-control", action="store_true",
                    help="skip the control mix: real + 1 x real defect-centred crops (the generator's own "
                         "training crops) instead of generated pairs")
    args = ap.parse_args()
    if not (DATA / "split.json").is_file():
        print(f"skipped: magnetic tile data not found at {DATA}")
        return 0

    import torch

    from synthgen.configio import load_config
    from synthgen.learn.seg.evaluate import evaluate
    from synthgen.learn.seg.train import train as seg_train
    from synthgen.learn.vqgen.config import VQGenConfig
    from synthgen.learn.vqgen.sample import sample
    from synthgen.learn.vqgen.train import train as vq_train

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    res_path = args.out / "results.json"
    results = json.loads(res_path.read_text()) if res_path.is_file() else {"runs": {}, "timing": {}}

    cfg = load_config(args.config, VQGenConfig)
    ck = Path(cfg.out) / "checkpoints" / "vqgen.pt"
    if not ck.is_file():
        t0 = time.perf_counter()
        vq_train(cfg, progress=False)
        results["timing"]["vqgen_train_s"] = round(time.perf_counter() - t0, 1)
    hist = json.loads((Path(cfg.out) / "history.json").read_text())
    results["timing"]["vqgen_train_phases_s"] = hist.get("seconds")

    n_max = max(args.ks) * args.base
    for seed in args.seeds:
        gen = args.out / f"generated_s{seed}"
        meta = gen / "samples.json"
        if max(args.ks) > 0 and (not meta.is_file() or json.loads(meta.read_text())["num_written"] < n_max):
            s = sample(ck, n_max, gen, seed=seed, device=args.device, progress=False)
            results["timing"][f"sample_s{seed}"] = {"pairs": s["num_written"], "drawn": s["num_drawn"],
                                                    "degenerate": s["num_degenerate"], "seconds": s["seconds"]}
        for k in args.ks:
            key = f"k{k}_s{seed}"
            if key in results["runs"]:
                continue
            run = args.out / "runs" / key
            scfg = seg_config(gen, k * args.base, k, seed, args, run)
            t0 = time.perf_counter()
            seg_train(scfg, run, device=args.device, progress=False, log=lambda s: None)
            train_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            r = evaluate(scfg, run / "checkpoints" / "last.pt", run / "eval", device=args.device, progress=False,
                         log=lambda s: None)
            results["runs"][key] = {
                "k": k, "seed": seed, "train_s": round(train_s, 1), "eval_s": round(time.perf_counter() - t0, 1),
                **{f"{t}_{m}": r[t][m] for t in ("all", "defective") for m in ("miou", "miou_custom", "iou_dataset",
                                                                                "map")},
                "healthy_fp_rate": r["all"]["healthy_fp_rate"]}
            print(f"{key}: mIoU {r['all']['miou']:.4f}, custom {r['all']['miou_custom']:.4f}, "
                  f"defective IoU {r['defective']['iou_dataset']:.4f} ({train_s:.0f} s)", flush=True)
            res_path.write_text(json.dumps(results, indent=1))
        if not args.no_control and f"c1_s{seed}" not in results["runs"]:
            crops = args.out / f"real_crops_s{seed}"
            write_real_crops(cfg, crops, args.base, seed)
            run = args.out / "runs" / f"c1_s{seed}"
            scfg = seg_config(crops, args.base, 1, seed, args, run)
            t0 = time.perf_counter()
            seg_train(scfg, run, device=args.device, progress=False, log=lambda s: None)
            train_s = time.perf_counter() - t0
            r = evaluate(scfg, run / "checkpoints" / "last.pt", run / "eval", device=args.device, progress=False,
                         log=lambda s: None)
            results["runs"][f"c1_s{seed}"] = {
                "k": "control", "seed": seed, "train_s": round(train_s, 1),
                **{f"{t}_{m}": r[t][m] for t in ("all", "defective") for m in ("miou", "miou_custom", "iou_dataset",
                                                                                "map")},
                "healthy_fp_rate": r["all"]["healthy_fp_rate"]}
            print(f"c1_s{seed}: mIoU {r['all']['miou']:.4f}, custom {r['all']['miou_custom']:.4f}, "
                  f"defective IoU {r['defective']['iou_dataset']:.4f} ({train_s:.0f} s)", flush=True)
            res_path.write_text(json.dumps(results, indent=1))

    rows = [("| k | mIoU std (all) | mIoU custom (all) | mIoU std (defective) | mIoU custom (defective) "
             "| IoU (defective) | mAP (defective) | healthy FP rate | train s |"),
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in [*args.ks, "control"]:
        key = "c1" if k == "control" else f"k{k}"
        rs = [results["runs"][f"{key}_s{s}"] for s in args.seeds if f"{key}_s{s}" in results["runs"]]
        if not rs:
            continue

        def ms(m, rs=rs):
            v = np.array([r[m] for r in rs], float)
            return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"

        rows.append(f"| {k} | {ms('all_miou')} | {ms('all_miou_custom')} | {ms('defective_miou')} | "
                    f"{ms('defective_miou_custom')} | {ms('defective_iou_dataset')} | {ms('defective_map')} | "
                    f"{ms('healthy_fp_rate')} | {ms('train_s')} |")
    print(f"\n{len(args.seeds)} seeds {args.seeds}, mean ± std (ddof=1)\n")
    print("\n".join(rows))
    print("\ntiming:", json.dumps(results["timing"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
