"""Training-mix experiments (``synthgen seg experiment CONFIG``).

Every mix of ``mixes`` (e.g. real; synthetic; real + healthy; real + synthetic + healthy) is
trained with the shared model/train/augment settings into ``<out>/<mix>/`` and evaluated on every
test set of ``eval.test_sets``. The result is the table of the inspection literature: rows =
training mix, columns = test sets, cells = box mAP (pixel IoU), written as ``results.md`` and
``results.json`` in ``<out>``. A mix that needs a missing optional source (e.g. a synthgen
dataset not rendered yet) is listed as skipped. Re-running resumes: finished mixes are not
retrained (their ``last.pt`` is reused), interrupted ones continue from their last epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.learn.common.io import atomic_json, atomic_text, clean, ensure_out
from synthgen.learn.seg.config import ExperimentConfig
from synthgen.learn.seg.evaluate import evaluate, fmt
from synthgen.learn.seg.train import train


def results_markdown(table: dict[str, dict], sets: list[str]) -> str:
    head = "| training mix | " + " | ".join(sets) + " |\n|---|" + "---:|" * len(sets) + "\n"

    def rows(cell) -> str:
        out = ""
        for mix, r in table.items():
            if "skipped" in r:
                out += f"| {mix} | skipped: {r['skipped']} |" + " |" * (len(sets) - 1) + "\n"
                continue
            out += f"| {mix} | " + " | ".join(cell(r["sets"].get(s, {})) for s in sets) + " |\n"
        return out

    def map_iou(s: dict) -> str:
        if "skipped" in s or not s:
            return "-"
        if s.get("images") and s.get("images") == s.get("healthy_images"):
            return f"FP rate {fmt(s.get('healthy_fp_rate'))}"  # no defects: no AP, IoU meaningless
        return f"{fmt(s.get('map'))} ({fmt(s.get('iou_dataset'))})"

    return ("# Training-mix experiment\n\nCells: box mAP (pixel IoU over the test set); for test sets of healthy "
            "images only, the image-level false-positive rate. Rows = training mix, columns = test sets.\n\n" + head + rows(map_iou)
            + "\n## Customized mIoU\n\n" + head + rows(lambda s: fmt(s.get("miou_custom")))
            + "\n## Healthy-image false-positive rate (test sets with healthy images)\n\n" + head
            + rows(lambda s: fmt(s.get("healthy_fp_rate"))))


def experiment(cfg: ExperimentConfig, out: Path | None = None, device: str | None = None,
               progress: bool = True, log=print) -> dict[str, dict]:
    out = ensure_out(Path(out or cfg.out))
    sets = list(cfg.eval.test_sets)
    table: dict[str, dict] = {}
    for mix, items in cfg.mixes.items():
        missing = [m.source for m in items if not cfg.sources[m.source].available]
        if missing:
            table[mix] = {"skipped": f"source(s) {', '.join(missing)} not found"}
            log(f"[{mix}] skipped: missing {', '.join(missing)}")
            continue
        mdir = out / mix
        mcfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"mix": items}), "out": str(mdir)})
        log(f"[{mix}] training: " + " + ".join(f"{m.source} x{m.ratio:g}" for m in items))
        last = mdir / "checkpoints" / "last.pt"
        try:
            final = train(mcfg, mdir, resume=last.is_file(), device=device, progress=progress, log=log)
        except SynthgenError as exc:
            raise SynthgenError(f"mixes.{mix}: {exc} (delete {mdir} to retrain)") from None
        history = json.loads((mdir / "history.json").read_text())
        train_s = sum(e.get("seconds", 0.0) for e in history)  # all epochs, also across resumed runs
        res = evaluate(mcfg, mdir / "checkpoints" / "best.pt", mdir / "eval", device=device, progress=progress,
                       log=lambda s, _m=mix: log(f"[{_m}] {s}"))
        table[mix] = {"sources": [m.model_dump() for m in items], "train_seconds": round(train_s, 1),
                      "final_epoch": final, "sets": res}
        atomic_json(out / "results.json", clean(table))
    atomic_json(out / "results.json", clean(table))
    md = results_markdown(table, sets)
    atomic_text(out / "results.md", md)
    return table
