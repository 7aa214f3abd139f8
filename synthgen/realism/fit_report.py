"""The files of ``synthgen fit`` for people: report.md, trace.png and the before/after contact sheets."""

from __future__ import annotations

import math

import numpy as np

from synthgen.io import atomic_write_text
from synthgen.realism.sheet import contact_sheet
from synthgen.realism.sources import Item


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def _trace_figure(result: dict, path) -> None:
    from synthgen.learn.common.figures import pyplot, save_figure

    plt = pyplot()
    t = [x for x in result["trials"] if x["state"] == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if t:
        n = [x["number"] for x in t]
        v = [x["value"] for x in t]
        ax.plot(n, v, "o", ms=3, alpha=0.6, label="trial")
        ax.plot(n, np.minimum.accumulate(v), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("statistic distance to real")
    ax.set_title(f"fit of {result['setup']['kind']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def write_fit_report(fitter, result: dict, sides: dict[str, list[Item]]) -> None:
    out, kind = fitter.out, fitter.kind
    real = fitter.real_as_kind
    for name, items in sides.items():
        if items:
            contact_sheet(real, items, [kind], out / f"contact_sheet_{name}.png", per_side=8,
                          names=("real", f"rendered {name}"))
    _trace_figure(result, out / "trace.png")
    s = result["setup"]
    complete = len([t for t in result["trials"] if t["state"] == "COMPLETE"])
    lines = [f"# synthgen fit: {kind}", "", f"- config: `{s['config']}`",
             f"- real: `{s['real']}` (class {s['real_class']}, {len(fitter.real_items)} instances)",
             (f"- {complete} complete trials of {s['scenes']} scenes each; factors searched in "
              f"[1/{s['span']:g}, {s['span']:g}]; features: {', '.join(s['features'])}"),
             (f"- statistic distance: before {_f(result['distance_before'])}, after "
              f"{_f(result['distance_after'])} (best trial {result['best_trial']})"),
             "", "## Fitted fields", "", "| field | as written | fitted | factor |", "|---|---|---|---:|"]
    for p in fitter.params:
        for path, vals in zip(p.fields, p.values):
            new = result["edits"][path]
            lines.append(f"| `{path}` | {', '.join(_f(float(x)) for x in vals)} | {', '.join(_f(x) for x in new)} | "
                         f"{result['best_factors'][p.name]:.3f} |")
    c = result.get("classifier")
    if c:
        lines += ["", "## Classifier (real vs rendered, 0.5 = indistinguishable)", "", "| renders | accuracy |",
                  "|---|---:|"]
        lines += [f"| {k} | {v['mean']:.3f} ± {v['std']:.3f} |" if v else f"| {k} | - |" for k, v in c.items()]
    lines += ["", "## Statistics of the kind (median; KS distance to real)", "",
              "| feature | real | before | KS before | after | KS after |", "|---|---|---|---:|---|---:|"]
    st = result["stats"]
    for key in (st.get("after") or st.get("before") or {}):
        b, a = st.get("before", {}).get(key, {}), st.get("after", {}).get(key, {})
        med = (lambda q: _f(q[1]) if q else "-")
        lines.append(f"| {key} | {med((a or b).get('real'))} | {med(b.get('rendered'))} | {_f(b.get('ks'))} | "
                     f"{med(a.get('rendered'))} | {_f(a.get('ks'))} |")
    lines += ["", "![trace](trace.png)", "", "![before](contact_sheet_before.png)", "",
              "![after](contact_sheet_after.png)", "",
              "Apply: render `fitted.yaml` (CONFIG with the patch, comments kept), or merge `patch.yaml` by hand.", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
