"""Evaluation (``synthgen seg eval CONFIG``): metrics JSON + markdown + precision-recall plot.

For each test set of ``eval.test_sets`` the checkpoint's model predicts every image; the
metrics of ``synthgen.learn.common.metrics`` are computed (pixel IoU/Dice per image and over the
dataset, standard and customized mIoU, box AP/mAP, healthy-image false-positive rate).

Output folder (default ``<out>/eval``)::

    metrics.json       {test set: dataset figures}, plus the checkpoint and settings used
    metrics.md         the same figures as a markdown table
    <set>.json         per-image rows and PR curves of one test set
    pr_curve.png       box-level precision-recall curves, one line per test set (and class)
    decision_pr.png    image-level precision-recall of the decision's score on each test set that
                       holds defective and healthy images, its operating point marked

The OK/NG decision (``eval.decision``) is the checkpoint's saved one when it was chosen with the
config's settings; otherwise it is chosen now on the validation sources (``train.val``) before any
test image is read. Each test set then reports, at that operating point, the recall of its
defective images and the false-positive rate of its healthy images, with the rule's image AP and
AUROC.

NaN figures (AP of a test set without defects, FP rate without healthy images) are written as
``null`` in JSON and ``-`` in markdown.
"""

from __future__ import annotations

from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.learn.common.checkpoint import load_checkpoint, model_from_checkpoint
from synthgen.learn.common.data import available, build_dataset
from synthgen.learn.common.figures import fmt, plot_decision_pr, plot_pr
from synthgen.learn.common.io import atomic_json, atomic_text, clean, ensure_out
from synthgen.learn.common.loop import evaluate_model, resolve_device
from synthgen.learn.common.operating import decision_for, describe
from synthgen.learn.seg.config import SegConfig

COLUMNS = [("images", "images"), ("healthy_images", "healthy"), ("iou_dataset", "IoU"),
           ("dice_dataset", "Dice"), ("iou_mean_per_image", "IoU/img"),
           ("miou", "mIoU std"), ("miou_custom", "mIoU custom"), ("map", "mAP (intersect)"),
           ("map50", "mAP50"), ("image_ap", "image AP"), ("image_auroc", "image AUROC"),
           ("defect_recall", "defect recall"), ("small_recall", "small recall"),
           ("healthy_fp_rate", "healthy FP rate (any pixel)"), ("decision_recall", "NG recall @ op"),
           ("decision_healthy_fp", "healthy FP @ op")]
CLASS_COLUMNS = [("images", "images"), ("iou_dataset", "IoU"), ("defect_recall", "defect recall"),
                 ("image_recall", "image recall"), ("mean_score", "mean score")]


SMALL_NOTE = ("\nmAP (intersect): a predicted box counts when it touches a defect box; mAP50: box IoU >= 0.5. "
              "image AP / AUROC: defective-vs-healthy ranking by the decision rule's image score. "
              "@ op: at the operating point chosen on validation (NG when score >= threshold). "
              "Small: defects under 0.5 % of the image.\n")


