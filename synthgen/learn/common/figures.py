"""Figures of the learning commands (matplotlib, Agg backend), saved through the one atomic writer."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from synthgen.io import atomic_write_bytes


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (headless nodes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG atomically and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    pyplot().close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def fmt(v) -> str:
    """A figure for tables and legends: 3 decimals, ints as they are, NaN / None as '-'."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, (bool, int)):
        return str(v)
    return f"{v:.3f}"


def plot_learning_curve(history: list[dict], path: Path) -> None:
    plt = pyplot()

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train loss")
    if any("decision_loss" in h for h in history):
        a.plot(ep, [h.get("decision_loss", np.nan) for h in history], "s-", ms=3, label="decision head BCE")
    a.set_xlabel("epoch")
    a.set_ylabel("loss (BCE/CE + Dice)")
    a.set_title("training loss")
    a.grid(alpha=0.3)
    a.legend()
    keys = [("iou_dataset", "IoU"), ("dice_dataset", "Dice"), ("miou", "mIoU standard"),
            ("miou_custom", "mIoU customized"), ("map", "mAP (boxes)"), ("image_ap", "image AP (max)"),
            ("image_ap_top_k", "image AP (top-k)"), ("image_ap_head", "image AP (head)"),
            ("healthy_fp_rate", "healthy FP rate")]
    plotted = False
    for k, lab in keys:
        ys = [h.get("val", {}).get(k) for h in history]
        if any(y is not None and np.isfinite(y) for y in ys):
            b.plot(ep, [np.nan if y is None else y for y in ys], "o-", label=lab)
            plotted = True
    b.set_xlabel("epoch")
    b.set_ylim(0, 1.02)
    b.set_title("validation" if plotted else "validation (no val sources)")
    b.grid(alpha=0.3)
    if plotted:
        b.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def plot_pr(curves: dict[str, dict], path: Path, title: str = "box-level precision-recall") -> None:
    """``curves``: label -> {"recall": [...], "precision": [...], "ap": float}."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for label, c in curves.items():
        if not c["recall"]:
            continue
        r = [0.0] + list(c["recall"])
        p = [c["precision"][0]] + list(c["precision"])
        ax.step(r, p, where="post", label=f"{label} (AP {fmt(c['ap'])})")
    ax.set_xlabel("recall (ground-truth defect boxes found)")
    ax.set_ylabel("precision (predicted boxes on a defect)")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if ax.lines:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def plot_decision_pr(curves: dict[str, dict], path: Path, decision=None) -> None:
    """Image-level PR curves (``decision_figures``'s ``decision_pr``), the operating point marked."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for i, (label, c) in enumerate(curves.items()):
        ax.step([0.0] + c["recall"], [c["precision"][0]] + c["precision"], where="post", color=f"C{i}", label=label)
        ax.plot(*c["point"], "o", color=f"C{i}", ms=7, mfc="none", mew=2)
    ax.set_xlabel("recall (defective images called NG)")
    ax.set_ylabel("precision (NG calls on defective images)")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    rule = f"rule {decision.rule}, threshold {decision.threshold:.3g}" if decision else ""
    ax.set_title(f"image-level OK/NG ({rule}; o = operating point)", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
