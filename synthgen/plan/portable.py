"""Plans on disk are portable: no machine's absolute paths.

A plan in memory holds absolute paths (Blender needs them). Written to a dataset or printed by
``synthgen plan``, its asset paths become relative:
- ``parts[].path``, ``parts[].material.photo.path`` and ``lights[].ies``: to the folder of the config file;
- ``defects[].variant_dir``: to the defect library's root (``<kind>/<index>``), so a plan does not
  name a shard's private cache, and a re-render finds the variant in its own library.

``localize`` turns them back against another checkout's config folder and library. Files are
also identified by content (``parts[].sha256``), and a re-render checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthgen.config.loading import relative


def _abs(path: str | None, base: Path | None) -> str | None:
    if not path or base is None or Path(path).is_absolute():
        return path
    return str((base / path).resolve())


def _photo(material: dict | None, fn, config_dir: Path | None) -> dict | None:
    """A material with its photo texture's path mapped (materials without one unchanged)."""
    if not material or not material.get("photo"):
        return material
    return {**material, "photo": {**material["photo"], "path": fn(material["photo"]["path"], config_dir)}}


def _map(d: dict[str, Any], fn, config_dir: Path | None, library_root: Path | None) -> dict[str, Any]:
    out = dict(d)
    out["parts"] = [{**p, "path": fn(p["path"], config_dir),
                     **({"material": _photo(p["material"], fn, config_dir)} if "material" in p else {})}
                    for p in d.get("parts", [])]
    out["lights"] = [{**lt, "ies": fn(lt.get("ies"), config_dir)} for lt in d.get("lights", [])]
    out["defects"] = [{**df, "variant_dir": fn(df.get("variant_dir"), library_root)} for df in d.get("defects", [])]
    return out


def portable(plan_dict: dict[str, Any], config_dir: str | Path | None,
             library_root: str | Path | None) -> dict[str, Any]:
    """``plan_dict`` with its asset paths relative to ``config_dir`` and ``library_root``; a base
    that is None leaves its paths as they are."""
    return _map(plan_dict, relative, _path(config_dir), _path(library_root))


def localize(plan_dict: dict[str, Any], config_dir: str | Path | None,
             library_root: str | Path | None) -> dict[str, Any]:
    """The inverse of :func:`portable`: relative asset paths joined to these bases."""
    return _map(plan_dict, _abs, _path(config_dir), _path(library_root))


def _path(p) -> Path | None:
    return None if p is None else Path(p).resolve()
