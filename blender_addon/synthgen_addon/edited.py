"""The panel's config: the YAML at its path with the panel's field edits applied and validated
(what Build scene and Save config use)."""

from __future__ import annotations

import bpy


def edits(settings, changed_only: bool = True) -> dict[str, tuple]:
    """The panel's field values by config path (only those changed from the YAML, by default)."""
    out = {}
    for it in settings.fields:
        v = tuple(it.ivalue[: it.n]) if it.is_int else tuple(round(x, 9) for x in it.fvalue[: it.n])
        o = tuple(int(x) for x in it.original[: it.n]) if it.is_int else tuple(round(x, 9) for x in it.original[: it.n])
        if not changed_only or v != o:
            out[it.path] = v
    return out


def edited_config(settings):
    from synthgen.config.edit import apply_edits
    from synthgen.config.job import load_job_config

    cfg = load_job_config(bpy.path.abspath(settings.config_path))
    return apply_edits(cfg, edits(settings)) if len(settings.fields) else cfg
