"""Render-side CLI commands: render, plan, validate, schema."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from synthgen.cli import cli
from synthgen.errors import SynthgenError

DEVICE_CHOICES = click.Choice(["CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL"], case_sensitive=False)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="output folder (overrides config 'out')")
@click.option("--num-scenes", type=click.IntRange(min=1), help="number of scenes (overrides config)")
@click.option("--seed", type=click.IntRange(min=0), help="master seed (overrides config)")
@click.option("--device", type=DEVICE_CHOICES, help="Cycles device (overrides render.device)")
@click.option("--shard", help="render only scenes with index %% N == K, as K/N (default: from Slurm array or "
              "Kubernetes Indexed Job env, else 0/1)")
@click.option("--verbose", "-v", is_flag=True, help="debug logging and Blender's own output")
def render(config: Path, out, num_scenes, seed, device, shard, verbose):
    """Plan, verify and render CONFIG's scenes into a labelled dataset (resumable)."""
    from synthgen.config import load_job_config
    from synthgen.dataset.writer import parse_shard
    from synthgen.pipeline import run_render, summary_line

    _setup_logging(verbose)
    cfg = load_job_config(config, {"seed": seed, "num_scenes": num_scenes,
                                   "render.device": device.upper() if device else None})
    k, n = parse_shard(shard)
    if out is None and n > 1:
        out = Path(cfg.out) / "shards" / f"{k:03d}-of-{n:03d}"
    stats = run_render(cfg, out=out, shard=(k, n), quiet=not verbose)
    click.echo(summary_line(stats, out or cfg.out), err=True)


@cli.command()
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


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scene", "scene_index", type=click.IntRange(min=0), default=0, show_default=True,
              help="scene index to plan")
@click.option("--seed", type=click.IntRange(min=0), help="master seed (overrides config)")
@click.option("--no-cache", is_flag=True, help="do not read or write the stable-pose cache")
def plan(config: Path, scene_index: int, seed, no_cache):
    """Print the plan of one scene as JSON (pure Python: no Blender needed)."""
    from synthgen.config import load_job_config
    from synthgen.pipeline import resolve_library
    from synthgen.plan import PlacementError, cache_dir_for, make_plan

    cfg = load_job_config(config, {"seed": seed})
    cache = None if no_cache else cache_dir_for(cfg)
    library = resolve_library(cfg, cfg.seed, cache) if cache is not None else None
    try:
        p = make_plan(cfg, scene_index, cache_dir=cache, library=library)
    except PlacementError as exc:
        raise SynthgenError(f"{config}: scene {scene_index}: {exc}") from None
    click.echo(p.to_json(), nl=False)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def validate(config: Path):
    """Check a render config; print one line per problem (exit 2) or a short summary."""
    from synthgen.config import load_job_config

    cfg = load_job_config(config)
    click.echo(f"{config}: ok ({len(cfg.parts)} parts, {cfg.cameras.ark.count} cameras, "
               f"{len(cfg.lights)} lights, {cfg.num_scenes} scenes, device {cfg.render.device})")


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to this file instead of stdout")
def schema(out):
    """Write the JSON Schema of the render config (for editor autocompletion)."""
    from synthgen.config import job_schema
    from synthgen.io import atomic_write_text

    text = json.dumps(job_schema(), indent=1) + "\n"
    if out:
        atomic_write_text(out, text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
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
