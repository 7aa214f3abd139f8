"""Editing a render config field by field (the add-on's tweak panel), pure: no bpy.

``editable_fields`` walks the pydantic models of a loaded config and lists every numeric field
(a number, or a range / vector of 2-3 numbers) of the chosen sections, with its path, value and
schema description, so a UI is generated from the schema rather than hand-listed.
``apply_edits`` returns the config with edited values, validated. ``save_config`` writes them back
into the YAML with a round-trip parser that keeps the file's comments and layout, then reloads
the result to check it validates and holds the edited values.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthgen.config.job import JobConfig, load_job_config
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text

SECTIONS = ("cameras", "lights", "materials", "defects")  # what the add-on's panel edits
ALL_SECTIONS = ("render", "cameras", "lights", "materials", "defects", "stage")  # what save_config may write


@dataclass(frozen=True)
class EditableField:
    path: str  # "lights[0].power", "defects.kinds.dent.size_mm"
    value: tuple[float, ...]  # 1 to 3 numbers
    is_int: bool
    description: str


def _numbers(v) -> tuple[float, ...] | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return (v,)
    if isinstance(v, (tuple, list)) and 2 <= len(v) <= 3 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return tuple(v)
    return None


def _walk(model: BaseModel, prefix: str, out: list[EditableField]) -> None:
    for name, info in type(model).model_fields.items():
        v = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(v, BaseModel):
            _walk(v, path, out)
        elif isinstance(v, list) and v and all(isinstance(x, BaseModel) for x in v):
            for i, x in enumerate(v):
                _walk(x, f"{path}[{i}]", out)
        elif isinstance(v, dict) and v and all(isinstance(x, BaseModel) for x in v.values()):
            for k, x in v.items():
                _walk(x, f"{path}.{k}", out)
        elif (nums := _numbers(v)) is not None:
            out.append(EditableField(path, nums, all(isinstance(x, int) for x in nums), info.description or ""))


def editable_fields(cfg: JobConfig, sections: tuple[str, ...] = SECTIONS) -> list[EditableField]:
    """Every numeric field of ``sections`` of ``cfg`` (defaults included), in schema order."""
    out: list[EditableField] = []
    for name in sections:
        v = getattr(cfg, name)
        if isinstance(v, BaseModel):
            _walk(v, name, out)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                _walk(x, f"{name}[{i}]", out)
    return out


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(i) if i else k for k, i in _STEP.findall(path)]


def _set(data, path: str, value) -> None:
    steps = _steps(path)
    node = data
    for s in steps[:-1]:
        node = node[s]
    node[steps[-1]] = value


def _value(v: tuple) -> Any:
    return v[0] if len(v) == 1 else list(v)


def apply_edits(cfg: JobConfig, edits: dict[str, tuple]) -> JobConfig:
    """``cfg`` with ``edits`` (path -> numbers) applied and validated (ConfigError if invalid)."""
    from pydantic import ValidationError

    from synthgen.config.loading import validation_lines
    from synthgen.errors import ConfigError

    data = cfg.model_dump()
    for path, v in edits.items():
        _set(data, path, _value(v))
    try:
        new = JobConfig.model_validate(data, context={"config_dir": cfg.config_dir})
    except ValidationError as err:
        raise ConfigError(validation_lines("edited config", err)) from None
    new._source = cfg.source
    return new


def _rebase(doc, src_dir: Path, dst_dir: Path) -> None:
    """Relative file paths of a config saved into another folder, rewritten to point at the same
    files from there (out, parts[].path, lights[].ies, materials[].photo_texture.images,
    defects.library)."""
    from synthgen.config.loading import relative

    if src_dir == dst_dir:
        return

    def fix(node, key):
        v = node.get(key) if hasattr(node, "get") else None
        if isinstance(v, str) and v and not Path(v).expanduser().is_absolute():
            node[key] = relative(str((src_dir / v).resolve()), dst_dir)

    fix(doc, "out")
    for part in doc.get("parts") or []:
        fix(part, "path")
    for light in doc.get("lights") or []:
        fix(light, "ies")
    for mat in doc.get("materials") or []:
        fix(mat.get("photo_texture") or {}, "images")
    fix(doc.get("defects") or {}, "library")


def _flow(v):
    """A list as a one-line YAML sequence ([a, b]), as synthgen's configs write ranges."""
    if not isinstance(v, list):
        return v
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(v)
    seq.fa.set_flow_style()
    return seq


def save_config(source: str | Path, target: str | Path, edits: dict[str, tuple]) -> JobConfig:
    """Write ``source``'s YAML with ``edits`` to ``target``, keeping comments; a field the file
    leaves at its default is written out (a defaulted list section as a whole). Returns the
    reloaded config, checked to hold the edited values."""
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's lines
    yaml.indent(mapping=2, sequence=4, offset=2)  # "  - item" lists, as synthgen's configs write them
    text = Path(source).read_text(encoding="utf-8")
    doc = yaml.load(text) or {}
    base = load_job_config(source).model_dump(mode="json")
    for path, v in edits.items():
        steps = _steps(path)
        node, full = doc, base
        for s in steps[:-1]:
            full = full[s]
            if isinstance(s, int) or s in node:
                node = node[s]
            else:  # absent from the file: write the section as the config has it (defaults)
                node[s] = full if isinstance(full, list) else {}
                node = node[s]
        node[steps[-1]] = _flow(_value(v))
    target = Path(target)
    _rebase(doc, Path(source).resolve().parent, target.resolve().parent)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    probe = target.with_name(f".check_{target.name}")
    atomic_write_text(probe, buf.getvalue())
    try:
        cfg = load_job_config(probe)
    finally:
        probe.unlink(missing_ok=True)
    got = {f.path: f.value for f in editable_fields(cfg, ALL_SECTIONS)}
    wrong = [p for p, v in edits.items() if tuple(got.get(p, ())) != tuple(v)]
    if wrong:
        raise SynthgenError(f"{target}: saved config does not hold the edited values of {wrong}")
    atomic_write_text(target, buf.getvalue())
    cfg._source = target
    return cfg
