"""The search of ``synthgen fit``: which config fields it may move, and an Optuna study over them.

A *parameter* is one numeric field of a render config (a number, a range or a colour), named by
its path (``defects.kinds.Crack.shape.width``), or a pair of ``<name>_min`` / ``<name>_max`` fields
moved together (``defects.kinds.Crack.material.base_color``). The search moves each parameter by
one factor in ``[1 / span, span]`` (log-uniform) applied to every number of the field(s), so a range
keeps its relative spread. The factor 1 is the config as written, evaluated first.

The study is Optuna's TPE sampler (seeded) on a journal file, so a killed fit resumes: trials that
were running are marked failed and the study goes on until ``trials`` trials are complete or the
time budget is spent (no trial starts after it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthgen.config.edit import ALL_SECTIONS, editable_fields
from synthgen.config.job import JobConfig
from synthgen.errors import SynthgenError

SECTIONS = ALL_SECTIONS
# What ``fit --kind K`` moves when no --param is given: those of these the config declares.
DEFAULT_KIND_PARAMS = ("size_mm", "depth_mm", "shape.width", "shape.radius", "material.base_color")


@dataclass(frozen=True)
class Param:
    name: str                      # as the user wrote it, relative to the kind where it is one
    fields: tuple[str, ...]        # the config paths it moves
    values: tuple[tuple[float, ...], ...]  # their values as declared
    is_int: tuple[bool, ...]

    def edits(self, factor: float) -> dict[str, tuple]:
        out = {}
        for path, vals, is_int in zip(self.fields, self.values, self.is_int):
            out[path] = tuple(max(0, round(v * factor)) if is_int else float(f"{v * factor:.4g}") for v in vals)
        return out


def _declared(raw: dict, path: str) -> bool:
    from synthgen.config.edit import _steps

    node = raw
    for s in _steps(path):
        try:
            node = node[s]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def full_path(name: str, kind: str) -> str:
    return name if name.split(".")[0].split("[")[0] in SECTIONS else f"defects.kinds.{kind}.{name}"


def resolve_params(cfg: JobConfig, raw: dict, kind: str, names: list[str] | None, source: str) -> list[Param]:
    """The parameters ``names`` (default: ``DEFAULT_KIND_PARAMS`` the config declares for ``kind``);
    a name the config does not declare is a one-line error naming the field."""
    if kind not in cfg.defects.kinds:
        raise SynthgenError(f"{source}: defects.kinds.{kind}: no such defect kind (the config has "
                            f"{', '.join(sorted(cfg.defects.kinds)) or 'none'})")
    fields = {f.path: f for f in editable_fields(cfg, SECTIONS)}
    out = []
    for name in names or DEFAULT_KIND_PARAMS:
        path = full_path(name, kind)
        group = [path] if path in fields else [f"{path}_min", f"{path}_max"]
        ok = all(p in fields and _declared(raw, p) for p in group)
        if not ok:
            if names is None:
                continue
            raise SynthgenError(f"{source}: {path}: not a numeric range this config declares (fit moves only "
                                f"declared fields; write it into the config first)")
        out.append(Param(name, tuple(group), tuple(fields[p].value for p in group),
                         tuple(fields[p].is_int for p in group)))
    if not out:
        raise SynthgenError(f"{source}: defects.kinds.{kind}: declares none of {', '.join(DEFAULT_KIND_PARAMS)}; "
                            f"name the fields to fit with --param")
    return out


def edits_for(params: list[Param], factors: dict[str, float]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for p in params:
        out.update(p.edits(factors[p.name]))
    return out


def run_study(params: list[Param], objective: Callable[[dict[str, float], int], float], journal: Path,
              trials: int, span: float = 4.0, budget_s: float | None = None, seed: int = 0,
              on_trial: Callable | None = None):
    """Minimise ``objective(factors, trial_number)`` over the factors of ``params``; returns the study.

    Resumes from ``journal``; the first trial of a new study is the config as written (all
    factors 1). ``on_trial(study, trial)`` is called after each finished trial (progress)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    if span <= 1:
        raise SynthgenError(f"--span: must be > 1 (got {span})")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journal.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(study_name="fit", storage=storage, load_if_exists=True, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=8))
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if t.state == TrialState.RUNNING:  # killed mid-trial: its result never came
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial({p.name: 1.0 for p in params})

    def obj(trial):
        f = {p.name: trial.suggest_float(p.name, 1.0 / span, span, log=True) for p in params}
        t0 = time.perf_counter()
        v = objective(f, trial.number)
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        if not math.isfinite(v):
            raise optuna.TrialPruned()
        return v

    def done(study_, trial):
        if on_trial is not None:
            on_trial(study_, trial)
        complete = sum(t.state == TrialState.COMPLETE for t in study_.get_trials(deepcopy=False))
        if complete >= trials:
            study_.stop()

    complete = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    if complete < trials:
        study.optimize(obj, n_trials=None, timeout=budget_s, callbacks=[done], catch=())
    return study
