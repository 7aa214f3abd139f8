"""Training-mix experiments (``synthgen seg experiment CONFIG``).

Every mix of ``mixes`` (e.g. real; synthetic; real + healthy; real + synthetic + healthy) is
trained with the shared model/train/augment settings into ``<out>/<mix>/`` (``<out>/<mix>/s<seed>/``
for each of several ``seeds``) and evaluated on every
test set of ``eval.test_sets``. The result is the table of the inspection literature: rows =
training mix, columns = test sets, cells = box mAP (pixel IoU), written as ``results.md`` and
``results.json`` in ``<out>``, with mean ± std over seeds. A mix that needs a missing optional source (e.g. a synthgen
dataset not rendered yet) is listed as skipped. Re-running resumes: finished mixes are not
retrained (their ``last.pt`` is reused), interrupted ones continue from their last epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.common.decision import Decision
from synthgen.learn.common.figures import fmt
from synthgen.learn.common.io import atomic_json, atomic_text, clean, ensure_out
from synthgen.learn.common.operating import settings_of
from synthgen.learn.seg.config import ExperimentConfig, ScheduledMix, all_sources, mix_items
from synthgen.learn.seg.evaluate import evaluate, test_set_sources
from synthgen.learn.seg.train import train


def describe_mix(spec) -> str:
    """A row's sources and ratios in words, with its schedule."""
    def one(items) -> str:
        return " + ".join(f"{m.source} x{m.ratio:g}" + (f"->{m.ratio_end:g}" if m.ratio_end is not None else "")
                          for m in items)
    if isinstance(spec, ScheduledMix):
        return (f"pretrain {one(spec.pretrain.mix)} ({spec.pretrain.epochs} epochs), then {one(spec.mix)}"
                + (f" ({spec.epochs} epochs)" if spec.epochs else ""))
    return one(spec)


def sources_record(spec) -> list[dict] | dict:
    """What results.json records of a row's sources (a plain mix: the list it always was)."""
    if isinstance(spec, ScheduledMix):
        return spec.model_dump(mode="json")
    return [m.model_dump(exclude_none=True) for m in spec]


def _cell(s: dict, sd: dict, key: str) -> str:
    v = s.get(key)
    if v is None:
        return "-"
    return fmt(v) + (f" ± {fmt(sd[key])}" if sd.get(key) is not None else "")


def _healthy_only(s: dict) -> bool:
    return bool(s.get("images")) and s.get("images") == s.get("healthy_images")


def results_markdown(table: dict[str, dict], sets: list[str]) -> str:
    head = "| training mix | " + " | ".join(sets) + " |\n|---|" + "---:|" * len(sets) + "\n"

    def rows(cell) -> str:
        out = ""
        for mix, r in table.items():
            if "skipped" in r:
                out += f"| {mix} | skipped: {r['skipped']} |" + " |" * (len(sets) - 1) + "\n"
                continue
            out += f"| {mix} | " + " | ".join(cell(r["sets"].get(s, {}), r.get("sets_std", {}).get(s, {}))
                                               for s in sets) + " |\n"
        return out

    def map_iou(s: dict, sd: dict) -> str:
        if "skipped" in s or not s:
            return "-"
        if _healthy_only(s):
            return f"FP rate {_cell(s, sd, 'healthy_fp_rate')}"  # no defects: no AP, IoU meaningless
        return f"{_cell(s, sd, 'map')} ({_cell(s, sd, 'iou_dataset')})"

    seeds = sorted({len(r.get("seeds", [])) for r in table.values() if "seeds" in r})
    note = f" Mean ± std over {seeds[-1]} seeds." if seeds and seeds[-1] > 1 else ""
    return ("# Training-mix experiment\n\nCells: box mAP (pixel IoU over the test set); for test sets of healthy "
            "images only, the image-level false-positive rate. Rows = training mix, columns = test sets." + note
            + "\n\n" + head + rows(map_iou)
            + "\n## Image-level AP (defective vs healthy, test sets holding both; the decision rule's score)\n\n"
            + head + rows(lambda s, sd: _cell(s, sd, "image_ap"))
            + "\n## OK/NG at the operating point chosen on validation (eval.decision): NG recall of defective "
              "images / false-positive rate of healthy images\n\n" + head
            + rows(lambda s, sd: "-" if s.get("decision_threshold") is None else
                   f"{_cell(s, sd, 'decision_recall')} / {_cell(s, sd, 'decision_healthy_fp')}")
            + decision_rules(table)
            + "\n## Dice (pixel Dice over the test set)\n\n" + head + rows(lambda s, sd: "-" if _healthy_only(s) else _cell(s, sd, "dice_dataset"))
            + "\n## Defect recall (small defects, under 0.5 % of the image)\n\n" + head
            + rows(lambda s, sd: "-" if s.get("defect_recall") is None else
                   f"{_cell(s, sd, 'defect_recall')} ({_cell(s, sd, 'small_recall')})")
            + "\n## mAP50 (box IoU >= 0.5)\n\n" + head + rows(lambda s, sd: _cell(s, sd, "map50"))
            + "\n## Customized mIoU\n\n" + head + rows(lambda s, sd: _cell(s, sd, "miou_custom"))
            + "\n## Healthy-image false-positive rate (test sets with healthy images)\n\n" + head
            + rows(lambda s, sd: _cell(s, sd, "healthy_fp_rate")) + per_class_markdown(table, sets))


