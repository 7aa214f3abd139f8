"""The defect map library on disk: write/load variants, generate a library, draw a contact sheet.

Layout (docs/defects.md)::

    <root>/<kind>/kind.json                 optional per-kind defaults (types, generator, depth_mm, ...)
    <root>/<kind>/<variant:03d>/height.png  16-bit grey, v/65535 -> height -1..1 (units of depth_mm)
                                normal.png  8-bit RGB, n * 0.5 + 0.5 (OpenGL: +X right, +Y up)
                                roughness.png occlusion.png encrustation.png hole.png  8-bit grey 0..1
                                mask.png    8-bit grey, 255 = defect label
                                meta.json   kind, generator, types, material, depth_mm, resolution, seed, ...

Variants are written to a temporary folder and renamed into place, so a variant folder that
exists is complete; regeneration keeps complete variants made from the same recipe and seed.
A user-made folder with only some maps loads too (see :func:`load_variant` for the rules).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_bytes, stable_hash
from synthgen.rng import stream
from synthgen.textures.generate import (
    FORMAT_VERSION,
    MAP_NAMES,
    DefectMaps,
    generate_variant,
    label_mask,
    normals_from_height,
)
from synthgen.textures.kinds import BUILTIN_DATA, DefectLibraryConfig
from synthgen.textures.recipes import DefectRecipe, map_fields

HEIGHT_PNG_RANGE = (-1.0, 1.0)  # 16-bit height.png: 0 -> -1, 65535 -> +1 (units of depth_mm)
DEFAULT_ROUGHNESS = 0.5  # drop-in deformation without roughness.png
DEFAULT_SIZE_MM = 10.0  # drop-in without any size information (only used to derive normals)
DEFAULT_DEPTH_MM = 0.2
STREAM_NAME = "defect_library"
TYPE_MAPS = {"deformation": ("height", "normal", "roughness", "occlusion"),
             "encrustation": ("encrustation",), "hole": ("hole",)}


# --------------------------------------------------------------------------- PNG I/O


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise SynthgenError("could not encode PNG")
    return buf.tobytes()


def encode_map(name: str, arr: np.ndarray) -> np.ndarray:
    """Float map -> the array stored in ``<name>.png`` (uint16 height, BGR uint8 normal, uint8 others)."""
    if name == "height":
        lo, hi = HEIGHT_PNG_RANGE
        return np.round((np.clip(arr, lo, hi) - lo) / (hi - lo) * 65535.0).astype(np.uint16)
    if name == "normal":
        rgb = np.round((np.clip(arr, -1, 1) * 0.5 + 0.5) * 255.0).astype(np.uint8)
        return rgb[..., ::-1].copy()
    if name == "mask":
        return np.where(arr, 255, 0).astype(np.uint8)
    return np.round(np.clip(arr, 0, 1) * 255.0).astype(np.uint8)


def _read_png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SynthgenError(f"{path}: cannot read image")
    return img


def _unit(img: np.ndarray) -> np.ndarray:
    """Image -> float 0..1 by its bit depth; colour images are converted to grey (alpha dropped)."""
    if img.ndim == 3:
        img = img[..., :3]
        maxv = 65535.0 if img.dtype == np.uint16 else 255.0
        img = cv2.cvtColor((img.astype(np.float32) / maxv), cv2.COLOR_BGR2GRAY)
        return img.astype(np.float32)
    maxv = 65535.0 if img.dtype == np.uint16 else (1.0 if img.dtype.kind == "f" else 255.0)
    return (img.astype(np.float32) / maxv).astype(np.float32)


def decode_map(name: str, img: np.ndarray) -> np.ndarray:
    """Stored PNG array -> float map (inverse of :func:`encode_map`; 8- or 16-bit accepted)."""
    if name == "normal":
        if img.ndim != 3:
            raise SynthgenError("normal.png must be an RGB image")
        maxv = 65535.0 if img.dtype == np.uint16 else 255.0
        n = img[..., 2::-1].astype(np.float32) / maxv * 2.0 - 1.0
        n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
        return n.astype(np.float32)
    u = _unit(img)
    if name == "height":
        lo, hi = HEIGHT_PNG_RANGE
        return (lo + u * (hi - lo)).astype(np.float32)
    if name == "mask":
        return u > 0.5
    return u


# --------------------------------------------------------------------------- write / load


def _meta_for_json(maps: DefectMaps) -> dict[str, Any]:
    meta = dict(maps.meta)
    meta["material"] = maps.material
    meta.setdefault("format", FORMAT_VERSION)
    meta["height_png_range"] = list(HEIGHT_PNG_RANGE)
    return meta


def _write_files(maps: DefectMaps, d: Path) -> None:
    for name in MAP_NAMES:
        (d / f"{name}.png").write_bytes(_png(encode_map(name, getattr(maps, name))))
    (d / "meta.json").write_text(json.dumps(_meta_for_json(maps), indent=1, sort_keys=True))


def write_variant(maps: DefectMaps, variant_dir: str | Path) -> Path:
    """Write all maps and meta.json into ``variant_dir`` atomically (temp folder, then rename).

    An existing folder is replaced. If another process renamed a complete folder into place
    first, that one is kept.
    """
    d = Path(variant_dir)
    d.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.", suffix=".tmp", dir=d.parent))
    try:
        _write_files(maps, tmp)
        if d.exists():
            old = d.with_name(f".{d.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(d, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, d)
        except OSError:
            if not (d / "meta.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return d


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthgenError(f"{path}: cannot read JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SynthgenError(f"{path}: expected a JSON object")
    return data


def _builtin_info(kind: str) -> dict[str, Any]:
    b = BUILTIN_DATA.get(kind)
    if not b:
        return {}
    r = DefectRecipe.model_validate(b)
    m = r.material
    return {"generator": r.generator, "types": list(r.types), "depth_mm": r.depth_mm, "size_mm": list(r.size_mm),
            "material": {"base_color": [0.5 * (a + c) for a, c in zip(m.base_color_min, m.base_color_max)],
                         "roughness": 0.5 * sum(m.roughness), "metallic": 0.5 * sum(m.metallic)}}


def variant_info(variant_dir: str | Path) -> tuple[dict[str, Any], str]:
    """Metadata of a variant folder and where it came from.

    Order: ``meta.json`` in the folder; else ``<kind>/kind.json``; else types inferred from the
    map files present (height/normal/occlusion/roughness -> deformation, encrustation.png ->
    encrustation, hole.png -> hole); else the built-in kind of the same folder name.
    """
    d = Path(variant_dir)
    kind = d.parent.name
    if (d / "meta.json").is_file():
        info, src = _read_json(d / "meta.json"), "meta.json"
    elif (d.parent / "kind.json").is_file():
        info, src = _read_json(d.parent / "kind.json"), "kind.json"
    else:
        present = {n for n in MAP_NAMES if (d / f"{n}.png").is_file()}
        types = [t for t, names in TYPE_MAPS.items() if present & set(names)]
        base = _builtin_info(kind)
        if types:
            info, src = {**{k: v for k, v in base.items() if k != "types"}, "types": types}, "files"
        elif base:
            info, src = base, "builtin"
        else:
            raise SynthgenError(f"{d}: cannot tell the defect types: add meta.json or {d.parent / 'kind.json'} "
                                "with \"types\", or a typed map (height.png, encrustation.png, hole.png)")
    info = dict(info)
    info.setdefault("kind", kind)
    types = info.get("types")
    if not types or not set(types) <= set(TYPE_MAPS):
        raise SynthgenError(f"{d}: 'types' must list some of deformation, encrustation, hole (from {src})")
    return info, src


def load_variant(variant_dir: str | Path) -> DefectMaps:
    """Read a variant folder into :class:`DefectMaps`, deriving missing maps.

    Rules for partial (user-made) folders: ``height`` absent -> 0; ``normal`` absent -> derived
    from height with pixel size ``size/resolution`` (size = meta ``normal_size_mm``, else the
    middle of ``size_mm``, else 10 mm) and ``depth_mm`` (else 0.2 mm); ``occlusion`` absent ->
    the mask, else |height| > 0.02; ``roughness`` absent -> 0.5; ``encrustation``/``hole``
    absent -> the mask; ``mask`` absent -> the union rule. Maps of unused types are zero.
    """
    d = Path(variant_dir)
    info, _ = variant_info(d)
    types = tuple(sorted(info["types"]))
    raw: dict[str, np.ndarray] = {}
    for name in MAP_NAMES:
        p = d / f"{name}.png"
        if p.is_file():
            raw[name] = decode_map(name, _read_png(p))
    if not raw:
        raise SynthgenError(f"{d}: no map files (expected some of {', '.join(n + '.png' for n in MAP_NAMES)})")
    shapes = {k: v.shape[:2] for k, v in raw.items()}
    if len(set(shapes.values())) != 1:
        raise SynthgenError(f"{d}: maps differ in size: " + ", ".join(f"{k} {v[1]}x{v[0]}" for k, v in shapes.items()))
    h, w = next(iter(shapes.values()))
    zero = np.zeros((h, w), np.float32)
    mask_in = raw.get("mask")
    deform = "deformation" in types
    height = raw.get("height", zero) if deform else zero
    size = info.get("normal_size_mm") or (0.5 * sum(info["size_mm"]) if info.get("size_mm") else DEFAULT_SIZE_MM)
    depth = float(info.get("depth_mm", DEFAULT_DEPTH_MM))
    if deform and "normal" in raw:
        normal = raw["normal"]
    else:
        normal = normals_from_height(height, float(size) / w, depth)
    if deform:
        if "occlusion" in raw:
            occlusion = raw["occlusion"]
        elif mask_in is not None:
            occlusion = mask_in.astype(np.float32)
        else:
            occlusion = (np.abs(height) > 0.02).astype(np.float32)
        roughness = raw.get("roughness", np.full((h, w), DEFAULT_ROUGHNESS, np.float32))
    else:
        occlusion, roughness = zero, zero
    fallback = mask_in.astype(np.float32) if mask_in is not None else zero
    enc = raw.get("encrustation", fallback) if "encrustation" in types else zero
    hole = raw.get("hole", fallback) if "hole" in types else zero
    mask = mask_in if mask_in is not None else label_mask(types, occlusion, enc, hole)
    meta = {k: v for k, v in info.items() if k != "material"}
    meta.update(types=list(types), resolution=int(w), depth_mm=depth)
    meta.setdefault("normal_size_mm", float(size))
    return DefectMaps(height=height.astype(np.float32), normal=normal, roughness=roughness.astype(np.float32),
                      occlusion=occlusion.astype(np.float32), encrustation=enc.astype(np.float32),
                      hole=hole.astype(np.float32), mask=mask.astype(bool),
                      material=info.get("material") if "encrustation" in types else None, meta=meta, path=d)


def complete_variant(variant_dir: str | Path) -> list[str]:
    """Write the maps missing from a (user-made) variant folder, derived as in :func:`load_variant`,
    and a meta.json recording them under ``derived``, so every consumer finds all seven maps.
    Returns the names written (empty if the folder was complete)."""
    d = Path(variant_dir)
    missing = [n for n in MAP_NAMES if not (d / f"{n}.png").is_file()]
    if not missing and (d / "meta.json").is_file():
        return []
    maps = load_variant(d)
    try:
        for name in missing:
            atomic_write_bytes(d / f"{name}.png", _png(encode_map(name, getattr(maps, name))))
        if not (d / "meta.json").is_file():
            meta = _meta_for_json(maps)
            meta.update(source="drop-in", derived=missing)
            atomic_write_bytes(d / "meta.json", json.dumps(meta, indent=1, sort_keys=True).encode())
    except OSError as exc:
        raise SynthgenError(f"{d}: cannot add derived maps ({', '.join(missing)}): {exc}") from None
    return missing


def _is_variant(d: Path) -> bool:
    return d.is_dir() and not d.name.startswith(".") and any((d / f"{n}.png").is_file() for n in MAP_NAMES)


def load_library(root: str | Path, complete: bool = True) -> dict[str, list[Path]]:
    """Variant folders per kind under ``root`` (sorted by name; hidden and temp folders skipped).

    With ``complete`` (default), user-made folders missing maps get them derived and written
    (:func:`complete_variant`), so renderers can read all seven maps of every variant.
    """
    r = Path(root)
    if not r.is_dir():
        raise SynthgenError(f"{r}: defect library folder not found")
    out: dict[str, list[Path]] = {}
    for kd in sorted(p for p in r.iterdir() if p.is_dir() and not p.name.startswith(".")):
        variants = sorted(v for v in kd.iterdir() if _is_variant(v))
        if complete:
            for v in variants:
                complete_variant(v)
        if variants:
            out[kd.name] = variants
    return out


# --------------------------------------------------------------------------- generation


def recipe_hash(recipe: DefectRecipe) -> str:
    """Stable hash of a recipe (what a stored variant was generated from)."""
    return stable_hash(map_fields(recipe.model_dump(mode="json")), prefix=f"{FORMAT_VERSION}:")


def variant_dir(root: str | Path, kind: str, index: int) -> Path:
    return Path(root) / kind / f"{index:03d}"


def make_variant(recipe: DefectRecipe, kind: str, index: int, seed: int) -> DefectMaps:
    """Variant ``index`` of ``kind``: drawn from ``stream(seed, "defect_library", kind, index)``."""
    maps = generate_variant(recipe, stream(seed, STREAM_NAME, kind, index), kind=kind)
    maps.meta.update(variant=index, seed=int(seed), stream=[STREAM_NAME, kind, index],
                     recipe_hash=recipe_hash(recipe))
    return maps


def _is_current(d: Path, rhash: str, seed: int) -> bool:
    """Keep a stored variant: generated from this recipe and seed, or not generated by synthgen."""
    meta_p = d / "meta.json"
    if not meta_p.is_file():
        return False
    try:
        meta = json.loads(meta_p.read_text())
    except (OSError, ValueError):
        return False
    if "recipe_hash" not in meta:
        return True  # a user's variant: never overwritten
    return meta.get("recipe_hash") == rhash and meta.get("seed") == seed


@dataclass
class LibraryStats:
    generated: int = 0
    kept: int = 0
    kinds: int = 0
    root: Path | None = None


def generate_library(cfg: DefectLibraryConfig, seed: int, out: str | Path, kinds: list[str] | None = None,
                     variants: int | None = None, progress: bool = True) -> LibraryStats:
    """Generate ``variants`` (default ``cfg.variants_per_kind``) variants of each kind into ``out``.

    Resumable and idempotent: complete variants of the same recipe and seed are kept. Writes
    ``<out>/<kind>/kind.json`` (types, generator, depth_mm, size_mm and the recipe).
    """
    from tqdm import tqdm

    root = Path(out)
    names = list(cfg.kinds) if kinds is None else list(kinds)
    unknown = [k for k in names if k not in cfg.kinds]
    if unknown:
        raise SynthgenError(f"unknown defect kind(s): {', '.join(unknown)} (known: {', '.join(cfg.kinds)})")
    n = int(variants or cfg.variants_per_kind)
    stats = LibraryStats(kinds=len(names), root=root)
    jobs = [(k, i) for k in names for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    for k in names:
        r = cfg.kinds[k]
        (root / k).mkdir(parents=True, exist_ok=True)
        kind_json = {"kind": k, "generator": r.generator, "types": list(r.types), "depth_mm": r.depth_mm,
                     "size_mm": list(r.size_mm), "recipe": map_fields(r.model_dump(mode="json"))}
        atomic_write_bytes(root / k / "kind.json", json.dumps(kind_json, indent=1, sort_keys=True).encode())
    hashes = {k: recipe_hash(cfg.kinds[k]) for k in names}
    for k, i in tqdm(jobs, desc="defect maps", unit="variant", disable=not progress, leave=False):
        d = variant_dir(root, k, i)
        if _is_current(d, hashes[k], seed):
            stats.kept += 1
            continue
        write_variant(make_variant(cfg.kinds[k], k, i, seed), d)
        stats.generated += 1
    return stats
