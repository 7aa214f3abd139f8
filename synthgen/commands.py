"""Render-side CLI commands (render, merge, plan, validate, schema, preview, export); synthgen.cli adds them."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from synthgen.errors import ConfigError, SynthgenError

DEVICE_CHOICES = click.Choice(["CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL"], case_sensitive=False)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="output folder (overrides config 'out')")
@click.option("--num-scenes", type=click.IntRange(min=1), help="number of scenes (overrides config)")
@click.option("--seed", type=click.IntRange(min=0), help="master seed (overrides config)")
@click.option("--device", type=DEVICE_CHOICES, help="Cycles device (overrides render.device)")
@click.option("--shard", help="render only scenes with index % N == K, as K/N (default: from Slurm array or "
              "Kubernetes Indexed Job env, else 0/1)")
@click.option("--from-plan", "from_plans", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="re-render the scene of this written plan (plans/NNNNNN.json of a dataset made with CONFIG) "
              "into --out, pixel-identically; repeatable")
@click.option("--verbose", "-v", is_flag=True, help="debug logging and Blender's own output")
def render(config: Path, out, num_scenes, seed, device, shard, from_plans, verbose):
    """Plan, verify and render CONFIG's scenes into a labelled dataset (resumable)."""
    from synthgen.config.job import load_job_config
    from synthgen.dataset.writer import parse_shard
    from synthgen.pipeline import run_render
    from synthgen.stats import no_images_reasons, summary_line

    _setup_logging(verbose)
    cfg = load_job_config(config, {"seed": seed, "num_scenes": num_scenes,
                                   "render.device": device.upper() if device else None})
    k, n = parse_shard(shard)
    _preflight(cfg, config)
    plans = None
    if from_plans:
        from synthgen.plan.files import read_plan_files

        if out is None:
            raise SynthgenError("--from-plan: give --out, a new folder for the re-rendered scenes")
        plans = read_plan_files(from_plans, cfg, config)
    if out is None and n > 1:
        out = Path(cfg.out) / "shards" / f"{k:03d}-of-{n:03d}"
    stats = run_render(cfg, out=out, shard=(k, n), quiet=not verbose, plans=plans)
    click.echo(summary_line(stats, out or cfg.out), err=True)
    if stats.scenes_in_shard and not stats.dataset_images:
        raise SynthgenError(f"{config}: no image was accepted in {stats.scenes_done} scenes "
                            f"({no_images_reasons(stats)}); see the 'scene N rejected' lines above")


def _preflight(cfg, config: Path) -> None:
    """Open every referenced file before anything is written; print repairs and doubts once."""
    from synthgen.preflight import check_inputs

    for line in check_inputs(cfg, config):
        click.echo(f"warning: {line}", err=True)


@click.command()
@click.argument("datasets", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="merged dataset folder")
def merge(datasets, out):
    """Combine shard datasets of one job into one dataset (annotations equal an unsharded run's)."""
    from synthgen.dataset.writer import merge_datasets

    for d in datasets:
        if not d.is_dir():
            raise SynthgenError(f"{d}: dataset folder not found")
    man = merge_datasets(list(datasets), out)
    c = man["counts"]
    click.echo(f"merged {len(datasets)} datasets -> {out}: {c['scenes_done']} scenes, "
               f"{c['cameras_accepted']} images, {c['defect_views_visible']} defect instances", err=True)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scene", "scene_index", type=click.IntRange(min=0), default=0, show_default=True,
              help="scene index to plan")
@click.option("--seed", type=click.IntRange(min=0), help="master seed (overrides config)")
@click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path),
              help="keep resting poses and the generated defect library in this folder (e.g. the output's "
              ".cache) to reuse them; default: a temporary folder, removed after")
