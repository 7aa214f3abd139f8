"""``synthgen vqgen``: train, sample, schema (VQ-VAE + PixelCNN joint image+mask generation)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from synthgen.config.loading import load_config

_device = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
                       help="override train.device (train) / device to sample on (default auto)")
_quiet = click.option("--quiet", is_flag=True, help="no progress bars")


@click.group(name="vqgen")
def vqgen():
    """VQ-VAE + PixelCNN joint image+mask generation (docs/vqgen.md)."""


@vqgen.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="override `out`")
@click.option("--vqvae-steps", type=click.IntRange(min=1), default=None, help="override train.vqvae_steps")
@click.option("--prior-steps", type=click.IntRange(min=1), default=None, help="override train.prior_steps")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="override train.seed")
@_device
@_quiet
def train(config, out, vqvae_steps, prior_steps, seed, device, quiet):
    """Train the VQ-VAE and the PixelCNN prior of CONFIG; writes <out>/checkpoints/vqgen.pt and curves."""
    from synthgen.learn.vqgen.config import VQGenConfig
    from synthgen.learn.vqgen.train import train as run

    cfg = load_config(config, VQGenConfig)
    update = {k: v for k, v in (("vqvae_steps", vqvae_steps), ("prior_steps", prior_steps), ("seed", seed))
              if v is not None}
    if update:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update=update)})
    run(cfg, out, device=device, progress=not quiet, log=click.echo)


@vqgen.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--num", type=click.IntRange(min=1), required=True, help="number of pairs to write")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="output folder (images/, masks/, samples.json, grid.png)")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="sampling seed")
@click.option("--class", "class_name", default=None, help="draw only this class (conditional models); "
                                                          "default: classes in training proportions")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="override sample.threshold (mask probability)")
@click.option("--degenerate", "on_degenerate", type=click.Choice(["drop", "keep"]), default=None,
              help="override sample.on_degenerate")
@click.option("--temperature", type=click.FloatRange(0, 5, min_open=True), default=None,
              help="override sample.temperature")
@click.option("--min-mask-pixels", type=click.IntRange(min=0), default=None,
              help="override sample.min_mask_pixels (smaller defect masks are degenerate)")
@click.option("--prefix", default=None, help="file-name prefix (default vqgen_s<seed>_)")
@_device
@_quiet
def sample(checkpoint, num, out, seed, class_name, threshold, on_degenerate, temperature, min_mask_pixels, prefix,
           device, quiet):
    """Draw NUM image+mask pairs from CHECKPOINT into OUT (generic image+mask format)."""
    from synthgen.learn.vqgen.sample import sample as run

    run(checkpoint, num, out, seed=seed, class_name=class_name, device=device, threshold=threshold,
        on_degenerate=on_degenerate, temperature=temperature, prefix=prefix,
        min_mask_pixels=min_mask_pixels, progress=not quiet, log=click.echo)


@vqgen.command()
def schema():
    """Print the JSON schema of the vqgen config."""
    from synthgen.learn.vqgen.config import vqgen_schema

    click.echo(json.dumps(vqgen_schema(), indent=1))
