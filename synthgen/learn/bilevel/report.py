"""Results of the bi-level runs: test evaluation, the markdown tables and the figures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from synthgen.learn.bilevel.config import BilevelConfig
from synthgen.learn.bilevel.hypergrad import HeatmapNet
from synthgen.learn.common.data import SegDataset, available, build_dataset
from synthgen.learn.common.decision import Decision
from synthgen.learn.common.figures import pyplot, save_figure
from synthgen.learn.common.io import atomic_png
from synthgen.learn.common.loop import evaluate_model


def location_mass(heatmap: HeatmapNet, images: torch.Tensor, region: np.ndarray) -> float:
    """Mean probability the heat map puts on the cells of ``region`` ((G, G) bool) over ``images``."""
    with torch.no_grad():
        p = heatmap.log_probs(images).exp().cpu().numpy()
    return float((p * region.reshape(1, -1)).sum(1).mean())


def test_datasets(cfg: BilevelConfig) -> dict[str, SegDataset]:
    """The configured test sets whose sources exist (built once, decoded images cached across runs)."""
    out = {}
    for name, srcs in cfg.eval.test_sets.items():
        have = available(srcs, cfg.sources)
        if have:
            out[name] = build_dataset(have, cfg.sources, cfg.data)
    return out


def evaluate_run(cfg: BilevelConfig, model: nn.Module, dev: torch.device, tests: dict[str, SegDataset],
                 progress: bool = False, decision: Decision | None = None) -> dict:
    """Test figures of one run; image-level ones at ``decision``'s operating point (chosen on learn.val)."""
    out = {}
    for name, ds in tests.items():
        m = evaluate_model(model, ds, cfg.eval, dev, cfg.eval.resolution, progress, f"eval {name}")
        s = m.summary(decision)
        out[name] = {k: s.get(k) for k in ("iou_dataset", "dice_dataset", "miou", "miou_custom", "map", "map50",
                                           "image_ap", "image_auroc", "defect_recall", "healthy_fp_rate",
                                           "decision_recall", "decision_healthy_fp", "decision_threshold")}
    return out


CURVE_METRICS = ("iou_dataset", "map", "image_ap", "healthy_fp_rate")


def validation_metrics(cfg: BilevelConfig, model: nn.Module, dev: torch.device, ds: SegDataset) -> dict:
    """The learning-curve point: metrics on the validation set at network resolution."""
    s = evaluate_model(model, ds, cfg.eval, dev, "network").summary()
    return {k: s.get(k) for k in CURVE_METRICS}


