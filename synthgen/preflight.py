"""Before anything is written: check that every file a render config references is usable.

``validate`` runs these checks (unless ``--fast``), and ``render`` runs them before it creates
its output folder, so a bad CAD file, IES profile or defect library fails with one line per
problem that names the config field, and leaves nothing behind. Pure Python: no bpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthgen.config.job import JobConfig
from synthgen.errors import ConfigError, SynthgenError

# A part outside this size range (largest extent, in metres) is almost certainly declared in the
# wrong units: a 300 m "bracket" is a millimetre file declared in metres.
PLAUSIBLE_SIZE_M = (1e-3, 5.0)


def size_warning(extent_m: float, units: str) -> str | None:
    """A warning when a part's size is implausible for an inspection stage in its declared units."""
    lo, hi = PLAUSIBLE_SIZE_M
    if lo <= extent_m <= hi:
        return None
    side = "large" if extent_m > hi else "small"
    return (f"part is {_metres(extent_m)} across with units '{units}' (implausibly {side}: expected "
            f"{_metres(lo)} to {_metres(hi)}); check units")


def _metres(x: float) -> str:
    if x >= 1.0:
        return f"{x:.3g} m"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} mm"
    return f"{x * 1e6:.3g} µm"


def check_inputs(cfg: JobConfig, source: str | Path) -> list[str]:
    """Open every CAD file, IES profile and the defect library of ``cfg``.

    Raises ConfigError with one ``source: field: problem`` line per unusable file; returns
    warnings (implausible sizes, repairs done on a mesh) as ``source: field: note`` lines.
    """
    from synthgen.geometry.cad import load_part
    from synthgen.plan.lights import ies_peak_candela

    errors: list[str] = []
    warnings: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, part in enumerate(cfg.parts):
        where = f"{source}: parts[{i}].path"
        try:
            pm = load_part(part.path, part.units)
        except SynthgenError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if (part.path, part.units) in seen:
            continue
        seen.add((part.path, part.units))
        notes = list(pm.notes)
        extents = np.sort(np.ptp(pm.mesh.vertices, axis=0))
        belt = max(cfg.stage.belt.size)
        if extents[0] > belt:  # even its thinnest side is longer than the belt: it fits in no pose
            errors.append(f"{where}: {Path(part.path).name}: part is {_metres(float(extents[-1]))} across with units "
                          f"'{part.units}' and fits on the {belt:g} m belt in no pose; check parts[{i}].units")
            continue
        w = size_warning(float(extents[-1]), part.units)
        if w:
            notes.insert(0, w.replace("check units", f"check parts[{i}].units"))
        warnings.extend(f"{where}: {Path(part.path).name}: {n}" for n in notes)
    for i, light in enumerate(cfg.lights):
        if light.ies:
            try:
                ies_peak_candela(light.ies)
            except SynthgenError as exc:
                errors.append(f"{source}: lights[{i}].ies: {exc}")
    errors.extend(_check_library(cfg, source))
    if errors:
        raise ConfigError(errors)
    return warnings


def _check_library(cfg: JobConfig, source) -> list[str]:
    """A configured defect library must hold a variant of every configured kind (read only)."""
    from synthgen.textures.library import load_library

    dc = cfg.defects
    if not dc.kinds or not dc.library:
        return []
    try:
        lib = load_library(dc.library, complete=False)
    except SynthgenError as exc:
        return [f"{source}: defects.library: {exc}"]
    missing = sorted(k for k in dc.kinds if not lib.get(k))
    if missing:
        have = sorted(lib) or "none"
        line = (f"{source}: defects.library: {dc.library} has no variants of kind(s) {missing} (it has {have}); "
                "generate them with 'synthgen defects generate'")
        return [line]
    return []
