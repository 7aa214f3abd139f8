"""``synthgen realism`` and ``synthgen fit`` (imported lazily by ``synthgen.cli``)."""

from __future__ import annotations

from pathlib import Path

import click

_src_opts = [
    click.option("--keys", multiple=True, help="split files: the lists to read (default: the *.train lists when "
                                               "there are any, so test photos are never used)"),
    click.option("--mask-suffix", default=".png", show_default=True,
                 help="image folders: mask file = <image stem><suffix>"),
]


def _with(opts):
    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


@click.command(name="realism")
@click.argument("real", type=click.Path(path_type=Path))
@click.argument("rendered", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("realism"), show_default=True,
              help="folder for realism.md, realism.json and the figures")
@click.option("--seeds", default="0,1,2", show_default=True, help="classifier seeds, comma-separated")
@click.option("--no-classifier", is_flag=True, help="statistics and sheet only (no torch needed)")
@click.option("--per-class", type=click.IntRange(min=4), default=150, show_default=True,
              help="classifier patches per class and side, per half")
@click.option("--patch", type=click.IntRange(min=16), default=64, show_default=True, help="patch side (px)")
@click.option("--epochs", type=click.IntRange(min=1), default=15, show_default=True)
@click.option("--jpeg", type=click.IntRange(min=1, max=100), default=None,
              help="recompress RENDERED patches as JPEG at this quality before the classifier sees them")
@click.option("--class", "classes", multiple=True, help="only these classes (repeatable; 'healthy' included)")
@click.option("--max-instances", type=click.IntRange(min=1), default=300, show_default=True,
              help="statistics from at most this many instances per class and side")
@click.option("--instances", type=click.Choice(["components", "annotations"]), default="components",
              show_default=True, help="what one instance of a labelled dataset is: a connected component of a "
              "class's mask in an image, as a photo's mask splits (sizes then compare like with like), or one "
              "annotation")
@_with(_src_opts)
def realism(real, rendered, out, seeds, no_classifier, per_class, patch, epochs, jpeg, classes, max_instances,
            instances, keys, mask_suffix):
    """How far RENDERED (a synthgen dataset, or any image+mask source) is from REAL photos.

    REAL: a split json, a COCO json, a folder of images with same-named masks, or a synthgen
    dataset. Per class and for healthy images: a real-vs-rendered classifier's accuracy over
    seeds (0.5 = indistinguishable), size, position and border-distance distributions, contrast,
    edge sharpness, width and noise, with KS distances, and a contact sheet.
    """
    from synthgen.errors import SynthgenError
    from synthgen.realism.report import Options, measure, write_report
    from synthgen.realism.sources import read_side

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise SynthgenError(f"--seeds: expected comma-separated integers (got '{seeds}')") from None
    r = read_side(real, list(keys) or None, mask_suffix, instances=instances)
    d = read_side(rendered, None, mask_suffix, instances=instances)
    opts = Options(seeds=seed_list, classifier=not no_classifier, per_class=per_class, patch=patch, epochs=epochs,
                   jpeg=jpeg, max_instances=max_instances, classes=list(classes) or None)
    rep = measure(r, d, opts)
    write_report(rep, r, d, out, str(real), str(rendered))
    c = rep.get("classifier", {})
    acc = f"; classifier accuracy {c['overall']['mean']:.3f} ± {c['overall']['std']:.3f}" if "overall" in c else ""
    click.echo(f"realism: {len(rep['classes'])} classes ({', '.join(rep['classes'])}){acc} -> {out}/realism.md",
               err=True)


@click.command(name="fit")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("real", type=click.Path(path_type=Path))
@click.option("--kind", required=True, help="the defect kind of CONFIG to fit (REAL's class of the same name)")
@click.option("--real-class", default=None, help="REAL's class to fit against (default: the kind's name)")
@click.option("--param", "params", multiple=True,
              help="a field to fit, relative to the kind (shape.width, material.base_color for its _min/_max pair) "
                   "or from the config's root (render.sensor.noise.full_well_e); repeatable; default: the kind's size_mm, "
                   "depth_mm, shape.width, shape.radius, material.base_color, those the config declares")