def curves_figure(results: dict, path: Path) -> None:
    """Validation learning curves, one panel per metric; colour = run, thin = seeds, thick = mean."""
    plt = pyplot()

    runs: dict[str, list[list[dict]]] = {}
    for key, res in results.items():
        if res.get("curve"):
            runs.setdefault(key.rsplit("_s", 1)[0], []).append(res["curve"])
    names = {"iou_dataset": "IoU", "map": "mAP (boxes)", "image_ap": "image AP", "healthy_fp_rate": "healthy FP rate"}
    fig, axes = plt.subplots(1, len(CURVE_METRICS), figsize=(4.2 * len(CURVE_METRICS), 3.6), squeeze=False)
    for ax, m in zip(axes[0], CURVE_METRICS):
        for c, (run, curves) in enumerate(runs.items()):
            n = min(len(cv) for cv in curves)
            steps = [p["step"] for p in curves[0][:n]]
            v = np.array([[np.nan if p["val"].get(m) is None else p["val"][m] for p in cv[:n]] for cv in curves])
            for row in v:
                ax.plot(steps, row, color=f"C{c}", lw=0.7, alpha=0.35)
            ax.plot(steps, np.nanmean(v, 0), color=f"C{c}", lw=2.2, label=f"{run} ({len(curves)})")
        ax.set_title(f"validation {names[m]}")
        ax.set_xlabel("inner step")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("bi-level learning curves on learn.val (thin: seeds, thick: mean over seeds)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(x))


def _fmt(vals: list[float | None]) -> str:
    v = np.array([x for x in vals if _finite(x)], float)
    if v.size == 0:
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if v.size > 1 else f"{v.mean():.3f}"


TABLE_METRICS = [("iou_dataset", "IoU"), ("miou_custom", "mIoU custom"), ("map", "mAP"), ("map50", "mAP50"),
                 ("image_ap", "image AP"), ("healthy_fp_rate", "healthy FP rate (any pixel)"),
                 ("decision_recall", "NG recall @ op"), ("decision_healthy_fp", "healthy FP @ op")]


def results_table(results: dict, cfg: BilevelConfig) -> str:
    """Markdown: rows = runs, columns = test sets x metrics (those defined on the set: no mAP on
    healthy images, no FP rate without them), mean ± std over seeds."""
    cols = []
    for tname in cfg.eval.test_sets:
        for m, label in TABLE_METRICS:
            if any(_finite(r["test"].get(tname, {}).get(m)) for r in results.values()):
                cols.append((tname, m, label))
    head = "| run | " + " | ".join(label if label.startswith(t) else f"{t} {label}" for t, _, label in cols) + " | seeds |"
    sep = "|---|" + "---:|" * len(cols) + "---:|"
    rows = [head, sep]
    for run in cfg.runs:
        rs = [results[k] for k in results if results[k]["run"] == run]
        if not rs:
            continue
        cells = [_fmt([r["test"].get(t, {}).get(m) for r in rs]) for t, m, _ in cols]
        rows.append(f"| {run} | " + " | ".join(cells) + f" | {len(rs)} |")
    return "\n".join(rows) + "\n" + comparison_table(results, cfg)


COMPARISONS = [("learned_locations", "random"), ("both", "learned_weights"), ("learned_weights", "random"),
               ("both", "learned_locations")]


def comparison_table(results: dict, cfg: BilevelConfig) -> str:
    """Markdown: relative change of the mean IoU and mAP of each learned run over the run that differs
    only in the learned part, and in how many seeds (paired by seed) the learned run is ahead."""
    by = {(r["run"], r["seed"]): r for r in results.values()}
    rows = []
    for a, b in COMPARISONS:
        seeds = sorted(sd for (run, sd) in by if run == a and (b, sd) in by)
        if not seeds:
            continue
        cells = []
        for tname in cfg.eval.test_sets:
            for m in ("iou_dataset", "map"):
                va = [by[a, sd]["test"].get(tname, {}).get(m) for sd in seeds]
                vb = [by[b, sd]["test"].get(tname, {}).get(m) for sd in seeds]
                if any(v is None for v in va + vb):
                    cells.append("-")
                    continue
                ma, mb = float(np.mean(va)), float(np.mean(vb))
                rel = f"{100 * (ma - mb) / mb:+.1f} %" if mb > 0 else "n/a"
                cells.append(f"{rel} ({sum(x > y for x, y in zip(va, vb))}/{len(seeds)})")
        rows.append(f"| {a} vs {b} | " + " | ".join(cells) + " |")
    if not rows:
        return ""
    head = ("| learned vs baseline | " + " | ".join(f"{t} IoU | {t} mAP" for t in cfg.eval.test_sets) + " |")
    sep = "|---|" + "---:|" * (2 * len(cfg.eval.test_sets))
    return ("\nRelative change of the mean over seeds (seeds where the learned run is ahead):\n\n"
            + "\n".join([head, sep, *rows]) + "\n")


def heatmap_figure(examples: list[np.ndarray], maps: dict[str, list[np.ndarray]], path: Path) -> None:
    """Rows = runs (and seeds) with learned locations, columns = example backgrounds with the heat map
    overlaid on one fixed scale: black = 0, bright = ``4x`` the uniform probability or more."""
    tiles_rows = []
    for run, hms in maps.items():
        ratio = max(float(np.max(h)) * h.size for h in hms)
        row = []
        for img, hm in zip(examples, hms):
            base = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            H, W = base.shape[:2]
            up = cv2.resize(hm.astype(np.float32), (W, H), interpolation=cv2.INTER_NEAREST)
            up = (255 * np.clip(up * hm.size / 4.0, 0, 1)).astype(np.uint8)
            col = cv2.applyColorMap(up, cv2.COLORMAP_INFERNO)
            t = cv2.addWeighted(base, 0.45, col, 0.55, 0)
            f = max(1, 160 // max(H, W))
            t = cv2.resize(t, (W * f, H * f), interpolation=cv2.INTER_NEAREST)
            row.append(np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        strip = np.concatenate(row, 1)
        label = np.full((22, strip.shape[1], 3), 255, np.uint8)
        cv2.putText(label, f"{run}: paste-location probability, peak {ratio:.1f}x uniform", (4, 16),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        tiles_rows.append(np.concatenate([label, strip], 0))
    if tiles_rows:
        wmax = max(r.shape[1] for r in tiles_rows)
        tiles_rows = [np.pad(r, ((0, 0), (0, wmax - r.shape[1]), (0, 0)), constant_values=255) for r in tiles_rows]
        atomic_png(path, np.concatenate(tiles_rows, 0))


def weights_markdown(trajectories: dict[str, list[dict]], names: list[str]) -> str:
    """Final learned source weights per run: geometric mean over seeds, then each seed's."""
    by_run: dict[str, list[tuple[str, list[float]]]] = {}
    for key, hist in trajectories.items():
        if hist:
            run, _, seed = key.rpartition("_s")
            by_run.setdefault(run, []).append((seed, hist[-1]["weights"]))
    if not by_run:
        return ""
    out = ("\n\nFinal learned source weights (mean weight 1; geometric mean over seeds, then per seed):\n\n"
           "| run | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names) + "\n")
    for run, rows in by_run.items():
        w = np.array([r for _, r in rows], float)
        gm = np.exp(np.log(np.maximum(w, 1e-12)).mean(0))
        out += f"| {run} | " + " | ".join(f"**{v:.2f}**" for v in gm) + " |\n"
        for seed, r in rows:
            out += f"| {run} seed {seed} | " + " | ".join(f"{v:.2f}" for v in r) + " |\n"
    return out


def weights_figure(trajectories: dict[str, list[dict]], names: list[str], path: Path) -> None:
    """One panel per run with learned weights; colour = source, thin lines = seeds, thick line = the
    geometric mean over seeds (the weights are a softmax, so their logs average)."""
    plt = pyplot()

    runs: dict[str, list[list[dict]]] = {}
    for key, hist in trajectories.items():
        runs.setdefault(key.rsplit("_s", 1)[0], []).append(hist)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), sharey=True, squeeze=False)
    for ax, (run, hists) in zip(axes[0], runs.items()):
        n = min(len(h) for h in hists)
        steps = [r["step"] for r in hists[0][:n]]
        for s, name in enumerate(names):
            w = np.array([[r["weights"][s] for r in h[:n]] for h in hists])
            for row in w:
                ax.plot(steps, row, color=f"C{s}", lw=0.8, alpha=0.45)
            ax.plot(steps, np.exp(np.log(w).mean(0)), color=f"C{s}", lw=2.4,
                    label=f"{name} (final {np.exp(np.log(w[:, -1]).mean()):.2f})")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("inner step")
        ax.set_title(f"{run}: {len(hists)} seed(s)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("importance weight (log scale; mean 1)")
    fig.suptitle("learned defect-source weights (thin: seeds, thick: geometric mean)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
