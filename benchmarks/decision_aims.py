"""Issue 25's aims from a ``seg experiment`` on magnetic tile: the OK/NG decision per mix.

    python benchmarks/decision_aims.py out/seg/experiment_twin_magnetic_tile/results.json \\
        [--json benchmarks/results/decision_magnetic_tile.json]

Per mix (mean ± std over its seeds), on the real test split: pixel IoU of the defective photos;
on defective + healthy photos, at the operating point each run chose on validation (95 % recall
of the defective validation photos): NG recall, healthy false-positive rate, and the image AP /
AUROC of the decision's rule; the image AP of every rule (max = the old score); the old healthy
FP rate (any predicted pixel). Then the aims: real+healthy image AP >= 0.90, healthy FP <= 0.15,
IoU >= 0.487; real_limited+healthy image AP >= 0.70.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RULES = ("head", "top_k", "smooth_max", "largest_area", "max")
FIGURES = [("defective", "iou_dataset", "defective IoU"), ("all", "image_ap", "image AP"),
           ("all", "image_auroc", "image AUROC"), ("all", "decision_recall", "NG recall @ op"),
           ("all", "decision_healthy_fp", "healthy FP @ op"), ("all", "healthy_fp_rate", "healthy FP (any pixel)")]
FIGURES += [("all", f"image_ap_{r}", f"AP {r}") for r in RULES]
AIMS = [("real+healthy", "image_ap", ">=", 0.90), ("real+healthy", "decision_healthy_fp", "<=", 0.15),
        ("real+healthy", "iou_dataset", ">=", 0.487), ("real_limited+healthy", "image_ap", ">=", 0.70)]


def stat(vals: list) -> dict:
    v = np.array([x for x in vals if x is not None], float)
    return {"mean": float(v.mean()) if v.size else None, "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "per_seed": [None if x is None else round(float(x), 4) for x in vals]}


def cell(s: dict) -> str:
    if s["mean"] is None:
        return "-"
    return f"{s['mean']:.3f}" + (f" ± {s['std']:.3f}" if s["std"] is not None else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    table = json.loads(a.results.read_text())
    out = {"source": str(a.results), "mixes": {}, "aims": []}
    print("| mix | seeds | " + " | ".join(h for _, _, h in FIGURES) + " |\n|---|---:|" + "---:|" * len(FIGURES))
    for mix, row in table.items():
        runs = row.get("runs") or {}
        if not runs:
            continue
        figs = {key: stat([run["sets"].get(tset, {}).get(key) for run in runs.values()]) for tset, key, _ in FIGURES}
        figs["rules"] = [run["sets"].get("all", {}).get("decision_rule") for run in runs.values()]
        figs["epochs"] = [run.get("final_epoch", {}).get("epoch") for run in runs.values()]
        out["mixes"][mix] = {"seeds": [int(s) for s in runs], **figs}
        print(f"| {mix} | {len(runs)} | " + " | ".join(cell(figs[k]) for _, k, _ in FIGURES) + " |")
        print(f"|   rules per seed: {', '.join(map(str, figs['rules']))}; epochs {figs['epochs']} |")
    for mix, key, op, target in AIMS:
        m = out["mixes"].get(mix, {}).get(key, {}).get("mean")
        met = None if m is None else (m >= target if op == ">=" else m <= target)
        out["aims"].append({"mix": mix, "figure": key, "target": f"{op} {target}", "mean": m, "met": met})
        print(f"aim {mix} {key} {op} {target}: {'-' if m is None else f'{m:.3f}'} -> "
              f"{'not measured' if met is None else ('met' if met else 'MISSED')}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
