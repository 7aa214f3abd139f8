"""benchmarks/twin_aims.py judges Table 1's aims per seed, as the issue words them."""

from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from twin_aims import aims


def _mix(iou: dict, ap: dict) -> dict:
    return {"runs": {s: {"sets": {"defective": {"iou_dataset": iou[s]}, "all": {"image_ap": ap[s]}}} for s in iou}}


def _table(limited_syn_iou, full_syn_iou=None):
    return {"real_limited+healthy": _mix({"0": 0.2, "1": 0.2}, {"0": 0.4, "1": 0.4}),
            "real_limited+synthetic+healthy": _mix(limited_syn_iou, {"0": 0.5, "1": 0.5}),
            "synthetic+healthy": _mix({"0": 0.1, "1": 0.2}, {"0": 0.3, "1": 0.3}),
            "real+healthy": _mix({"0": 0.5, "1": 0.4}, {"0": 0.6, "1": 0.6}),
            "real+synthetic+healthy": _mix(full_syn_iou or {"0": 0.4, "1": 0.38}, {"0": 0.6, "1": 0.6})}


def test_limited_aim_must_hold_in_every_seed_not_on_average():
    ok = {r["aim"]: r for r in aims(_table({"0": 0.26, "1": 0.26}), realism=0.8)}
    one_seed = {r["aim"]: r for r in aims(_table({"0": 0.4, "1": 0.24}))}
    key = next(k for k in ok if k.startswith("limited"))
    assert ok[key]["met"] is True and "+30.0%" in ok[key]["figures"]
    assert one_seed[key]["met"] is False  # the mean gain is +60 %, but seed 1 gains only +20 %


def test_synthetic_share_full_data_and_realism():
    rows = {r["aim"].split(":")[0]: r for r in aims(_table({"0": 0.3, "1": 0.3}), realism=0.8)}
    assert rows["synthetic alone"]["met"] is False and "33.3%" in rows["synthetic alone"]["figures"]  # 0.15 / 0.45
    assert rows["full data"]["met"] is True  # 0.06 below, within real+healthy's seed std of 0.071
    worse = {r["aim"].split(":")[0]: r for r in aims(_table({"0": 0.3, "1": 0.3}, {"0": 0.3, "1": 0.32}))}
    assert worse["full data"]["met"] is False  # 0.14 below
    assert rows["realism"]["met"] is False and "80.0%" in rows["realism"]["figures"]
    missing = {r["aim"].split(":")[0]: r for r in aims({})}
    assert all(r["met"] is None for r in missing.values())


def test_limited_aim_takes_the_best_rendered_row_schedules_included():
    table = _table({"0": 0.22, "1": 0.22})  # the plain mix misses (+10 %)
    table["synthetic->real_limited+healthy"] = _mix({"0": 0.27, "1": 0.26}, {"0": 0.45, "1": 0.5})
    table["real_limited+synthetic1.5to0.2+healthy"] = _mix({"0": 0.24, "1": 0.25}, {"0": 0.5, "1": 0.5})
    row = next(r for r in aims(table) if r["aim"].startswith("limited"))
    assert row["met"] is True and "best row synthetic->real_limited+healthy" in row["figures"]
    table["synthetic->real_limited+healthy"] = _mix({"0": 0.27, "1": 0.26}, {"0": 0.45, "1": 0.3})
    row = next(r for r in aims(table) if r["aim"].startswith("limited"))
    assert row["met"] is False  # the best row's image AP falls in seed 1
