"""Benchmark: how real does the magnetic-tile twin look? (issues 13 and 24)

A thin wrapper of ``synthgen realism`` (``synthgen.realism``): the real photos are the fixed
split's training and validation lists (``../shared/data/magnetic_tile/split.json``; test photos are
never read), the rendered side a twin dataset. It writes the full report (realism.md,
realism.json, distributions.png, contact_sheet.png) under ``--out``, prints the figures the aims
are judged on (classifier accuracy overall and per class, mean ± std over seeds; size KS per
class) and, with ``--json``, writes them for ``benchmarks/check_realism.py``.

    python benchmarks/twin_realism.py out/twin_magnetic_tile --out out/realism_twin \
        --json benchmarks/results/realism_twin_before.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPLIT = ROOT.parent / "shared" / "data" / "magnetic_tile" / "split.json"
KEYS = ["defective.train", "defective.val", "healthy.train", "healthy.val"]


def summary(rep: dict) -> dict:
    """The figures the aims read: accuracy overall and per class, size KS per class."""
    c = rep.get("classifier", {})
    return {"classifier_overall": c.get("overall"), "classifier_per_class": c.get("per_class"),
            "size_ks": {cls: s["area"]["ks"] for cls, s in rep["stats"].items() if "area" in s},
            "box_ks": {cls: s["box"]["ks"] for cls, s in rep["stats"].items() if "box" in s},
            "counts": rep["counts"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="a rendered twin dataset (or any image+mask source)")
    ap.add_argument("--split", type=Path, default=SPLIT)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "realism_twin")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jpeg", type=int, default=None, help="recompress the rendered patches (PNG twins) at this "
                                                            "JPEG quality before the classifier sees them")
    ap.add_argument("--keys", nargs="+", default=KEYS, help="the split's lists read as REAL (a twin textured with "
                                                            "healthy.train photos is judged against healthy.val)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--instances", choices=["components", "annotations"], default="components",
                    help="a rendered instance: a connected component of a class's mask (as the photos' are "
                         "counted) or one annotation (the figures before 2026-12-03, third session)")
    ap.add_argument("--classes", nargs="+", default=None, help="only these classes (a hybrid set has no healthy "
                                                                "images: give its defect classes)")
    args = ap.parse_args()
    if not args.split.is_file():
        print(f"skipped: magnetic tile data not found at {args.split}")
        return 0
    from synthgen.io import atomic_write_json
    from synthgen.realism.report import Options, measure, write_report
    from synthgen.realism.sources import read_side

    real, rend = read_side(args.split, args.keys), read_side(args.dataset, instances=args.instances)
    rep = measure(real, rend, Options(seeds=args.seeds, jpeg=args.jpeg, names=("real", "twin"),
                                            classes=args.classes))
    write_report(rep, real, rend, args.out, str(args.split), str(args.dataset))
    s = summary(rep)
    o = s["classifier_overall"]
    print(f"real ({' '.join(args.keys)}) vs {args.dataset}: classifier accuracy {o['mean']:.3f} ± {o['std']:.3f} "
          f"(seeds {', '.join(f'{a:.3f}' for a in o['seeds'])}); report -> {args.out}/realism.md")
    print("| class | classifier accuracy | size (area) KS | box KS | instances real / twin |\n|---|---:|---:|---:|---|")
    for cls in rep["classes"]:
        pc = s["classifier_per_class"].get(cls)
        acc = f"{pc['mean']:.3f} ± {pc['std']:.3f}" if pc else "-"
        n = s["counts"][cls]
        print(f"| {cls} | {acc} | {s['size_ks'].get(cls, float('nan')):.2f} | {s['box_ks'].get(cls, float('nan')):.2f} "
              f"| {n['real']} / {n['rendered']} |")
    if args.json:
        atomic_write_json(args.json, dict(s, dataset=str(args.dataset), seeds=args.seeds, jpeg=args.jpeg,
                                          instances=args.instances,
                                          real_keys=args.keys, classes=rep["classes"]))
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
