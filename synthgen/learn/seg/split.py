"""``synthgen seg split``: a grouped train/val/test split of a folder of images and masks.

Near-duplicates (the same part photographed several times, the images of one item folder) must
never sit on both sides of a split, or test figures measure memory. Images are grouped (by their
folder, by a regular expression on the file name, or not at all), the groups are shuffled with
the seed, and whole groups are dealt to train / val / test so that each split gets its share of
the defective images and of the healthy ones. An image is healthy when it has no mask file or an
empty mask (the folder source's rules, ``synthgen.learn.common.sources``). Byte-identical image
files (a photo copied into two folders) join their groups, and are reported.

The split file has the layout of ``magnetic_tile/split.json`` (``defective.train``,
``healthy.test``, ... lists of ``{"image", "mask"}`` paths relative to the split file), so a
config reads it with ``kind: split`` sources.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.learn.common.config import DataConfig, SourceConfig
from synthgen.learn.common.data import load_image, load_label
from synthgen.learn.common.io import atomic_json
from synthgen.learn.common.sources import read_folder
from synthgen.rng import stream

SPLITS = ("train", "val", "test")


def group_of(rel: str, by: str, pattern: re.Pattern | None) -> str:
    if by == "folder":
        return str(Path(rel).parent)
    if by == "item":
        m = pattern.search(Path(rel).name) if pattern else None
        if m is None:
            raise SynthgenError(f"--item-pattern: '{pattern.pattern if pattern else ''}' does not match {rel}")
        return m.group(1) if m.groups() else m.group(0)
    return rel


def deal(groups: dict[str, int], fractions: tuple[float, float, float], rng: np.random.Generator,
         have: dict[str, int] | None = None) -> dict[str, str]:
    """Group -> split: groups (with their image counts) in random order, each to the split furthest
    below its share; ``have`` holds images already placed."""
    have = dict(have or dict.fromkeys(SPLITS, 0))
    total = sum(groups.values()) + sum(have.values())
    out = {}
    for g in [sorted(groups)[i] for i in rng.permutation(len(groups))]:
        s = max(SPLITS, key=lambda k: fractions[SPLITS.index(k)] * total - have[k])
        out[g] = s
        have[s] += groups[g]
    return out


def make_split(folder: Path, out: Path, mask_suffix: str = ".png", mask_dir: Path | None = None,
               by: str = "folder", item_pattern: str | None = None, val: float = 0.15, test: float = 0.2,
               seed: int = 0, threshold: int = 127, fixed: dict[str, str] | None = None, log=print) -> dict:
    """Write the split json ``out``; returns its counts. ``fixed``: group -> subset, placed as
    given before the other groups are dealt (a held-out line, a customer's parts in test)."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise SynthgenError(f"--val {val} / --test {test}: need 0 <= val, test and val + test < 1")
    pattern = None
    if by == "item":
        if not item_pattern:
            raise SynthgenError("--by item needs --item-pattern, a regular expression whose first group is the "
                                "item id (e.g. 'num_(\\d+)')")
        try:
            pattern = re.compile(item_pattern)
        except re.error as exc:
            raise SynthgenError(f"--item-pattern: not a regular expression: {exc}") from None
    src = SourceConfig(kind="folder", path=str(folder), mask_suffix=mask_suffix, missing_mask="healthy",
                       mask_dir=str(mask_dir) if mask_dir else None, mask_threshold=threshold)
    entries = read_folder(src, "", option="--mask-suffix")
    if not entries:
        raise SynthgenError(f"{folder}: no images found")
    dupes = duplicate_sets([e.image for e in entries])
    data = DataConfig()
    defective = []
    for e in entries:
        img = load_image(e.image, 1)
        defective.append(bool(load_label(e, data.classes, img.shape[:2]).any()))
    rng = stream(seed, "seg", "split")
    fractions = (1 - val - test, val, test)
    split: dict = {"description": f"grouped split of {folder} by {by} (seed {seed}, val {val}, test {test}); "
                                  f"written by synthgen seg split",
                   "defective": {s: [] for s in SPLITS}, "healthy": {s: [] for s in SPLITS}}
    # Whole groups go to one split. Groups holding defective images are dealt first, by their
    # defective images; the healthy-only groups then fill each split's healthy share.
    group = [group_of(e.rel, by, pattern) for e in entries]
    # byte-identical images are one photo: their groups become one, so no copy leaks across subsets
    join = {}
    for d in dupes:
        gs = sorted({group[i] for i in d})
        for g in gs[1:]:
            join[g] = join.get(gs[0], gs[0])
    group = [join.get(g, g) for g in group]
    n_def = Counter(g for g, d in zip(group, defective) if d)
    n_ok = Counter(g for g, d in zip(group, defective) if not d)
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(group))
    if unknown:
        raise SynthgenError(f"--fixed: no group '{unknown[0]}' (groups by {by}: {', '.join(sorted(set(group))[:8])}"
                            f"{', ...' if len(set(group)) > 8 else ''})")
    have = dict.fromkeys(SPLITS, 0)
    for g, sub in fixed.items():
        have[sub] += n_def.get(g, 0)
    assign = {**fixed, **deal({g: n for g, n in n_def.items() if g not in fixed}, fractions, rng, have)}
    placed = dict.fromkeys(SPLITS, 0)
    for g, n in n_ok.items():
        if g in assign:
            placed[assign[g]] += n
    assign |= deal({g: n for g, n in n_ok.items() if g not in assign}, fractions, rng, placed)
    base = out.resolve().parent
    for e, g, d in zip(entries, group, defective):
        rec = {"image": os.path.relpath(e.image.resolve(), base)}
        if e.mask is not None:
            rec["mask"] = os.path.relpath(e.mask.resolve(), base)
        rec["group"] = g
        split["defective" if d else "healthy"][assign[g]].append(rec)
    counts = {k: {s: len(split[k][s]) for s in SPLITS} for k in ("defective", "healthy")}
    atomic_json(out, split)
    log(f"wrote {out}: defective {counts['defective']}, healthy {counts['healthy']} "
        f"({len(assign)} groups by {by})")
    if dupes:
        e0 = [entries[i].rel for i in dupes[0]]
        log(f"warning: {sum(len(d) for d in dupes)} images are byte-identical copies in {len(dupes)} set(s) (e.g. "
            f"{' = '.join(e0[:2])}); each set was kept in one subset")
    return counts


def duplicate_sets(paths: list[Path]) -> list[list[int]]:
    """Indices of byte-identical files, one list per set of two or more."""
    by_hash: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        by_hash.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), []).append(i)
    return [v for v in by_hash.values() if len(v) > 1]