def decision_rules(table: dict[str, dict]) -> str:
    """The rule each run's decision uses (``auto`` picks it on validation)."""
    lines = []
    for mix, r in table.items():
        rules = [f"s{sd}: {next((v.get('decision_rule') for v in run.get('sets', {}).values() if v.get('decision_rule')), '-')}"
                 for sd, run in r.get("runs", {}).items()]
        if rules:
            lines.append(f"- {mix}: " + ", ".join(rules))
    return ("\nDecision rule per run: \n" + "\n".join(lines) + "\n") if lines else ""


def per_class_markdown(table: dict[str, dict], sets: list[str]) -> str:
    """Per-class pixel IoU (mean ± std over seeds) on the first test set that groups images by class."""
    def per_class(r: dict, s: str) -> list[dict]:
        return [run["sets"].get(s, {}).get("per_class") or {} for run in r.get("runs", {}).values()]

    tset = next((s for s in sets for r in table.values() if any(per_class(r, s))), None)
    if tset is None:
        return ""
    classes = sorted({c for r in table.values() for pc in per_class(r, tset) for c in pc})
    out = (f"\n## Per class: pixel IoU on `{tset}`\n\n| training mix | " + " | ".join(classes) + " |\n|---|"
           + "---:|" * len(classes) + "\n")
    for mix, r in table.items():
        if "skipped" in r:
            continue
        cells = []
        for c in classes:
            v = np.array([pc[c]["iou_dataset"] for pc in per_class(r, tset)
                          if pc.get(c, {}).get("iou_dataset") is not None], float)
            cells.append("-" if v.size == 0 else fmt(float(v.mean())) + (f" ± {fmt(float(v.std(ddof=1)))}"
                                                                           if v.size > 1 else ""))
        out += f"| {mix} | " + " | ".join(cells) + " |\n"
    return out


def _mean_std(runs: list[dict], sets: list[str]) -> tuple[dict, dict]:
    """Per test set, mean and (with 2+ seeds) sample std of every scalar figure over seeds."""
    mean, std = {}, {}
    for s in sets:
        rs = [r[s] for r in runs if s in r and "skipped" not in r[s]]
        if not rs:
            mean[s] = runs[0].get(s, {})
            continue
        # every scalar figure defined for some seed (an undefined one, e.g. small_recall with no
        # small defect, is None once read back from JSON and NaN when fresh: both count as missing)
        keys = list(dict.fromkeys(k for r in rs for k, v in r.items()
                                  if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)))
        mean[s], std[s] = {}, {}
        for k in keys:
            vals = np.array([r.get(k) for r in rs if r.get(k) is not None], float)
            vals = vals[np.isfinite(vals)]
            mean[s][k] = float(vals.mean()) if vals.size else None
            std[s][k] = float(vals.std(ddof=1)) if vals.size > 1 else None
    return mean, std


def _reused_eval(mcfg, mdir: Path) -> dict | None:
    """The test figures of an earlier evaluation of this run's best checkpoint, when they are newer
    than it and were made with the same test sets and settings; else None (evaluate again)."""
    f, ck = mdir / "eval" / "metrics.json", mdir / "checkpoints" / "best.pt"
    if not (f.is_file() and ck.is_file()) or f.stat().st_mtime < ck.stat().st_mtime:
        return None
    m = json.loads(f.read_text())
    e, meta = mcfg.eval, m.get("meta", {})
    same = (meta.get("checkpoint") == str(ck) and meta.get("resolution") == e.resolution
            and meta.get("threshold") == e.threshold and meta.get("tolerance") == e.tolerance
            and meta.get("min_box_pixels") == e.min_box_pixels
            and meta.get("test_sets") == test_set_sources(mcfg, list(e.test_sets))
            and _decision_settings(meta.get("decision")) == settings_of(e))
    return m["results"] if same else None


