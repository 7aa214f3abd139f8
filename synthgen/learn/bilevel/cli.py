"""``synthgen bilevel``: train (all baselines of a config), patch (learned weights -> render config), schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from synthgen.config.loading import load_config
from synthgen.learn.bilevel.config import RUNS


@click.group(name="bilevel")
def bilevel():
    """Bi-level Cut&Paste synthesis (Synth4Seg): learned paste locations and source weights (docs/bilevel.md)."""


@bilevel.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="override `out`")
@click.option("--run", "runs", multiple=True,
              type=click.Choice(RUNS),
              help="train only these baselines (repeatable; default: `runs` of the config)")
@click.option("--seeds", default=None, metavar="S[,S...]", help="override `seeds`, e.g. 0,1,2")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="override train.steps")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, help="override train.device")
@click.option("--quiet", is_flag=True, help="no progress bars")
def train(config, out, runs, seeds, steps, device, quiet):
    """Train the U-Net with online Cut&Paste for every baseline of CONFIG; writes results.md/json,
    heatmaps.png and weights.png. Finished runs are reused: re-run the command to resume."""
    from synthgen.errors import SynthgenError
    from synthgen.learn.bilevel.config import BilevelConfig
    from synthgen.learn.bilevel.train import train_all

    cfg = load_config(config, BilevelConfig)
    update: dict = {}
    if runs:
        update["runs"] = list(dict.fromkeys(runs))
    if seeds:
        try:
            update["seeds"] = sorted({int(s) for s in seeds.split(",")})
        except ValueError:
            raise SynthgenError(f"--seeds {seeds}: expected integers separated by commas") from None
    if steps:
        update["train"] = cfg.train.model_copy(update={"steps": steps})
    if update:
        cfg = cfg.model_copy(update=update)
    train_all(cfg, out, device=device, progress=not quiet, log=click.echo)


@bilevel.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--config", "render_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the render config to patch (with --apply)")
@click.option("--apply", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write RENDER config with the learned kind weights to this new file (comments kept)")
def patch(out, render_config, target):
    """Learned kind weights of the bi-level run in OUT -> OUT/render_patch.yaml (defects.kinds.<K>.weight),
    and with --config C --apply NEW a new render config holding them. Then: synthgen render NEW."""
    from synthgen.errors import SynthgenError
    from synthgen.learn.bilevel.patch import apply_patch, write_patch

    if (render_config is None) != (target is None):
        raise SynthgenError("--config and --apply go together: the render config and the new file to write")
    path, weights = write_patch(out)
    click.echo(f"wrote {path}: " + ", ".join(f"{k} x{w:g}" for k, w in weights.items()))
    if target is not None:
        apply_patch(path, render_config, target)
        click.echo(f"wrote {target} ({render_config} with the learned weights); next: synthgen render {target}")


@bilevel.command()
def schema():
    """Print the JSON schema of the bilevel config."""
    from synthgen.learn.bilevel.config import bilevel_schema

    click.echo(json.dumps(bilevel_schema(), indent=1))