def markdown_table(results: dict[str, dict]) -> str:
    lines = ["| test set | " + " | ".join(h for _, h in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name, s in results.items():
        if "skipped" in s:
            lines.append(f"| {name} | skipped: {s['skipped']} |" + " |" * (len(COLUMNS) - 1))
            continue
        lines.append(f"| {name} | " + " | ".join(fmt(s.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def class_table(results: dict[str, dict]) -> str:
    """Per-class rows (defective images grouped by their class) of every test set that has them."""
    rows = [(n, c, v) for n, s in results.items() for c, v in (s.get("per_class") or {}).items()]
    if not rows:
        return ""
    lines = ["| test set | class | " + " | ".join(h for _, h in CLASS_COLUMNS) + " |",
             "|---|---|" + "---:|" * len(CLASS_COLUMNS)]
    lines += [f"| {n} | {c} | " + " | ".join(fmt(v.get(k)) for k, _ in CLASS_COLUMNS) + " |" for n, c, v in rows]
    return "\n".join(lines) + "\n"




def decision_line(dec) -> str:
    if dec is None:
        return "No operating point (no saved decision and no validation sources).\n\n"
    v = dec.validation
    return (f"Decision: rule `{dec.rule}`"
            + (" (auto: best validation image AP)" if dec.requested == "auto" else "")
            + f", NG when score >= {dec.threshold:.4g}, chosen on {v.get('images', '?')} validation images to keep "
            f"recall {dec.recall:g} (validation: recall {fmt(v.get('decision_recall'))}, healthy FP "
            f"{fmt(v.get('decision_healthy_fp'))}).\n\n")


def test_set_sources(cfg: SegConfig, names: list[str]) -> dict[str, list]:
    """What each test set reads: its sources' settings (paths, keys, limits)."""
    return {n: [cfg.sources[s].model_dump(mode="json") for s in cfg.eval.test_sets[n]] for n in names}


def evaluate(cfg: SegConfig, checkpoint: Path | None = None, out: Path | None = None, device: str | None = None,
             sets: list[str] | None = None, resolution: str | None = None, progress: bool = True,
             log=print) -> dict[str, dict]:
    """Evaluate a checkpoint on the configured test sets; returns {set: summary}."""
    checkpoint = Path(checkpoint or Path(cfg.out) / "checkpoints" / "best.pt")
    names = sets or list(cfg.eval.test_sets)
    if not names:
        raise SynthgenError("eval.test_sets: no test sets configured")
    for n in names:
        if n not in cfg.eval.test_sets:
            raise SynthgenError(f"--set {n}: not a test set of eval.test_sets ({', '.join(cfg.eval.test_sets)})")
    dev = resolve_device(device or cfg.train.device)
    ck = load_checkpoint(checkpoint)
    out = ensure_out(Path(out or Path(cfg.out) / "eval"))
    model, data = model_from_checkpoint(ck, dev)
    res = resolution or cfg.eval.resolution

    def validation():
        names_val = available(cfg.train.val, cfg.sources)
        return build_dataset(names_val, cfg.sources, data) if names_val else None

    # fixed before any test image is read
    decision = decision_for(ck, str(checkpoint), model, cfg.eval, dev, validation, res, progress, log)
    if decision is not None:
        log(f"decision: {describe(decision)}")
    results: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    image_curves: dict[str, dict] = {}
    for n in names:
        srcs = cfg.eval.test_sets[n]
        missing = [s for s in srcs if s not in available(srcs, cfg.sources)]
        if missing:
            results[n] = {"skipped": f"source(s) {', '.join(missing)} not found"}
            log(f"{n}: skipped (missing {', '.join(missing)})")
            continue
        ds = build_dataset(srcs, cfg.sources, data)
        m = evaluate_model(model, ds, cfg.eval, dev, res, progress, f"eval {n}")
        s = m.summary(decision)
        pr = s.pop("pr_curves")
        if "decision_pr" in s:
            image_curves[n] = s.pop("decision_pr")
        results[n] = s
        atomic_json(out / f"{n}.json", clean({"summary": s, "pr_curves": pr, "per_image": m.rows}))
        for c, cv in pr.items():
            label = n if data.binary else f"{n} / {data.classes[int(c) - 1]}"
            curves[label] = {**cv, "ap": s["ap_per_class"][c]}
        log(f"{n}: {len(ds)} images, IoU {fmt(s['iou_dataset'])}, mIoU custom {fmt(s['miou_custom'])}, "
            f"mAP {fmt(s['map'])}, mAP50 {fmt(s['map50'])}, image AP {fmt(s['image_ap'])}, "
            f"healthy FP rate {fmt(s['healthy_fp_rate'])}"
            + (f"; at the operating point: NG recall {fmt(s['decision_recall'])}, healthy FP "
               f"{fmt(s['decision_healthy_fp'])}" if decision else ""))
    meta = {"checkpoint": str(checkpoint), "epoch": ck.get("epoch"), "resolution": res,
            "threshold": cfg.eval.threshold, "tolerance": cfg.eval.tolerance,
            "min_box_pixels": cfg.eval.min_box_pixels, "classes": data.classes,
            "test_sets": test_set_sources(cfg, names),
            "decision": decision.to_dict() if decision else None}
    atomic_json(out / "metrics.json", clean({"meta": meta, "results": results}))
    md = (f"# Segmentation evaluation\n\ncheckpoint `{checkpoint}` (epoch {ck.get('epoch')}), resolution "
          f"{res}, threshold {cfg.eval.threshold}, customized-mIoU tolerance {cfg.eval.tolerance} px\n\n"
          + decision_line(decision) + markdown_table(results) + SMALL_NOTE + "\n" + class_table(results))
    atomic_text(out / "metrics.md", md)
    plot_pr(curves, out / "pr_curve.png")
    if image_curves:
        plot_decision_pr(image_curves, out / "decision_pr.png", decision)
    return results
