"""``synthgen seg``: train, eval, experiment, schema (U-Net defect segmentation)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from synthgen.config.loading import load_config

# top-level keys of the other configs, and the command that reads them
OTHER = {"synthesis": "bilevel train", "learn": "bilevel train", "vqvae": "vqgen train", "parts": "render"}


def _seg_config(config: Path, model):
    """A seg config; another command's config gets one line naming that command (a bi-level run's
    model.pt is evaluated with a seg config that lists the test sets: --checkpoint)."""
    from synthgen.config.loading import read_yaml
    from synthgen.errors import ConfigError

    data = read_yaml(config)
    hit = next((k for k in OTHER if isinstance(data, dict) and k in data), None)
    if hit:
        tip = (" (to evaluate a bi-level run: a seg config with its sources and test sets, and --checkpoint "
               "<out>/runs/<run>_s<seed>/model.pt)" if OTHER[hit] == "bilevel train" else "")
        raise ConfigError([f"{config}: not a seg config (it has '{hit}'): it is read by 'synthgen {OTHER[hit]}'{tip}"])
    return load_config(config, model)


_device = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
                       help="override train.device")
_quiet = click.option("--quiet", is_flag=True, help="no progress bars")


@click.group(name="seg")
def seg():
    """U-Net defect segmentation: train, eval, experiment (docs/seg.md)."""


@seg.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="override `out`")
@click.option("--resume", is_flag=True, help="continue from <out>/checkpoints/last.pt")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="override train.epochs")
@click.option("--stop-after", type=click.IntRange(min=1), default=None,
              help="stop after this many epochs in total (resume later with --resume)")
@click.option("--mix", "mix", multiple=True, metavar="SOURCE[:RATIO]",
              help="override train.mix (repeatable), e.g. --mix real_limited:3 --mix healthy_train:1")
@_device
@_quiet
def train(config, out, resume, epochs, stop_after, mix, device, quiet):
    """Train a U-Net on the mix of CONFIG; writes checkpoints, history.json, learning_curve.png."""
    from synthgen.learn.seg.config import SegConfig
    from synthgen.learn.seg.train import train as run

    cfg = _seg_config(config, SegConfig)
    update = {}
    if epochs:
        update["epochs"] = epochs
    if mix:
        update["mix"] = _parse_mix(mix, cfg)
    if update:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update=update)})
    run(cfg, out, resume=resume, device=device, stop_after=stop_after, progress=not quiet, log=click.echo)
    click.echo(f"wrote {out or cfg.out}")


def _parse_mix(items: tuple[str, ...], cfg) -> list:
    from synthgen.errors import SynthgenError
    from synthgen.learn.common.config import MixItem

    out = []
    for it in items:
        name, _, ratio = it.partition(":")
        if name not in cfg.sources:
            raise SynthgenError(f"--mix {it}: unknown source '{name}' (defined: {', '.join(cfg.sources)})")
        try:
            r = float(ratio) if ratio else 1.0
            if not r > 0:
                raise ValueError
        except ValueError:
            raise SynthgenError(f"--mix {it}: ratio must be a number > 0") from None
        out.append(MixItem(source=name, ratio=r))
    return out


@seg.command(name="eval")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="default: <out>/checkpoints/best.pt")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="metrics folder (default: <out>/eval)")
@click.option("--set", "sets", multiple=True, help="evaluate only these test sets (repeatable)")
@click.option("--resolution", type=click.Choice(["original", "network"]), default=None,
              help="override eval.resolution")
@_device
@_quiet
def eval_(config, checkpoint, out, sets, resolution, device, quiet):
    """Evaluate a checkpoint on the test sets of CONFIG: metrics.json, metrics.md, pr_curve.png."""
    from synthgen.learn.seg.config import SegConfig
    from synthgen.learn.seg.evaluate import evaluate

    cfg = _seg_config(config, SegConfig)
    evaluate(cfg, checkpoint, out, device=device, sets=list(sets) or None, resolution=resolution,
             progress=not quiet, log=click.echo)
    click.echo(f"wrote {out or Path(cfg.out) / 'eval'}")


@seg.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="override `out`")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="override train.epochs")
@click.option("--only", "only", multiple=True, metavar="MIX",
              help="train and tabulate only these mixes (repeatable), added to the table already written; "
                   "finished seeds are reused")
@click.option("--seed", "only_seeds", multiple=True, type=int, metavar="S",
              help="train and tabulate only these of the config's seeds (repeatable), in the same folders: "
                   "separate processes or machines can share the seeds, and a last run without --seed "
                   "tabulates them all")
@_device
@_quiet
def experiment(config, out, epochs, only, only_seeds, device, quiet):
    """Train every mix of CONFIG and evaluate each on every test set: results.md / results.json."""
    from synthgen.errors import SynthgenError
    from synthgen.learn.seg.config import ExperimentConfig
    from synthgen.learn.seg.experiment import experiment as run

    cfg = _seg_config(config, ExperimentConfig)
    if epochs:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": epochs})})
    if only:
        bad = [m for m in only if m not in cfg.mixes]
        if bad:
            raise SynthgenError(f"{config}: --only {bad[0]}: no such mix (defined: {', '.join(cfg.mixes)})")
        cfg = cfg.model_copy(update={"mixes": {m: cfg.mixes[m] for m in cfg.mixes if m in only}})
    seeds = cfg.seeds or [cfg.train.seed]
    bad = [s for s in only_seeds if s not in seeds]
    if bad:
        raise SynthgenError(f"{config}: --seed {bad[0]}: not one of the config's seeds ({', '.join(map(str, seeds))})")
    run(cfg, out, device=device, progress=not quiet, log=click.echo, only_seeds=list(only_seeds) or None,
        partial=bool(only))
    click.echo(f"wrote {Path(out or cfg.out) / 'results.md'}")


@seg.command()
def schema():
    """Print the JSON schema of the seg and experiment configs."""
    from synthgen.learn.seg.config import seg_schema

    click.echo(json.dumps(seg_schema(), indent=1))


@seg.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder for overlays/, masks/ and scores.csv")
@click.option("--threshold", type=float, default=None,
              help="image score at and above which an image is NG (default: the checkpoint's saved operating point)")
@click.option("--rule", default=None, help="image score rule with --threshold: head, top_k, smooth_max, largest_area "
                                           "or max (default: the saved rule, else max)")
@click.option("--mask-suffix", default=None, help="leave out files named <photo stem><suffix> beside a photo (its "
                                                 "mask, e.g. _label.bmp)")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@_device
def predict(checkpoint, inputs, out, threshold, rule, mask_suffix, batch_size, device):
    """OK/NG per image (files or folders) at the checkpoint's operating point: scores.csv, an overlay
    of each NG image, and the predicted masks."""
    from synthgen.learn.seg.predict import predict as run

    run(checkpoint, list(inputs), out, threshold, device or "auto", batch_size, rule, mask_suffix, log=click.echo)


@seg.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="split json to write")
@click.option("--mask-suffix", default=".png", show_default=True,
              help="mask file = <image stem><suffix>, e.g. _label.bmp; without an extension any image extension")
@click.option("--mask-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder of the masks (same subfolders as the images; default: next to the images)")
@click.option("--by", type=click.Choice(["folder", "item", "file"]), default="folder", show_default=True,
              help="group images by their folder, by --item-pattern, or not at all")
@click.option("--item-pattern", default=None, help="--by item: regular expression on the file name whose first "
                                                   "group is the item id, e.g. 'num_(\\d+)'")
@click.option("--val", type=float, default=0.15, show_default=True, help="share of images in val")
@click.option("--test", type=float, default=0.2, show_default=True, help="share of images in test")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--threshold", type=click.IntRange(0, 254), default=127, show_default=True,
              help="mask grey value above which a pixel is defect (0/1 masks are read as 0/1)")
@click.option("--fixed", multiple=True, metavar="SUBSET:GROUP",
              help="put a group in a subset (train, val or test) before the rest are dealt, e.g. test:kos03 "
                   "(repeatable)")
def split(folder, out, mask_suffix, mask_dir, by, item_pattern, val, test, seed, threshold, fixed):
    """Grouped train/val/test split of FOLDER (defective and healthy lists), for `kind: split` sources."""
    from synthgen.errors import SynthgenError
    from synthgen.learn.seg.split import SPLITS, make_split

    pinned = {}
    for f in fixed:
        sub, _, grp = f.partition(":")
        if sub not in SPLITS or not grp:
            raise SynthgenError(f"--fixed {f}: expected SUBSET:GROUP with SUBSET one of {', '.join(SPLITS)}")
        pinned[grp] = sub
    make_split(folder, out, mask_suffix, mask_dir, by, item_pattern, val, test, seed, threshold, pinned,
               log=click.echo)
