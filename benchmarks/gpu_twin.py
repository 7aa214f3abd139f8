"""Prepare the twin's learning benchmarks for a lent GPU machine (issue 13).

The GPU machine has no bpy, no network and receives only the repo (64 MiB in all), so this
script, run here after ``../shared/tools/device-bundle.sh``, adds to ``.devbundle/``:

- ``twin/``: the rendered twin (a merged synthgen dataset) as a plain folder source: crops
  recompressed as JPEG (the real photos are JPEGs too) and binary masks, labelled crops first,
  then healthy ones up to ``--max-mib``;
- ``configs/``: the Table-1 experiment (configs/experiment_twin_magnetic_tile.yaml) and the
  bi-level twin run (configs/bilevel_twin_magnetic_tile.yaml) with their sources pointed at the
  bundle; every other setting (model, recipe, seeds, mixes) is the committed config's.

    bash ../shared/tools/device-bundle.sh --healthy-train 200
    python benchmarks/gpu_twin.py out/twin_magnetic_tile
    # on the GPU machine: bash benchmarks/gpu_twin.sh

What the GPU run used (healthy training photos cut to the bundle's subset, JPEG twin crops) is
written to ``.devbundle/configs/bundle.json`` and must be stated with its figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / ".devbundle"


def pack_twin(dataset: Path, dest: Path, quality: int, max_bytes: int) -> dict:
    """Write the dataset's crops as JPEG with binary masks (labelled crops first); returns counts."""
    from synthgen.dataset.reader import read_items

    idx = read_items(dataset)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "masks").mkdir(parents=True, exist_ok=True)
    items = sorted(idx.items, key=lambda it: (not it.annotations, it.image.name))
    used, counts = 0, {"labelled": 0, "healthy": 0, "left_out_healthy": 0, "left_out_labelled": 0}
    for it in items:
        img = cv2.imread(str(it.image), cv2.IMREAD_GRAYSCALE)
        jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        png = b""
        if it.annotations:
            sem = cv2.imread(str(it.semantic), cv2.IMREAD_GRAYSCALE)
            png = cv2.imencode(".png", np.where(sem > 0, 255, 0).astype(np.uint8))[1].tobytes()
        key = "labelled" if it.annotations else "healthy"
        if used + len(jpg) + len(png) > max_bytes:
            counts["left_out_" + key] += 1
            continue
        (dest / "images" / (it.image.stem + ".jpg")).write_bytes(jpg)
        if png:
            (dest / "masks" / (it.image.stem + ".png")).write_bytes(png)
        used += len(jpg) + len(png)
        counts[key] += 1
    counts["mib"] = round(used / 2**20, 1)
    return counts


def _repoint(cfg: dict, bundle_split: str, twin_dir: str, out: str, workers: int) -> dict:
    for src in cfg["sources"].values():
        if src["kind"] == "split":
            src["path"] = bundle_split
        elif src["kind"] == "synthgen":
            src.clear()
            src.update(kind="folder", path=f"{twin_dir}/images", mask_dir=f"{twin_dir}/masks",
                       mask_suffix=".png", missing_mask="healthy")
    cfg["out"] = out
    if "mixes" in cfg:
        cfg["train"]["workers"] = workers  # many runs share the machine's CPU cores
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="the merged twin dataset (synthgen render output)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of the twin's crops")
    ap.add_argument("--max-mib", type=float, default=14.0, help="size limit of the packed twin")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers per run (runs go side by side)")
    args = ap.parse_args()
    if not (BUNDLE / "magnetic_tile" / "split.json").is_file():
        print("run ../shared/tools/device-bundle.sh first (no .devbundle/magnetic_tile/split.json)", file=sys.stderr)
        return 2
    counts = pack_twin(args.dataset, BUNDLE / "twin", args.quality, int(args.max_mib * 2**20))
    cdir = BUNDLE / "configs"
    cdir.mkdir(exist_ok=True)
    for name, out in (("experiment_twin_magnetic_tile", "../../out/gpu/experiment_twin"),
                      ("bilevel_twin_magnetic_tile", "../../out/gpu/bilevel_twin")):
        cfg = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
        cfg = _repoint(cfg, "../magnetic_tile/split.json", "../twin", out, args.workers)
        (cdir / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    split = json.loads((BUNDLE / "magnetic_tile" / "split.json").read_text())
    info = {"twin": counts, "twin_jpeg_quality": args.quality, "dataset": str(args.dataset),
            "healthy_train_photos": len(split["healthy"]["train"])}
    (cdir / "bundle.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
