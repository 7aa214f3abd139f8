"""The labelled dataset on disk: atomic, resumable, shardable, mergeable.

Layout of a dataset folder::

    job.json                     config hash, seed, shard: guards against mixing two jobs
    images/<scene>_<cam>.png     final renders (accepted cameras only; .jpg with render.image_format: jpeg)
    masks/instance/<same>.png    uint16: 0 background, k = k-th visible defect of the image
    masks/semantic/<same>.png    uint8: 0 background, c = category id of the defect kind
    pairs/<same>_<k>_on.png ...  with verification.save_pairs: each kept defect's contrast renders
                                 (on, off) and label, cut to its box (synthgen hybrid)
    plans/<scene>.json           the scene plan + status + accepted cameras + the scene's COCO
                                 records; written LAST, so its presence means "scene done"
    annotations/coco.json        assembled from plans/ (sorted by scene): identical for resumed,
                                 sharded+merged and single runs
    manifest.json                versions, counts, time split

Every file is written to a temp name in its folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from synthgen import __version__
from synthgen.dataset.reader import (
    COCO,
    IMAGE_EXTS,
    IMAGES,
    INSTANCE_MASKS,
    JOB_FILE,
    MANIFEST,
    PAIRS,
    PLANS,
    SCENE_COUNTS,
    SEMANTIC_MASKS,
    stem,
)
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_json, atomic_write_png


def parse_shard(spec: str | None, env: dict[str, str] | None = None) -> tuple[int, int]:
    """Shard (K, N) from ``--shard K/N``, else from a Slurm array or a Kubernetes Indexed Job.

    Slurm: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN when the
    array does not start at 0). Kubernetes: JOB_COMPLETION_INDEX with the count from
    SYNTHGEN_SHARD_COUNT (set it to the Job's ``completions``). No flag and no env: (0, 1).
    """
    env = dict(os.environ if env is None else env)
    if spec:
        try:
            k, n = (int(x) for x in spec.split("/"))
        except ValueError:
            raise SynthgenError(f"--shard {spec!r}: expected K/N with integers, e.g. 0/4") from None
        source = "--shard"
    elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        k = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        n = int(env["SLURM_ARRAY_TASK_COUNT"])
        source = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"
    elif "JOB_COMPLETION_INDEX" in env:
        if "SYNTHGEN_SHARD_COUNT" not in env:
            raise SynthgenError("JOB_COMPLETION_INDEX is set but SYNTHGEN_SHARD_COUNT is not: set it to the "
                                "Indexed Job's completions")
        k, n = int(env["JOB_COMPLETION_INDEX"]), int(env["SYNTHGEN_SHARD_COUNT"])
        source = "JOB_COMPLETION_INDEX/SYNTHGEN_SHARD_COUNT"
    else:
        return 0, 1
    if not (n >= 1 and 0 <= k < n):
        raise SynthgenError(f"{source}: shard {k}/{n} is out of range (need 0 <= K < N)")
    return k, n


class Dataset:
    """A dataset folder being written (or read for merging)."""

    def __init__(self, root: str | Path, image_ext: str = ".png"):
        self.root = Path(root)
        self.image_ext = image_ext  # ".png" or ".jpg" (render.image_format); masks are always PNG

    # -- job identity ---------------------------------------------------------------------
    def check_job(self, job: dict[str, Any]) -> bool:
        """Check the folder is writable and belongs to this job (or is new) without touching it;
        True when the job file still has to be written."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise SynthgenError(f"{root}: output path exists and is not a folder")
        parent = root if root.exists() else next((p for p in root.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            raise SynthgenError(f"{root}: output folder is not writable")
        jf = root / JOB_FILE
        if jf.is_file():
            try:
                old = json.loads(jf.read_text())
            except (OSError, ValueError):
                raise SynthgenError(f"{jf}: unreadable job file; refusing to write into this folder") from None
            for key in ("config_hash", "seed", "shard"):
                if old.get(key) != job.get(key):
                    raise SynthgenError(
                        f"{root}: holds another job's dataset ({key} {old.get(key)!r} != {job.get(key)!r}); "
                        "use a new --out folder")
            return False
        if root.is_dir() and any(p for p in root.iterdir() if p.name not in (".cache",)):
            raise SynthgenError(f"{root}: folder is not empty and holds no synthgen {JOB_FILE}; use a new --out folder")
        return True

    def open_for_job(self, job: dict[str, Any]) -> None:
        """:meth:`check_job`, then write the job file if the folder is new."""
        if self.check_job(job):
            atomic_write_json(self.root / JOB_FILE, job)

    def job(self) -> dict[str, Any]:
        jf = self.root / JOB_FILE
        if not jf.is_file():
            raise SynthgenError(f"{self.root}: not a synthgen dataset (no {JOB_FILE})")
        return json.loads(jf.read_text())

    # -- scenes ---------------------------------------------------------------------------
    def plan_path(self, scene_index: int) -> Path:
        return self.root / PLANS / f"{scene_index:06d}.json"

    def scene_done(self, scene_index: int) -> bool:
        return self.plan_path(scene_index).is_file()

    def image_path(self, scene_index: int, camera_id: int) -> Path:
        return self.root / IMAGES / f"{stem(scene_index, camera_id)}{self.image_ext}"

    def write_masks(self, scene_index: int, camera_id: int, instance: np.ndarray, semantic: np.ndarray) -> None:
        s = stem(scene_index, camera_id)
        atomic_write_png(self.root / INSTANCE_MASKS / f"{s}.png", instance.astype(np.uint16))
        atomic_write_png(self.root / SEMANTIC_MASKS / f"{s}.png", semantic.astype(np.uint8))

    def write_pairs(self, scene_index: int, camera_id: int, ids: np.ndarray, pair: tuple[np.ndarray, np.ndarray],
                    defect_ids: list[int]) -> None:
        """Per kept defect (instance k = its place in ``defect_ids``, as in the masks): its box of
        the contrast renders, defect on and off, and its label, as ``pairs/<image stem>_<k>_{on,off,label}.png``
        (the box: the label's plus 3 px, inside the rendered region)."""
        s = stem(scene_index, camera_id)
        h, w = ids.shape
        for k, did in enumerate(defect_ids, start=1):
            ys, xs = np.nonzero(ids == did)
            if not len(ys):
                continue
            y0, y1, x0, x1 = max(0, ys.min() - 3), min(h, ys.max() + 4), max(0, xs.min() - 3), min(w, xs.max() + 4)
            for name, arr in (("on", pair[0]), ("off", pair[1]),
                              ("label", (ids == did).astype(np.uint8) * 255)):
                atomic_write_png(self.root / PAIRS / f"{s}_{k:02d}_{name}.png", np.ascontiguousarray(arr[y0:y1, x0:x1]))

    def write_scene(self, scene_index: int, record: dict[str, Any]) -> None:
        """The scene's final record (plan, status, cameras, COCO entries): marks it done."""
        atomic_write_json(self.plan_path(scene_index), record)

    def scene_records(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.root / PLANS).glob("*.json"))]

    # -- assembly -------------------------------------------------------------------------
    def finalize(self, categories: list[dict[str, Any]], extra_manifest: dict[str, Any]) -> dict[str, Any]:
        """Assemble annotations/coco.json and manifest.json from the scene records."""
        records = self.scene_records()
        images, anns = [], []
        counts = {"scenes_done": len(records), "scenes_accepted": 0, "scenes_rejected": 0,
                  **dict.fromkeys(SCENE_COUNTS, 0)}
        for r in records:
            counts["scenes_accepted" if r["status"] == "accepted" else "scenes_rejected"] += 1
            c = r.get("counts", {})
            for k in SCENE_COUNTS:
                counts[k] += c.get(k, 0)
            images.extend(r.get("coco", {}).get("images", []))
            anns.extend(r.get("coco", {}).get("annotations", []))
        job = self.job()
        coco = {
            "info": {"description": "synthgen synthetic defect dataset", "version": __version__,
                     "config_hash": job.get("config_hash"), "seed": job.get("seed")},
            "licenses": [],
            "categories": categories,
            "images": sorted(images, key=lambda x: x["id"]),
            "annotations": sorted(anns, key=lambda x: x["id"]),
        }
        atomic_write_json(self.root / COCO, coco)
        manifest = {"synthgen_version": __version__, **job, "counts": counts, **extra_manifest}
        atomic_write_json(self.root / MANIFEST, manifest)
        return manifest


def merge_datasets(sources: list[Path], out: Path) -> dict[str, Any]:
    """Combine shard folders of one job into ``out`` (hard links where possible)."""
    if not sources:
        raise SynthgenError("merge: give at least one dataset folder")
    jobs = [Dataset(s).job() for s in sources]
    base = {k: v for k, v in jobs[0].items() if k != "shard"}
    for s, j in zip(sources, jobs):
        if {k: v for k, v in j.items() if k != "shard"} != base:
            raise SynthgenError(f"{s}: belongs to another job (config hash {j.get('config_hash')} != "
                                f"{base.get('config_hash')})")
    dst = Dataset(out)
    dst.open_for_job({**base, "shard": [0, 1]})
    categories = None
    manifests = []
    for s in sources:
        src = Dataset(s)
        man = json.loads((src.root / "manifest.json").read_text()) if (src.root / "manifest.json").is_file() else {}
        manifests.append(man)
        categories = categories or man.get("categories")
        for sub in (IMAGES, INSTANCE_MASKS, SEMANTIC_MASKS, PAIRS, PLANS):
            if not (src.root / sub).is_dir():
                continue
            for f in sorted(p for p in (src.root / sub).iterdir() if p.suffix in (IMAGE_EXTS if sub != PLANS
                                                                                   else (".json",))):
                target = dst.root / sub / f.name
                if target.exists():
                    if target.read_bytes() != f.read_bytes():
                        raise SynthgenError(f"{f}: conflicts with {target} from another shard")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".tmp_{target.name}")
                try:
                    os.link(f, tmp)
                except OSError:
                    shutil.copy2(f, tmp)
                os.replace(tmp, target)
    extra = {"categories": categories or [], "merged_from": [str(s) for s in sources]}
    versions = sorted({m["blender_version"] for m in manifests if m.get("blender_version")})
    if versions:
        extra["blender_version"] = versions[0] if len(versions) == 1 else versions
    scenes = [m["num_scenes"] for m in manifests if "num_scenes" in m]
    if scenes:
        extra["num_scenes"] = max(scenes)
    runs = [m["last_run"] for m in manifests if isinstance(m.get("last_run"), dict)]
    if runs:
        extra["last_run"] = merge_run_stats(runs)
    return dst.finalize(categories or [], extra)


def merge_run_stats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One run summary for shards run side by side: counts, seconds and drop reasons summed, wall
    time and memory per step the largest shard's, the first shard's device; each shard's own summary
    (its data-blocks too) under ``shards``."""
    merged: dict[str, Any] = {}
    for r in runs:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "wall":
                merged[k] = merged.get(k, 0) + v
            elif isinstance(v, dict) and k in ("seconds", "drop_reasons"):
                d = merged.setdefault(k, {})
                for kk, vv in v.items():
                    d[kk] = round(d.get(kk, 0) + vv, 4)
            elif isinstance(v, dict) and k == "rss_mib":  # each shard is its own process: the largest
                d = merged.setdefault(k, {})
                for kk, vv in v.items():
                    d[kk] = max(d.get(kk, 0), vv)
    merged["wall"] = max(r.get("wall", 0.0) for r in runs)
    merged["device"] = runs[0].get("device", {})
    merged["shards"] = runs
    return merged
