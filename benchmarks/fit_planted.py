"""Benchmark: does ``synthgen fit`` recover a planted setting? (issue 24)

The twin's Crack kind is given a known "true" look (``--true-width``, ``--true-color``) and
rendered alone with another seed: that is REAL. The config handed to ``fit`` starts three times
off on both: cracks three times too wide and three times too dark. The fit searches the two
fields (``shape.width`` and ``material.base_color``) within a factor 4 of the wrong start, on
renders of ``--scenes`` scenes per trial, for ``--budget-min`` minutes. Recovered means each
fitted factor is within ``--tolerance`` (a ratio) of the planted one (1/3 for the width, 3 for
the colour). Prints the figures and writes ``--json``.

    python benchmarks/fit_planted.py --out out/fit_planted --budget-min 30 \
        --json benchmarks/results/fit_planted.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KIND = "Crack"


def write_configs(out: Path, width: list[float], color: list[float], off: float) -> tuple[Path, Path]:
    """truth.yaml and wrong.yaml beside each other in ``out`` (asset paths made absolute)."""
    base = yaml.safe_load((ROOT / "configs" / "twin_magnetic_tile.yaml").read_text())
    for p in base["parts"]:
        p["path"] = str((ROOT / "configs" / p["path"]).resolve())
    for m in base["materials"]:
        if m.get("photo_texture"):
            m["photo_texture"]["images"] = str((ROOT / "configs" / m["photo_texture"]["images"]).resolve())
    base["out"] = str(out / "unused")

    def variant(name, w, c):
        d = json.loads(json.dumps(base))
        k = d["defects"]["kinds"][KIND]
        k["shape"]["width"] = w
        k["material"]["base_color_min"] = [c[0]] * 3
        k["material"]["base_color_max"] = [c[1]] * 3
        (out / name).write_text(yaml.safe_dump(d, sort_keys=False))
        return out / name

    out.mkdir(parents=True, exist_ok=True)
    return (variant("truth.yaml", width, color),
            variant("wrong.yaml", [w * off for w in width], [c / off for c in color]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fit_planted")
    ap.add_argument("--true-width", type=float, nargs=2, default=[0.015, 0.03])
    ap.add_argument("--true-color", type=float, nargs=2, default=[0.03, 0.06])
    ap.add_argument("--off", type=float, default=3.0, help="how far off the start is (a factor)")
    ap.add_argument("--real-scenes", type=int, default=40)
    ap.add_argument("--real-seed", type=int, default=101)
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--budget-min", type=float, default=30.0)
    ap.add_argument("--tolerance", type=float, default=1.35, help="a fitted factor within this ratio of the planted one")
    ap.add_argument("--confirm-seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from synthgen.config.job import load_job_config
    from synthgen.realism.fit import FitOptions, Fitter, finish, render_kind

    truth, wrong = write_configs(args.out, args.true_width, args.true_color, args.off)
    real = args.out / "real"
    t0 = time.perf_counter()
    if not (real / "annotations" / "coco.json").is_file():
        render_kind(load_job_config(truth), KIND, args.real_scenes, real, args.out / "real_cache", seed=args.real_seed)
    t_real = time.perf_counter() - t0
    opts = FitOptions(params=["shape.width", "material.base_color"], scenes=args.scenes, trials=args.trials,
                      budget_min=args.budget_min, confirm_seeds=args.confirm_seeds)
    t1 = time.perf_counter()
    fitter = Fitter(wrong, real, KIND, args.out / "fit", opts)
    study = fitter.run()
    t_fit = time.perf_counter() - t1
    res = finish(fitter, study)
    planted = {"shape.width": 1 / args.off, "material.base_color": args.off}
    rows = []
    for name, want in planted.items():
        got = res["best_factors"][name]
        rows.append({"param": name, "planted_factor": want, "fitted_factor": got,
                     "ratio": got / want, "recovered": abs(math.log(got / want)) <= math.log(args.tolerance)})
    done = [t for t in res["trials"] if t["state"] == "COMPLETE"]
    summary = {"kind": KIND, "tolerance_ratio": args.tolerance, "rows": rows,
               "recovered": all(r["recovered"] for r in rows), "fit_minutes": t_fit / 60,
               "real_render_minutes": t_real / 60, "trials_complete": len(done), "scenes_per_trial": args.scenes,
               "distance_before": res["distance_before"], "distance_after": res["distance_after"],
               "classifier": res.get("classifier"), "real_instances": len(fitter.real_items),
               "trace": [{"number": t["number"], "value": t["value"], "factors": t["factors"]} for t in done],
               "command": "python " + " ".join([Path(sys.argv[0]).name] + sys.argv[1:])}
    print(f"planted mismatch, {KIND}: start {args.off:g}x too wide and {args.off:g}x too dark; "
          f"{len(done)} trials x {args.scenes} scenes in {t_fit / 60:.1f} min (REAL: {len(fitter.real_items)} "
          f"instances, rendered in {t_real / 60:.1f} min)")
    print(f"| field | planted factor | fitted factor | fitted / planted | within x{args.tolerance:g} |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['param']} | {r['planted_factor']:.3f} | {r['fitted_factor']:.3f} | {r['ratio']:.3f} | "
              f"{'yes' if r['recovered'] else 'NO'} |")
    print(f"statistic distance {res['distance_before']:.3f} -> {res['distance_after']:.3f}")
    if res.get("classifier"):
        c = res["classifier"]
        print("classifier (truth vs fit renders): " + ", ".join(
            f"{k} {v['mean']:.3f} ± {v['std']:.3f}" for k, v in c.items() if v))
    if args.json:
        from synthgen.io import atomic_write_json

        atomic_write_json(args.json, summary)
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
