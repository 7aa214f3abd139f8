"""Command line entry point: ``synthgen render|plan|validate|schema|defects|seg|vqgen|bilevel|realism|fit|hybrid``.

Learning sub-commands are imported lazily so that rendering never imports torch, and the
render commands import bpy only when they actually build a scene.
"""

from __future__ import annotations

import importlib
import sys

import click

from synthgen import __version__
from synthgen.errors import SynthgenError

# name -> "module:attribute" of a click group implemented elsewhere (imported on first use).
LAZY_GROUPS = {
    "defects": ("synthgen.textures.cli:defects", "Procedural defect maps: generate a library of variants."),
    "seg": ("synthgen.learn.seg.cli:seg", "U-Net defect segmentation: train, eval, experiment."),
    "vqgen": ("synthgen.learn.vqgen.cli:vqgen", "VQ-VAE + PixelCNN joint image+mask generation."),
    "bilevel": ("synthgen.learn.bilevel.cli:bilevel", "Bi-level Cut&Paste synthesis (Synth4Seg)."),
    "realism": ("synthgen.realism.cli:realism", "How far a rendered dataset is from real photos (report)."),
    "fit": ("synthgen.realism.cli:fit", "Calibrate a defect kind's ranges against real photos (Optuna)."),
    "hybrid": ("synthgen.realism.cli:hybrid", "Rendered defects carried onto real healthy photos (a dataset)."),
}


class LazyGroup(click.Group):
    """A click group whose listed sub-groups are imported only when invoked."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_GROUPS))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_GROUPS:
            return cmd
        target, help_text = LAZY_GROUPS[name]
        mod_name, attr = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("synthgen"):
                return _unavailable(name, help_text, "not implemented yet in this version")
            root = (exc.name or "").split(".")[0]
            return _unavailable(name, help_text, MISSING_RUNTIME.get(
                root, f"needs the optional dependency '{exc.name}': pip install 'synthgen[learn]'"))
        return getattr(mod, attr)


def _unavailable(name: str, help_text: str, why: str) -> click.Command:
    @click.command(name=name, help=f"{help_text} (unavailable: {why})",
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def _cmd():
        raise SynthgenError(f"synthgen {name}: {why}")

    return _cmd


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="synthgen")
def cli():
    """synthgen: labelled synthetic training data for defect segmentation."""


# Optional runtimes: what to tell a user whose install lacks one (one line, no traceback).
MISSING_RUNTIME = {
    "bpy": "rendering needs Blender's bpy 4.5 on Python 3.11: pip install 'synthgen[render]' (or 'bpy==4.5.*'); "
           "planning, validation and the learning commands work without it",
    "mathutils": "rendering needs Blender's bpy 4.5 on Python 3.11 (mathutils comes with it): pip install 'bpy==4.5.*'",
    "torch": "the learning commands need PyTorch: pip install 'synthgen[learn]'",
    "albumentations": "the learning commands need albumentations: pip install 'synthgen[learn]'",
    "matplotlib": "this command draws figures with matplotlib: pip install 'synthgen[learn]'",
}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: run the CLI, printing user errors as single lines (no traceback)."""
    try:
        cli.main(args=argv, prog_name="synthgen", standalone_mode=False)
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root not in MISSING_RUNTIME:
            raise
        click.echo(f"error: {MISSING_RUNTIME[root]} (module '{exc.name}' is not installed)", err=True)
        sys.exit(3)
    except SynthgenError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.echo(f"error: {line}" if not line.startswith("error") else line, err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # usage errors too: one line, not click's usage block
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = " ".join(exc.format_message().split())
        click.echo(f"error: {where}{message} (see --help)" if isinstance(exc, click.UsageError)
                   else f"error: {where}{message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(0)


def _add_render_commands() -> None:
    from synthgen.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_render_commands()
