"""``synthgen realism REAL RENDERED``: the report (realism.md, realism.json, figures).

Everything is computed first; the files are then written into a temporary folder beside ``out``
and moved in, so a failed run leaves nothing partial and an earlier report stays whole until the
new one is complete.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_json, atomic_write_text
from synthgen.realism import classifier as clf
from synthgen.realism.sheet import contact_sheet
from synthgen.realism.sources import HEALTHY, Item, classes_of
from synthgen.realism.stats import compare, feature_table, side_features

FIG_FEATURES = ("area", "box", "border", "contrast", "edge", "width", "noise")


@dataclass
class Options:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    classifier: bool = True
    per_class: int = 150
    patch: int = 64
    epochs: int = 15
    jpeg: int | None = None
    max_instances: int = 300
    classes: list[str] | None = None
    names: tuple[str, str] = ("real", "rendered")


def measure(real: list[Item], rendered: list[Item], opts: Options) -> dict:
    """The report as a dict (no files)."""
    rc, dc = classes_of(real), classes_of(rendered)
    classes = [c for c in rc if c in dc]
    if opts.classes:
        unknown = [c for c in opts.classes if c not in classes]
        if unknown:
            raise SynthgenError(f"--class: {', '.join(unknown)} not on both sides (real: {', '.join(rc)}; "
                                f"rendered: {', '.join(dc)})")
        classes = list(opts.classes)
    if not classes:
        raise SynthgenError(f"no class on both sides (real: {', '.join(rc) or 'none'}; "
                            f"rendered: {', '.join(dc) or 'none'})")
    rng = np.random.default_rng(0)
    rf = side_features([it for it in real if it.cls in classes], opts.max_instances, rng)
    df = side_features([it for it in rendered if it.cls in classes], opts.max_instances, rng)
    rep = {"classes": classes, "only_real": [c for c in rc if c not in dc],
           "only_rendered": [c for c in dc if c not in rc], "names": list(opts.names),
           "counts": {c: {"real": sum(it.cls == c for it in real), "rendered": sum(it.cls == c for it in rendered)}
                      for c in classes},
           "stats": {c: compare(rf.get(c, []), df.get(c, []), c) for c in classes},
           "features": {"real": rf, "rendered": df}}
    if opts.classifier:
        runs = [r for s in opts.seeds if (r := clf.run_seed(real, rendered, classes, s, opts.per_class,
                                                            opts.patch, opts.epochs, opts.jpeg)) is not None]
        rep["classifier"] = (dict(clf.summarise(runs), runs=runs, patch=opts.patch, jpeg=opts.jpeg)
                             if runs else {"error": "too few patches on one side"})
    return rep


def _distribution_figure(rep: dict, path: Path) -> None:
    from synthgen.learn.common.figures import pyplot, save_figure

    plt = pyplot()
    from matplotlib.ticker import NullFormatter

    classes = rep["classes"]
    ncol = len(FIG_FEATURES)
    fig, axes = plt.subplots(len(classes), ncol, figsize=(2.4 * ncol, 2.0 * len(classes)), squeeze=False)
    for r, cls in enumerate(classes):
        keys = list(feature_table(cls)) if cls == HEALTHY else list(FIG_FEATURES)
        for c in range(ncol):
            ax = axes[r][c]
            if c >= len(keys):
                ax.axis("off")
                continue
            key = keys[c]
            log = feature_table(cls)[key][0]
            vals = [np.array([d[key] for d in rep["features"][side].get(cls, []) if key in d
                              and math.isfinite(d[key])]) for side in ("real", "rendered")]
            allv = np.concatenate(vals)
            if not len(allv):
                ax.axis("off")
                continue
            if log:
                allv = allv[allv > 0]
                lo, hi = (allv.min(), allv.max()) if len(allv) else (1e-3, 1.0)
                bins = np.geomspace(lo, max(hi, lo * 1.01), 20)
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            else:
                bins = np.linspace(allv.min(), max(allv.max(), allv.min() + 1e-6), 20)
            for v, name, col in zip(vals, rep["names"], ("C0", "C1")):
                if len(v):
                    ax.hist(v, bins=bins, weights=np.full(len(v), 1.0 / len(v)), alpha=0.5, color=col,
                            label=f"{name} {len(v)}")
            ax.set_title(f"{cls} {key}: KS {rep['stats'][cls][key]['ks']:.2f}", fontsize=7)
            ax.tick_params(labelsize=6)
            if c == 0:
                ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def markdown(rep: dict, real_src: str, rendered_src: str) -> str:
    n0, n1 = rep["names"]
    lines = ["# Realism report", "", f"- {n0}: `{real_src}`", f"- {n1}: `{rendered_src}`",
             f"- classes on both sides: {', '.join(rep['classes'])}"]
    if rep["only_real"] or rep["only_rendered"]:
        lines.append(f"- only {n0}: {', '.join(rep['only_real']) or '-'}; only {n1}: "
                     f"{', '.join(rep['only_rendered']) or '-'}")
    c = rep.get("classifier")
    if c and "overall" in c:
        lines += ["", (f"## {n0} vs {n1} classifier ({c['patch']} px patches, held-out halves; 0.5 = "
                       f"indistinguishable)"), "", "| class | accuracy, mean ± std over seeds |", "|---|---:|",
                  f"| all | {c['overall']['mean']:.3f} ± {c['overall']['std']:.3f} |"]
        lines += [f"| {k} | {v['mean']:.3f} ± {v['std']:.3f} |" for k, v in c["per_class"].items()]
        if c["one_class_seeds"]:
            lines.append(f"\nSeeds {c['one_class_seeds']}: the classifier put every test patch in one class.")
    elif c:
        lines += ["", f"Classifier: {c['error']}"]
    lines += ["", "## Statistics (median [10 %, 90 %]; KS distance, 0 = same distribution)", "",
              f"| class | feature | {n0} | {n1} | KS | n {n0} / {n1} |", "|---|---|---|---|---:|---|"]
    for cls in rep["classes"]:
        for key, s in rep["stats"][cls].items():
            q = [("-" if v is None else f"{_f(v[1])} [{_f(v[0])}, {_f(v[2])}]") for v in (s["real"], s["rendered"])]
            lines.append(f"| {cls} | {key} | {q[0]} | {q[1]} | {_f(s['ks'])} | {s['n_real']} / {s['n_rendered']} |")
    lines += ["", "Features: " + "; ".join(f"{k}: {v[1]}" for k, v in feature_table("x").items()) + ". Healthy: "
              + "; ".join(f"{k}: {v[1]}" for k, v in feature_table(HEALTHY).items()) + ".", "",
              "![distributions](distributions.png)", "", "![contact sheet](contact_sheet.png)", ""]
    return "\n".join(lines)


def write_report(rep: dict, real: list[Item], rendered: list[Item], out: Path, real_src: str,
                 rendered_src: str) -> None:
    """realism.json (without the raw features), realism.md, distributions.png, contact_sheet.png."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".realism_", dir=out.parent))
    try:
        body = {k: v for k, v in rep.items() if k != "features"}
        atomic_write_json(tmp / "realism.json", dict(body, real=real_src, rendered=rendered_src))
        atomic_write_text(tmp / "realism.md", markdown(rep, real_src, rendered_src))
        _distribution_figure(rep, tmp / "distributions.png")
        contact_sheet(real, rendered, rep["classes"], tmp / "contact_sheet.png", names=tuple(rep["names"]))
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
