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
import shutil
import subprocess
import sys
import tarfile
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


def prune_unread(configs: list[Path], root: Path) -> int:
    """Delete the files under ``root`` (a bundled split) that none of ``configs``' split sources
    reads (a source's ``limit`` leaves the rest of its list unread), and their entries from its
    split.json; returns the bytes freed. The sources then read exactly what they read before."""
    from synthgen.config.loading import load_config
    from synthgen.learn.bilevel.config import BilevelConfig
    from synthgen.learn.common.sources import read_source
    from synthgen.learn.seg.config import ExperimentConfig

    used: set[Path] = set()
    for c in configs:
        cfg = load_config(c, ExperimentConfig if "mixes" in yaml.safe_load(c.read_text()) else BilevelConfig)
        for name, src in cfg.sources.items():
            if src.kind == "split":
                for e in read_source(src, name):
                    used.add(Path(e.image).resolve())
                    if isinstance(e.mask, (str, Path)):
                        used.add(Path(e.mask).resolve())
    split = root / "split.json"
    data = json.loads(split.read_text())

    def keep(node):
        if isinstance(node, list):
            return [e for e in node if (root / (e if isinstance(e, str) else e["image"])).resolve() in used]
        if isinstance(node, dict):
            return {k: keep(v) for k, v in node.items()}
        return node

    split.write_text(json.dumps(keep(data)))  # the split lists only what is shipped
    freed = 0
    for f in root.rglob("*"):
        if f.is_file() and f.suffix.lower() != ".json" and f.resolve() not in used:
            freed += f.stat().st_size
            f.unlink()
    return freed


def _tree_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def _tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="the merged twin dataset (synthgen render output)")
    ap.add_argument("--quality", type=int, default=85, help="JPEG quality of the twin's crops")
    ap.add_argument("--max-mib", type=float, default=None,
                    help="size limit of the packed twin (default: what the 64 MiB transfer leaves, less 3 MiB)")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers per run (runs go side by side)")
    args = ap.parse_args()
    if not (BUNDLE / "magnetic_tile" / "split.json").is_file():
        print("run ../shared/tools/device-bundle.sh first (no .devbundle/magnetic_tile/split.json)", file=sys.stderr)
        return 2
    cdir = BUNDLE / "configs"
    cdir.mkdir(exist_ok=True)
    for name, out in (("experiment_twin_magnetic_tile", "../../out/gpu/experiment_twin"),
                      ("bilevel_twin_magnetic_tile", "../../out/gpu/bilevel_twin")):
        cfg = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
        cfg = _repoint(cfg, "../magnetic_tile/split.json", "../twin", out, args.workers)
        (cdir / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    twin_dir = BUNDLE / "twin"
    (twin_dir / "images").mkdir(parents=True, exist_ok=True)  # the configs' folder source must exist
    freed = prune_unread(sorted(cdir.glob("*_magnetic_tile.yaml")), BUNDLE / "magnetic_tile")
    shutil.rmtree(twin_dir)
    room = 64 * 2**20 - _tracked_bytes() - _tree_bytes(BUNDLE) - 3 * 2**20
    limit = int(args.max_mib * 2**20) if args.max_mib else room
    counts = pack_twin(args.dataset, twin_dir, args.quality, limit)
    split = json.loads((BUNDLE / "magnetic_tile" / "split.json").read_text())
    info = {"twin": counts, "twin_jpeg_quality": args.quality, "dataset": str(args.dataset),
            "healthy_train_photos": len(split["healthy"]["train"]), "unread_photos_removed_mib": round(freed / 2**20, 1),
            "total_mib_before_tar": round((_tracked_bytes() + _tree_bytes(BUNDLE)) / 2**20, 1)}
    (cdir / "bundle.json").write_text(json.dumps(info, indent=1))
    # one file instead of thousands (the transfer counts disk blocks); gzip removes tar's headers
    with tarfile.open(BUNDLE / "data.tar.gz", "w:gz", compresslevel=1) as tar:
        for d in ("magnetic_tile", "twin"):
            tar.add(BUNDLE / d, arcname=d)
            shutil.rmtree(BUNDLE / d)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