@click.option("--no-cache", is_flag=True, help="no pose cache and no defect library: defects get a variant index only")
def plan(config: Path, scene_index: int, seed, cache, no_cache):
    """Print the plan of one scene as JSON, as a render writes it to plans/ (pure Python: no
    Blender needed). Writes nothing unless --cache is given."""
    import tempfile

    from synthgen.config.job import load_job_config
    from synthgen.plan import PlacementError, make_plan
    from synthgen.plan.library import library_root, resolve_library
    from synthgen.plan.portable import portable

    cfg = load_job_config(config, {"seed": seed})
    _preflight(cfg, config)
    with tempfile.TemporaryDirectory(prefix="synthgen_plan_") as tmp:
        where = None if no_cache else (cache or Path(tmp))
        library = resolve_library(cfg, cfg.seed, where) if where is not None else None
        try:
            p = make_plan(cfg, scene_index, cache_dir=where, library=library)
        except PlacementError as exc:
            raise SynthgenError(f"{config}: scene {scene_index}: {exc}") from None
        root = library_root(cfg, cfg.seed, where) if where is not None else None
        text = json.dumps(portable(p.to_dict(), cfg.config_dir, root), sort_keys=True, indent=1) + "\n"
    click.echo(text, nl=False)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fast", is_flag=True, help="check the config only; do not open its CAD, IES and library files")
def validate(config: Path, fast: bool):
    """Check a render config and open every file it references; print one line per problem
    (exit 2) or a short summary."""
    from synthgen.config.job import load_job_config

    _not_a_render_config(config)
    cfg = load_job_config(config)
    if not fast:
        _preflight(cfg, config)
    click.echo(f"{config}: ok ({len(cfg.parts)} parts, {cfg.cameras.ark.count} cameras, "
               f"{len(cfg.lights)} lights, {cfg.num_scenes} scenes, device {cfg.render.device})")


# Top-level keys that only the other configs have: say which command reads the file instead.
OTHER_CONFIGS = {"mixes": "seg experiment", "vqvae": "vqgen train", "synthesis": "bilevel train",
                 "augment": "seg train", "sources": "seg / bilevel / vqgen", "defects": "defects generate"}


def _not_a_render_config(config: Path) -> None:
    from synthgen.config.loading import read_yaml

    data = read_yaml(config)
    if "parts" in data:
        return
    hits = [k for k in OTHER_CONFIGS if k in data and k != "defects"]
    if not hits and "defects" in data and data.keys() <= {"seed", "defects"}:
        hits = ["defects"]  # a standalone defect-library config
    if hits:
        raise ConfigError([(f"{config}: not a render config (it has '{hits[0]}', no 'parts'): it is read by "
                           f"'synthgen {OTHER_CONFIGS[hits[0]]}'; validate checks render configs")])


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to this file instead of stdout")
def schema(out):
    """Write the JSON Schema of the render config (for editor autocompletion)."""
    from synthgen.config.job import job_schema
    from synthgen.io import atomic_write_text

    text = json.dumps(job_schema(), indent=1) + "\n"
    if out:
        atomic_write_text(out, text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write")
@click.option("--max-images", type=click.IntRange(min=1), default=36, show_default=True)
@click.option("--columns", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--width", "thumb_width", type=click.IntRange(min=32), default=320, show_default=True,
              help="thumbnail width in pixels")
def preview(dataset: Path, out: Path, max_images: int, columns: int, thumb_width: int):
    """Contact sheet of a render output folder (mask overlays when masks exist)."""
    from synthgen.dataset.preview import contact_sheet

    contact_sheet(dataset, out, max_images=max_images, columns=columns, thumb_width=thumb_width)
    click.echo(f"wrote {out}", err=True)


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["yolo-seg", "coco-polygons", "fiftyone"]), required=True,
              help="yolo-seg (Ultralytics), coco-polygons (COCO with polygon segmentations) or fiftyone "
              "(COCODetectionDataset layout)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="new folder to write")
@click.option("--val-fraction", type=float, default=0.2, show_default=True,
              help="yolo-seg: share of the scenes (every view of each) in images/val")
def export(dataset: Path, fmt: str, out: Path, val_fraction: float):
    """Export a synthgen dataset with polygon labels (the outline of each instance mask)."""
    from synthgen.dataset.export import export_dataset

    c = export_dataset(dataset, out, fmt, val_fraction)
    split = f"; {c['val_images']} of them in images/val" if fmt == "yolo-seg" else ""
    click.echo(f"exported {c['images']} images{split}, {c['instances']} instances ({c['polygons']} polygons) as "
               f"{fmt} -> {out}", err=True)


# What synthgen.cli adds to its group.
COMMANDS = (render, merge, plan, validate, schema, preview, export)
