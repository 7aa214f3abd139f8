"""The aims of synthgen's Table 1 on magnetic tile (issue 13), checked on an experiment's results.

Reads the ``results.json`` of ``synthgen seg experiment configs/experiment_twin_magnetic_tile.yaml``
and prints, for each aim, the figures it rests on and whether it is met:

- limited data: the best rendered-data row on the limited real set (real_limited+synthetic+healthy,
  and the schedule rows: a falling synthetic share, or pretraining on the twin, any row whose
  name holds both "real_limited" and "synthetic", picked by mean IoU over the seeds it shares
  with the baseline) beats real_limited+healthy by at least +25 % relative defective IoU, and by
  image-level AP, in every seed (seeds paired);
- synthetic alone: synthetic+healthy reaches at least 35 % of real+healthy's defective IoU;
- full data: real+synthetic+healthy is no worse than real+healthy beyond one standard deviation
  (the mean difference is above minus the larger of the two rows' seed std);
- realism (``--realism ACC``, from benchmarks/twin_realism.py): accuracy under 75 %.

    python benchmarks/twin_aims.py out/seg/experiment_twin_magnetic_tile/results.json --realism 0.81
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

LIMITED = "real_limited+healthy"
FULL, FULL_SYN, SYN = "real+healthy", "real+synthetic+healthy", "synthetic+healthy"


def _per_seed(table: dict, mix: str, tset: str, key: str) -> dict[str, float]:
    runs = table.get(mix, {}).get("runs", {})
    return {s: r["sets"][tset][key] for s, r in runs.items()
            if r["sets"].get(tset, {}).get(key) is not None}


def limited_rendered_rows(table: dict) -> list[str]:
    """The rows trained on the limited real set with rendered data (plain mix or schedule)."""
    return [m for m in table if "real_limited" in m and "synthetic" in m and "runs" in table[m]]


def aims(table: dict, realism: float | None = None, defective: str = "defective", both: str = "all") -> list[dict]:
    """One row per aim: name, figures (text) and met (True, False or None when not measurable)."""
    rows = []
    a, pa = _per_seed(table, LIMITED, defective, "iou_dataset"), _per_seed(table, LIMITED, both, "image_ap")
    best, seeds, b, pb = None, [], {}, {}
    for mix in limited_rendered_rows(table):
        ib, ab = _per_seed(table, mix, defective, "iou_dataset"), _per_seed(table, mix, both, "image_ap")
        shared = sorted(set(a) & set(ib) & set(pa) & set(ab), key=int)
        if shared and (best is None or np.mean([ib[s] for s in shared]) > np.mean([b[s] for s in seeds])):
            best, seeds, b, pb = mix, shared, ib, ab
    if seeds:
        gain = {s: b[s] / a[s] - 1 if a[s] > 0 else float("inf") for s in seeds}
        ap_up = {s: pb[s] - pa[s] for s in seeds}
        met = all(g >= 0.25 for g in gain.values()) and all(d > 0 for d in ap_up.values())
        rows.append({"aim": "limited: +25 % IoU and higher image AP, every seed",
                     "figures": f"best row {best}: IoU gain by seed " + ", ".join(f"{s}: {gain[s]:+.1%}" for s in seeds)
                                + "; image AP change " + ", ".join(f"{s}: {ap_up[s]:+.3f}" for s in seeds),
                     "met": met})
    else:
        rows.append({"aim": "limited: +25 % IoU and higher image AP, every seed", "figures": "not run", "met": None})
    syn, full = _per_seed(table, SYN, defective, "iou_dataset"), _per_seed(table, FULL, defective, "iou_dataset")
    if syn and full:
        ratio = np.mean(list(syn.values())) / np.mean(list(full.values()))
        rows.append({"aim": "synthetic alone: >= 35 % of real_full's IoU",
                     "figures": f"{np.mean(list(syn.values())):.3f} / {np.mean(list(full.values())):.3f} = {ratio:.1%}",
                     "met": bool(ratio >= 0.35)})
    else:
        rows.append({"aim": "synthetic alone: >= 35 % of real_full's IoU", "figures": "not run", "met": None})
    fs = _per_seed(table, FULL_SYN, defective, "iou_dataset")
    if fs and full:
        f, g = np.array(list(full.values())), np.array(list(fs.values()))
        sd = max(f.std(ddof=1) if f.size > 1 else 0.0, g.std(ddof=1) if g.size > 1 else 0.0)
        diff = g.mean() - f.mean()
        rows.append({"aim": "full data: no worse beyond one std",
                     "figures": f"{g.mean():.3f} vs {f.mean():.3f}: {diff:+.3f} (one std: {sd:.3f})",
                     "met": bool(diff >= -sd)})
    else:
        rows.append({"aim": "full data: no worse beyond one std", "figures": "not run", "met": None})
    rows.append({"aim": "realism: real-vs-twin accuracy < 75 %",
                 "figures": "not measured" if realism is None else f"{realism:.1%}",
                 "met": None if realism is None else bool(realism < 0.75)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--realism", type=float, default=None, help="mean real-vs-twin accuracy (0..1)")
    args = ap.parse_args()
    table = json.loads(args.results.read_text())
    print("| aim | figures | met |\n|---|---|---|")
    for r in aims(table, args.realism):
        print(f"| {r['aim']} | {r['figures']} | {'-' if r['met'] is None else ('yes' if r['met'] else '**missed**')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
