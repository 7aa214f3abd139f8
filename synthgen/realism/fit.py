"""``synthgen fit CONFIG REAL --kind K``: calibrate one defect kind's declared ranges against photos.

Each trial renders ``scenes`` small scenes of CONFIG with only kind K (at least one per part,
healthy renders off, the same seed every trial so trials differ only by the parameters), measures
K's instances (``realism.stats``) and scores the cheap, deterministic ``stats.distance`` to REAL's
instances of K. The best trial's factors become a config patch (``patch.yaml``) and a patched
copy of CONFIG (``fitted.yaml``, comments kept, paths rebased); the real-vs-rendered classifier
then confirms before against after. Everything lives under ``--out``: ``journal.log`` (the Optuna
study; a rerun resumes it), ``trials/`` (the renders of the config as written and of the best
trial), ``fit.json``, ``report.md``, ``trace.png`` and the contact sheets.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from synthgen.config.edit import apply_edits, save_config
from synthgen.config.job import JobConfig, load_job_config
from synthgen.config.loading import read_yaml
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_json, atomic_write_text
from synthgen.realism.sources import Item, read_side
from synthgen.realism.stats import INSTANCE_FEATURES, compare, distance, side_features
from synthgen.realism.study import Param, edits_for, resolve_params, run_study

DEFAULT_FEATURES = ("area", "contrast", "rel_contrast", "edge", "width")


@dataclass
class FitOptions:
    params: list[str] | None = None
    features: list[str] = field(default_factory=lambda: list(DEFAULT_FEATURES))
    scenes: int = 8
    trials: int = 40
    span: float = 4.0
    budget_min: float | None = None
    seed: int = 0
    real_class: str | None = None
    confirm_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    max_instances: int = 300
    progress: bool = True


def kind_only(cfg: JobConfig, kind: str, scenes: int) -> JobConfig:
    """``cfg`` rendering only ``kind``, at least one per part, no healthy renders, ``scenes`` scenes."""
    data = cfg.model_dump()
    k = data["defects"]["kinds"][kind]
    lo, hi = k["count_per_part"]
    k["count_per_part"] = (max(1, lo), max(1, hi))
    data["defects"]["kinds"] = {kind: k}
    data["verification"]["render_without_defects"] = False
    data["defects"]["healthy_share"] = 0.0  # every scene shows the kind
    data["num_scenes"] = scenes
    out = JobConfig.model_validate(data, context={"config_dir": cfg.config_dir})
    out._source = cfg.source
    return out


def render_kind(cfg: JobConfig, kind: str, scenes: int, out: Path, cache: Path, seed: int | None = None) -> list[Item]:
    """Render ``scenes`` scenes of ``kind`` alone into ``out`` (poses and libraries under ``cache``;
    ``seed`` overrides the config's)."""
    from synthgen.pipeline import run_render
    from synthgen.quiet import quiet_stdout

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cache.mkdir(parents=True, exist_ok=True)
    (out / ".cache").symlink_to(cache.resolve(), target_is_directory=True)
    log = logging.getLogger("synthgen")
    level = log.level
    log.setLevel(logging.ERROR)  # a trial's rejected scenes are counted, not printed over the progress bar
    try:
        with quiet_stdout():
            run_render(kind_only(cfg, kind, scenes), out=out, seed=seed, progress=False)
    finally:
        log.setLevel(level)
    return [it for it in read_side(out) if it.cls == kind]


class Fitter:
    """The state of one fit (see the module docstring)."""

    def __init__(self, config: Path, real: Path, kind: str, out: Path, opts: FitOptions,
                 keys: list[str] | None = None, mask_suffix: str = ".png"):
        self.config, self.kind, self.out, self.opts = Path(config), kind, Path(out), opts
        self.cfg = load_job_config(config)
        self.params: list[Param] = resolve_params(self.cfg, read_yaml(config), kind, opts.params, str(config))
        unknown = [f for f in opts.features if f not in INSTANCE_FEATURES]
        if unknown:
            raise SynthgenError(f"--feature: unknown feature {', '.join(unknown)} (known: "
                                f"{', '.join(INSTANCE_FEATURES)})")
        cls = opts.real_class or kind
        self.real_items = [it for it in read_side(real, keys, mask_suffix) if it.cls == cls]
        if not self.real_items:
            raise SynthgenError(f"{real}: no instance of class '{cls}' (the kind's name; map another class with "
                                f"--real-class)")
        self.real_src = str(real)
        # REAL's instances named after the kind, to stand beside the renders in sheets and the classifier
        self.real_as_kind = [replace(it, cls=kind) for it in self.real_items]
        self.real_feats = side_features(self.real_items, opts.max_instances, np.random.default_rng(0)).get(cls, [])
        self.cls = cls
        self.setup = {"config": str(self.config.resolve()), "real": str(Path(real).resolve()), "kind": kind,
                      "real_class": cls, "params": [p.name for p in self.params], "features": opts.features,
                      "scenes": opts.scenes, "span": opts.span, "seed": opts.seed}
        self._check_setup()
        self.best = (float("inf"), None)

    def _check_setup(self) -> None:
        f = self.out / "setup.json"
        if f.is_file() and json.loads(f.read_text()) != self.setup:
            raise SynthgenError(f"{self.out}: holds a fit of another setup (see its setup.json); use another --out")
        atomic_write_json(f, self.setup)

    def trial_dir(self, n: int) -> Path:
        return self.out / "trials" / f"{n:04d}"

    def evaluate(self, factors: dict[str, float], n: int) -> float:
        try:
            cfg = apply_edits(self.cfg, edits_for(self.params, factors))
        except SynthgenError:
            return float("nan")  # outside what the config allows (e.g. a colour above 1): pruned
        items = render_kind(cfg, self.kind, self.opts.scenes, self.trial_dir(n), self.out / "cache")
        feats = side_features(items, self.opts.max_instances, np.random.default_rng(0)).get(self.kind, [])
        # Relabel so the distance compares the kind with the real class.
        d = distance(self.real_feats, feats, self.opts.features, self.cls)
        atomic_write_json(self.trial_dir(n) / "fit_trial.json", {"factors": factors, "distance": d,
                                                                 "instances": len(feats)})
        return d

    def prune_dirs(self, study, trial) -> None:
        """Keep the renders of the config as written (trial 0) and of the best trial so far."""
        from optuna.trial import TrialState

        done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        best = min(done, key=lambda t: t.value).number if done else None
        for d in sorted((self.out / "trials").glob("[0-9]*")):
            if int(d.name) not in (0, best):
                shutil.rmtree(d, ignore_errors=True)

    def run(self):
        from tqdm import tqdm

        budget = self.opts.budget_min * 60 if self.opts.budget_min else None
        bar = tqdm(total=self.opts.trials, unit="trial", disable=not self.opts.progress, dynamic_ncols=True)

        def on_trial(study, trial):
            self.prune_dirs(study, trial)
            from optuna.trial import TrialState

            done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
            bar.n = len(done)
            if done:
                bar.set_postfix(best=f"{min(t.value for t in done):.3f}", last=f"{trial.value or float('nan'):.3f}")
            bar.refresh()

        study = run_study(self.params, self.evaluate, self.out / "journal.log", self.opts.trials, self.opts.span,
                          budget, self.opts.seed, on_trial)
        bar.close()
        return study


def trace(study) -> list[dict]:
    from optuna.trial import TrialState

    return [{"number": t.number, "state": t.state.name, "value": t.value, "factors": t.params,
             "seconds": t.user_attrs.get("seconds")} for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]


def finish(fitter: Fitter, study, confirm: bool = True) -> dict:
    """Write the patch, the fitted config, the report and the figures; returns fit.json's content."""
    from optuna.trial import TrialState

    from synthgen.realism.fit_report import write_fit_report

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        raise SynthgenError(f"{fitter.out}: no trial finished within the budget; raise --budget-min")
    best = min(done, key=lambda t: t.value)
    base = next((t for t in done if t.number == 0), None)
    edits = edits_for(fitter.params, best.params)
    out = fitter.out
    patch = _nested(edits)
    save_config(fitter.config, out / "fitted.yaml", edits)
    import yaml

    atomic_write_text(out / "patch.yaml", "# synthgen fit: merge into " + str(fitter.config) + "\n"
                      + yaml.safe_dump(patch, sort_keys=False))
    sides = {"before": [it for it in read_side(fitter.trial_dir(0)) if it.cls == fitter.kind] if base else [],
             "after": [it for it in read_side(fitter.trial_dir(best.number)) if it.cls == fitter.kind]}
    rng = np.random.default_rng(0)
    stats = {k: compare(fitter.real_feats, side_features(v, fitter.opts.max_instances, rng).get(fitter.kind, []),
                        fitter.kind) for k, v in sides.items() if v}
    result = {"setup": fitter.setup, "best_trial": best.number, "best_factors": best.params,
              "distance_before": base.value if base else None, "distance_after": best.value,
              "edits": {k: list(v) for k, v in edits.items()},
              "before": {p: list(v) for prm in fitter.params for p, v in zip(prm.fields, prm.values)},
              "stats": stats, "trials": trace(study)}
    if confirm and fitter.opts.confirm_seeds:
        result["classifier"] = _confirm(fitter, sides)
    write_fit_report(fitter, result, sides)
    atomic_write_json(out / "fit.json", result)
    return result


def _confirm(fitter: Fitter, sides: dict[str, list[Item]]) -> dict:
    from synthgen.realism import classifier as clf

    real = fitter.real_as_kind
    out = {}
    for name, items in sides.items():
        runs = [r for s in fitter.opts.confirm_seeds if (r := clf.run_seed(real, items, [fitter.kind], s)) is not None]
        out[name] = clf.summarise(runs)["overall"] if runs else None
    return out


def _nested(edits: dict[str, tuple]) -> dict:
    from synthgen.config.edit import _steps

    out: dict = {}
    for path, v in edits.items():
        node = out
        steps = _steps(path)
        for s in steps[:-1]:
            node = node.setdefault(s, {})
        node[steps[-1]] = [float(x) for x in v] if len(v) > 1 else float(v[0])
    return out
