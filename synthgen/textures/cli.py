"""``synthgen defects generate CONFIG --out DIR``: pre-generate a defect map library."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from synthgen.config.loading import read_yaml, validation_lines
from synthgen.errors import ConfigError, SynthgenError
from synthgen.textures.kinds import DefectLibraryConfig


def load_defects_section(path: str | Path) -> tuple[DefectLibraryConfig, int]:
    """The ``defects:`` section (validated) and top-level ``seed`` (default 0) of any YAML config.

    Other top-level keys are ignored, so a render config works as well as configs/defects.yaml.
    """
    p = Path(path)
    data = read_yaml(p)
    section: Any = data.get("defects", {})
    if section is None:
        section = {}
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError([f"{p}: seed: Input should be a valid integer"])
    if not isinstance(section, dict):
        raise ConfigError([f"{p}: defects: expected a mapping of keys, got {type(section).__name__}"])
    try:
        cfg = DefectLibraryConfig.model_validate(section, context={"config_dir": p.resolve().parent})
    except ValidationError as err:
        lines = validation_lines(str(p), err)
        prefix = f"{p}: "
        lines = [prefix + "defects." + ln[len(prefix):] if ln.startswith(prefix) else ln for ln in lines]
        raise ConfigError(lines) from None
    return cfg, int(seed)


@click.group()
def defects():
    """Procedural defect maps: generate a library of variants."""


@defects.command("generate")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="library folder to write (<out>/<kind>/<variant>/*.png + contact_sheet.png)")
@click.option("--variants", type=click.IntRange(min=1), default=None,
              help="variants per kind (default: defects.variants_per_kind of the config)")
@click.option("--seed", type=int, default=None, help="seed (default: top-level seed of the config, else 0)")
@click.option("--kinds", default=None, help="comma-separated subset of kinds (default: all kinds of the config)")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def generate(config: Path, out: Path, variants: int | None, seed: int | None, kinds: str | None,
             no_progress: bool) -> None:
    """Generate the defect map library of CONFIG's ``defects:`` section into OUT (resumable)."""
    from synthgen.textures.library import generate_library
    from synthgen.textures.sheet import contact_sheet

    cfg, cfg_seed = load_defects_section(config)
    seed = cfg_seed if seed is None else seed
    names = list(cfg.kinds)
    if kinds is not None:
        names = [k.strip() for k in kinds.split(",") if k.strip()]
        bad = [k for k in names if k not in cfg.kinds]
        if bad or not names:
            raise SynthgenError(f"--kinds: unknown defect kind '{','.join(bad) or kinds}' "
                                f"(known: {', '.join(cfg.kinds)})")
    if not names:
        raise SynthgenError(f"{config}: defects.kinds is empty: nothing to generate")
    t0 = time.perf_counter()
    stats = generate_library(cfg, seed, out, kinds=names, variants=variants, progress=not no_progress)
    sheet = contact_sheet(out, out / "contact_sheet.png", kinds=names,
                          max_variants=variants or cfg.variants_per_kind)
    click.echo(f"defects: {stats.generated} variants generated, {stats.kept} kept, {len(names)} kinds, "
               f"seed {seed}, {time.perf_counter() - t0:.1f} s -> {out} (sheet {sheet.name})")
