"""Check the realism aims of issue 24 on the committed figures (benchmarks/results/*.json).

- realism (twin_realism.py --json): real-vs-rendered accuracy <= 0.70 overall and <= 0.75 for
  every class and for healthy crops, mean over seeds; size (area) KS <= 0.25 for every class;
- hybrid (the same figures for the hybrid dataset): accuracy <= 0.65 overall;
- fit (fit_planted.py --json): the planted setting recovered within its tolerance in <= 30 min.

Prints one line per aim with its figures and "met" or "MISSED"; exits 0 (the aims are read,
not enforced).

    python benchmarks/check_realism.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def realism_aims(name: str, r: dict, overall_max: float, class_max: float | None, ks_max: float | None) -> list:
    rows = []
    o = r.get("classifier_overall") or {}
    if o:
        rows.append((f"{name}: accuracy overall <= {overall_max}", f"{o['mean']:.3f} ± {o['std']:.3f}",
                     o["mean"] <= overall_max))
    if class_max is not None:
        per = r.get("classifier_per_class") or {}
        worst = max(per.items(), key=lambda kv: kv[1]["mean"]) if per else None
        if worst:
            rows.append((f"{name}: accuracy of every class <= {class_max}",
                         ", ".join(f"{k} {v['mean']:.3f}" for k, v in per.items()), worst[1]["mean"] <= class_max))
    if ks_max is not None:
        ks = {k: v for k, v in (r.get("size_ks") or {}).items() if v is not None and not math.isnan(v)}
        if ks:
            rows.append((f"{name}: size KS of every class <= {ks_max}", ", ".join(f"{k} {v:.2f}" for k, v in ks.items()),
                         max(ks.values()) <= ks_max))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    rows = []
    for fname, name, omax, cmax, ksmax in (("realism_twin_before.json", "twin before", 0.70, 0.75, 0.25),
                                           ("realism_twin_after.json", "twin after", 0.70, 0.75, 0.25),
                                           ("realism_twin_photo_v1.json", "twin, photo texture in the colour only",
                                            0.70, 0.75, 0.25),
                                           ("realism_twin_photo_heldout.json",
                                            "same render, healthy.val as real healthy", 0.70, 0.75, 0.25),
                                           ("realism_twin_photo.json",
                                            "twin, photo texture in colour and gloss, 0.8 px filter, solid bands",
                                            0.70, 0.75, 0.25),
                                           ("realism_twin_raw.json",
                                            "twin, linear camera (Raw view, linear photo texture)",
                                            0.70, 0.75, 0.25),
                                           ("realism_twin_raw6.json",
                                            ("twin, linear camera refitted (lights, noise, texture x1.25, shallower "
                                             "pits and cracks, Fray as a region, 20 % healthy scenes)"),
                                            0.70, 0.75, 0.25),
                                           ("realism_twin_raw7_annotations.json",
                                            ("twin, sizes from the photos (log-uniform breaks), one instance per "
                                             "annotation"), 0.70, 0.75, 0.25),
                                           ("realism_twin_raw7.json",
                                            "the same twin, instances split as the photos' masks (components)",
                                            0.70, 0.75, 0.25),
                                           ("realism_twin_raw8.json",
                                            ("twin, breaks as notches without the see-through core (components; "
                                             "the committed config)"), 0.70, 0.75, 0.25),
                                           ("realism_hybrid.json", "hybrid", 0.65, None, None),
                                           ("realism_hybrid_photo.json", "hybrid, pairs of the colour-only render, JPEG 95",
                                            0.65, None, None),
                                           ("realism_hybrid_photo2.json", "hybrid, pairs of the latest render, JPEG 95",
                                            0.65, None, None)):
        p = args.results / fname
        if p.is_file():
            rows += realism_aims(name, json.loads(p.read_text()), omax, cmax, ksmax)
        else:
            rows.append((f"{name}: {fname}", "not measured", None))
    p = args.results / "fit_planted.json"
    if p.is_file():
        f = json.loads(p.read_text())
        got = ", ".join(f"{r['param']} x{r['fitted_factor']:.3f} (planted x{r['planted_factor']:.3f})" for r in f["rows"])
        rows.append((f"fit recovers the planted {f['kind']} within x{f['tolerance_ratio']} in <= 30 min",
                     f"{got}; {f['fit_minutes']:.1f} min", f["recovered"] and f["fit_minutes"] <= 30.0))
    for aim, figures, met in rows:
        print(f"{'met' if met else ('-' if met is None else 'MISSED'):7s} {aim}: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