def _decision_settings(d: dict | None) -> dict | None:
    return None if not isinstance(d, dict) else Decision.from_dict(d, "metrics.json").settings()


def _merge_previous(path: Path, table: dict, sets: list[str], all_seeds: list[int]) -> dict:
    """A partial run (some mixes, some seeds) adds to the table already at ``path``: the other
    mixes stay, and a mix keeps its other seeds' runs (of the config's seeds, with the same
    sources), its mean and std taken over all of them."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return table
    if not isinstance(old, dict):
        return table
    merged = dict(old)
    for mix, row in table.items():
        prev = old.get(mix)
        if "runs" in row and isinstance(prev, dict) and "runs" in prev and prev.get("sources") == row.get("sources"):
            runs = {**prev["runs"], **row["runs"]}
            runs = {str(sd): runs[str(sd)] for sd in all_seeds if str(sd) in runs}
            mean, std = _mean_std([r["sets"] for r in runs.values()], sets)
            row = {**row, "seeds": [int(k) for k in runs], "sets": mean, "sets_std": std,
                   "train_seconds": round(float(np.mean([r["train_seconds"] for r in runs.values()])), 1),
                   "runs": runs}
        merged[mix] = row
    return merged


def experiment(cfg: ExperimentConfig, out: Path | None = None, device: str | None = None,
               progress: bool = True, log=print, only_seeds: list[int] | None = None,
               partial: bool = False) -> dict[str, dict]:
    """Train and evaluate every mix (``only_seeds``: only those of the config's seeds, in the
    folders the full run uses); returns the table it writes. A ``partial`` run (some mixes or
    seeds) adds its rows and seeds to the table already written."""
    out = ensure_out(Path(out or cfg.out))
    sets = list(cfg.eval.test_sets)
    all_seeds = cfg.seeds or [cfg.train.seed]
    seeds = [s for s in all_seeds if only_seeds is None or s in only_seeds]
    partial = partial or only_seeds is not None

    def merged(t: dict) -> dict:
        return _merge_previous(out / "results.json", t, sets, all_seeds) if partial else t

    table: dict[str, dict] = {}
    for mix, spec in cfg.mixes.items():
        items, pre = mix_items(spec), getattr(spec, "pretrain", None)
        missing = [s for s in all_sources(spec) if not cfg.sources[s].available]
        if missing:
            table[mix] = {"skipped": f"source(s) {', '.join(missing)} not found"}
            log(f"[{mix}] skipped: missing {', '.join(missing)}")
            continue
        runs = {}
        for seed in seeds:
            mdir = out / mix if len(all_seeds) == 1 else out / mix / f"s{seed}"
            phase = {"mix": items, "seed": seed, "pretrain": pre}
            if getattr(spec, "epochs", None):
                phase["epochs"] = spec.epochs
            mcfg = cfg.model_copy(update={"train": cfg.train.model_copy(update=phase), "out": str(mdir)})
            log(f"[{mix}] training seed {seed}: " + describe_mix(spec))
            last = mdir / "checkpoints" / "last.pt"
            try:
                final = train(mcfg, mdir, resume=last.is_file(), device=device, progress=progress, log=log)
            except SynthgenError as exc:
                raise SynthgenError(f"mixes.{mix}: {exc} (delete {mdir} to retrain)") from None
            train_s = 0.0  # all epochs, also across resumed runs, and a schedule's first phase
            for h in (mdir / "history.json", mdir / "pretrain" / "history.json"):
                if h.is_file():
                    train_s += sum(e.get("seconds", 0.0) for e in json.loads(h.read_text()))
            res = _reused_eval(mcfg, mdir)
            if res is None:
                res = evaluate(mcfg, mdir / "checkpoints" / "best.pt", mdir / "eval", device=device,
                               progress=progress, log=lambda s, _m=mix: log(f"[{_m}] {s}"))
            else:
                log(f"[{mix}] seed {seed}: test figures reused from {mdir / 'eval' / 'metrics.json'}")
            runs[seed] = {"train_seconds": round(train_s, 1), "final_epoch": final, "sets": res}
        mean, std = _mean_std([r["sets"] for r in runs.values()], sets)
        table[mix] = {"sources": sources_record(spec), "seeds": seeds, "sets": mean, "sets_std": std,
                      "train_seconds": round(float(np.mean([r["train_seconds"] for r in runs.values()])), 1),
                      "runs": {str(k): v for k, v in runs.items()}}
        atomic_json(out / "results.json", clean(merged(table)))
    table = merged(table)
    atomic_json(out / "results.json", clean(table))
    md = results_markdown(table, sets)
    atomic_text(out / "results.md", md)
    return table
