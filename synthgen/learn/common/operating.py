"""The operating point of a model: its OK/NG ``Decision`` chosen on validation images, saved
in its checkpoint, and found again for ``seg eval`` and ``seg predict``.

The validation images decide the rule (``eval.decision.rule: auto``) and the threshold; test
images are read only after the decision is fixed, so no test label can move it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from synthgen.errors import SynthgenError
from synthgen.learn.common.checkpoint import read_checkpoint
from synthgen.learn.common.config import EvalConfig
from synthgen.learn.common.data import SegDataset
from synthgen.learn.common.decision import Decision, choose
from synthgen.learn.common.io import atomic_torch_save
from synthgen.learn.common.loop import evaluate_model


def settings_of(ev: EvalConfig) -> dict:
    d = ev.decision
    return {"rule": d.rule, "recall": d.recall, "top_k": d.top_k, "sigma": d.sigma, "pixel_threshold": ev.threshold}


def saved_decision(ck: dict, where: str) -> Decision | None:
    """The decision saved in a checkpoint, or None."""
    d = ck.get("decision")
    return Decision.from_dict(d, where) if isinstance(d, dict) else None


def choose_on_validation(model: torch.nn.Module, val_ds: SegDataset, ev: EvalConfig, device: torch.device,
                         resolution: str, progress: bool = False) -> Decision:
    """Score every validation image under every rule; pick the rule and its threshold."""
    m = evaluate_model(model, val_ds, ev, device, resolution, progress, "operating point")
    rows = [{"scores": r["scores"], "defective": not r["healthy"]} for r in m.rows]
    return choose(rows, ev.decision, ev.threshold)


def decision_for(ck: dict, where: str, model: torch.nn.Module, ev: EvalConfig, device: torch.device,
                 validation: Callable[[], SegDataset | None], resolution: str, progress: bool = False,
                 log=print) -> Decision | None:
    """The checkpoint's decision when it was chosen with ``ev``'s settings; else one chosen now on
    ``validation()`` (None when there are no validation images)."""
    dec = saved_decision(ck, where)
    if dec is not None and dec.settings() == settings_of(ev):
        return dec
    val_ds = validation()
    if val_ds is None:
        log(f"{where}: no saved decision for eval.decision's settings and no validation images to choose one "
            f"on; image figures without an operating point")
        return None
    dec = choose_on_validation(model, val_ds, ev, device, resolution, progress)
    log(f"operating point chosen on {len(val_ds)} validation images: {describe(dec)}")
    return dec


def describe(dec: Decision) -> str:
    v = dec.validation
    return (f"rule {dec.rule}, threshold {dec.threshold:.4g} (validation recall {v.get('decision_recall', 0):.3f}, "
            f"healthy FP {v.get('decision_healthy_fp', float('nan')):.3f}, image AP {v.get('image_ap', float('nan')):.3f})")


def save_decision(paths: list[Path], dec: Decision) -> None:
    """Write the decision into each checkpoint (atomically; the weights are unchanged)."""
    for p in paths:
        if not p.is_file():
            continue
        ck = read_checkpoint(p)
        ck["decision"] = dec.to_dict()
        atomic_torch_save(p, ck)


def require_decision(ck: dict, where: str) -> Decision:
    dec = saved_decision(ck, where)
    if dec is None:
        raise SynthgenError(f"{where}: decision: the checkpoint holds no saved operating point (train with validation "
                            f"sources, train.val, or pass --threshold)")
    return dec
