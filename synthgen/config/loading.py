"""YAML loading into pydantic models with one-line, path-named error messages.

Every config of synthgen (render, defects, seg, bilevel, vqgen) is loaded through
``load_config`` so that all of them report errors the same way:
``config.yaml: cameras.ark.count: Input should be greater than or equal to 1``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, ValidationInfo

from synthgen.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def format_loc(loc: tuple[Any, ...]) -> str:
    """Pydantic error location -> YAML path (``lights[2].power``)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def validation_lines(source: str, err: ValidationError) -> list[str]:
    """One ``source: path: message`` line per pydantic error."""
    lines = []
    for e in err.errors():
        # Drop union/tag branch names pydantic inserts ("function-after[...]", literal tags).
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p and "]" in p)))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not a field of this section; check spelling)"
        msg = msg.removeprefix("Value error, ")
        given = e.get("input")
        if e["type"] not in ("extra_forbidden", "missing", "value_error") and isinstance(given, (str, int, float)):
            msg += f" (got {given!r})"
        where = format_loc(loc)
        # Cross-field checks name their own field: "defects.kinds: ..." -> location + message.
        m = re.match(r"^([A-Za-z_][\w.\[\]]*): (.*)$", msg, re.DOTALL)
        if m and e["type"] == "value_error":
            where = m.group(1) if where == "<root>" else f"{where}.{m.group(1)}"
            msg = m.group(2)
        lines.append(f"{source}: {where}: {msg}")
    return lines


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning I/O and syntax problems into ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([f"{p}: file not found"])
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{p}: {where}YAML syntax error: {problem}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{p}: <root>: expected a mapping of keys, got {type(data).__name__}"])
    return data


def load_config(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Load and validate a YAML file as ``model``.

    ``context`` is passed to pydantic validators (render config uses ``config_dir`` to resolve
    relative asset paths against the config file's folder).
    """
    p = Path(path)
    data = read_yaml(p)
    ctx = {"config_dir": p.resolve().parent}
    if context:
        ctx.update(context)
    try:
        return model.model_validate(data, context=ctx)
    except ValidationError as err:
        raise ConfigError(validation_lines(str(p), err)) from None


def resolve_path(v: str | None, info: ValidationInfo, must_exist: bool = False) -> str | None:
    """A config path resolved against the config file's folder (``config_dir`` of the validation
    context), optionally checked to exist. Every config model resolves its paths through this."""
    if v is None:
        return None
    p = Path(v).expanduser()
    base = (info.context or {}).get("config_dir")
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    if must_exist and not p.exists():
        raise ValueError(f"file not found: {v} (looked for {p})")
    return str(p.resolve())


def relative(path: str | None, base: Path | None) -> str | None:
    """``path`` relative to ``base`` (POSIX separators); unchanged when either is missing
    (the inverse of ``resolve_path``: what makes configs and plans portable)."""
    if not path or base is None:
        return path
    return Path(os.path.relpath(path, base)).as_posix()