@click.option("--feature", "features", multiple=True, help="statistics compared (default: area, contrast, "
                                                           "rel_contrast, edge, width)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="fit folder (default: fit_<kind>); a rerun with the same setup resumes")
@click.option("--scenes", type=click.IntRange(min=1), default=8, show_default=True, help="scenes rendered per trial")
@click.option("--trials", type=click.IntRange(min=1), default=40, show_default=True, help="complete trials in all")
@click.option("--span", type=click.FloatRange(min=1.0, min_open=True), default=4.0, show_default=True,
              help="each field moves by a factor in [1/span, span]")
@click.option("--budget-min", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="start no trial after this many minutes (this run)")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="sampler seed")
@click.option("--confirm-seeds", default="0,1,2", show_default=True,
              help="classifier seeds for the before/after check ('' to skip)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with(_src_opts)
def fit(config, real, kind, real_class, params, features, out, scenes, trials, span, budget_min, seed,
        confirm_seeds, quiet, keys, mask_suffix):
    """Calibrate defect kind K of CONFIG against REAL photos of its class.

    Searches the ranges CONFIG declares for the kind (Optuna), scoring small renders of the kind
    by a statistic distance to REAL's instances; writes patch.yaml, fitted.yaml, report.md and
    the before/after contact sheets under --out.
    """
    from synthgen.errors import SynthgenError
    from synthgen.realism.fit import DEFAULT_FEATURES, FitOptions, Fitter, finish

    try:
        cseeds = [int(s) for s in confirm_seeds.split(",") if s.strip()]
    except ValueError:
        raise SynthgenError(f"--confirm-seeds: expected comma-separated integers (got '{confirm_seeds}')") from None
    opts = FitOptions(params=list(params) or None, features=list(features) or list(DEFAULT_FEATURES),
                      scenes=scenes, trials=trials, span=span, budget_min=budget_min, seed=seed,
                      real_class=real_class, confirm_seeds=cseeds, progress=not quiet)
    fitter = Fitter(config, real, kind, out or Path(f"fit_{kind}"), opts, list(keys) or None, mask_suffix)
    study = fitter.run()
    res = finish(fitter, study)
    click.echo(f"fit {kind}: distance {res['distance_before']:.3f} -> {res['distance_after']:.3f} "
               f"(trial {res['best_trial']}); patch -> {fitter.out}/patch.yaml, report -> {fitter.out}/report.md",
               err=True)


@click.command(name="hybrid")
@click.argument("rendered", type=click.Path(file_okay=False, path_type=Path))
@click.argument("healthy", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="new folder to write")
@click.option("--num", type=click.IntRange(min=1), default=200, show_default=True, help="composites to write")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--per-image", type=click.IntRange(min=1), nargs=2, default=(1, 1), show_default=True,
              help="defects per composite, min max")
@click.option("--scale", type=click.FloatRange(min=0.05, max=20), nargs=2, default=(1.0, 1.0), show_default=True,
              help="scale range of a carried defect")
@click.option("--mode", type=click.Choice(["ratio", "difference"]), default="ratio", show_default=True,
              help="ratio: the photo times on/off of the renders; difference: plus on - off")
@click.option("--jpeg", type=click.IntRange(min=1, max=100), default=None, help="write JPEG images at this quality")
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with(_src_opts)
def hybrid(rendered, healthy, out, num, seed, per_image, scale, mode, jpeg, quiet, keys, mask_suffix):
    """Carry RENDERED's defects onto HEALTHY real photos (a synthgen dataset to train on).

    RENDERED: a synthgen dataset rendered with verification.save_pairs: true. HEALTHY: any image
    source (split json, folder, COCO, synthgen dataset); its images without a defect are used.
    """
    from synthgen.realism.hybrid import make_hybrid
    from synthgen.realism.sources import HEALTHY, read_side

    photos = sorted({it.image for it in read_side(healthy, list(keys) or None, mask_suffix) if it.cls == HEALTHY})
    s = make_hybrid(rendered, photos, out, num, seed, tuple(per_image), tuple(scale), mode, jpeg, progress=not quiet,
                    healthy_source=str(healthy))
    click.echo(f"hybrid: {s['images']} images with {s['defects']} defects from {s['pairs']} rendered pairs on "
               f"{s['healthy_photos']} healthy photos -> {out}", err=True)
