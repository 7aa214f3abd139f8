"""The render job: plan (pure) -> build -> verify -> render accepted cameras -> labelled dataset.

Per scene:
1. plan it (parts, cameras, lights, materials, defects); an unplaceable scene is rejected;
2. build it in Blender with the defects applied as decals;
3. verify (``blender/verify.py``): per camera, check from geometry that a part is in view,
   render ONE cheap defect-ID pass that gives the visible pixels of every defect at once, drop
   defects under the visibility thresholds or facing away, then render small boxes around the
   rest with the defects on and off and drop those that barely change the image; a kept
   label is what changes within the defect's footprint. Every camera's reasons are recorded;
4. a camera with no kept defect is skipped (unless healthy images are asked for);
5. render the accepted cameras with Cycles, showing only the defects that are labelled there;
6. write image, instance and semantic masks, then the scene record (which marks it done).

Blender is reached only through ``synthgen.blender``, imported inside ``run_render``, so the rest
of synthgen stays importable without bpy.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthgen import __version__
from synthgen.annotate.coco import categories as coco_categories
from synthgen.annotate.coco import image_id, instance_annotations
from synthgen.annotate.visibility import reasons_text
from synthgen.config import JobConfig
from synthgen.dataset.writer import Dataset, config_hash, stem
from synthgen.plan import PlacementError, cache_dir_for, make_plan
from synthgen.plan.portable import localize, portable
from synthgen.plan.types import ScenePlan, plan_from_dict

log = logging.getLogger("synthgen")


@dataclass
class RunStats:
    scenes_in_shard: int = 0
    scenes_done: int = 0
    scenes_resumed: int = 0
    scenes_accepted: int = 0
    scenes_rejected: int = 0
    scenes_unplaceable: int = 0  # of the rejected: no overlap-free placement
    images: int = 0
    dataset_images: int = 0  # images in the whole dataset after this run (resumed scenes included)
    cameras_checked: int = 0
    defects_visible: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {
        "plan": 0.0, "build": 0.0, "verify": 0.0, "contrast": 0.0, "render": 0.0, "write": 0.0, "clear": 0.0})
    drop_reasons: Counter = field(default_factory=Counter)  # dropped defect views by reason
    device: dict = field(default_factory=dict)
    wall: float = 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        d["drop_reasons"] = dict(sorted(self.drop_reasons.items()))
        d["defects_dropped"] = sum(self.drop_reasons.values())
        d["wall"] = round(self.wall, 4)
        return d


def library_root(cfg: JobConfig, seed: int, cache_root: Path) -> Path | None:
    """The defect library's folder: the configured one, else the one generated under the cache,
    keyed by the defects config and seed (None without defect kinds)."""
    dc = cfg.defects
    if not dc.kinds:
        return None
    if dc.library:
        return Path(dc.library)
    return Path(cache_root) / "defects" / config_hash_part(dc.model_dump(mode="json"), seed)


def plan_scene(cfg: JobConfig, scene_index: int, seed: int | None = None,
               cache_dir: str | Path | None = None) -> ScenePlan:
    """Resolve the defect library, then plan scene ``scene_index``: the plan a render of ``cfg``
    makes for that scene (pure; the library is generated under ``cache_dir`` once, default the
    output's ``.cache`` as a render uses). Raises PlacementError for an unplaceable scene."""
    seed = cfg.seed if seed is None else seed
    cache = Path(cache_dir) if cache_dir is not None else cache_dir_for(cfg)
    return make_plan(cfg, scene_index, seed=seed, cache_dir=cache, library=resolve_library(cfg, seed, cache))


def written_plan(cfg: JobConfig, record: dict, dataset: str | Path) -> ScenePlan:
    """The ScenePlan of a scene record of ``dataset`` (``plans/N.json``), its portable paths
    resolved against ``cfg``'s folder and the dataset's defect library."""
    d = record.get("plan", record)
    return plan_from_dict(localize(d, cfg.config_dir, library_root(cfg, d["seed"], Path(dataset) / ".cache")))


def resolve_library(cfg: JobConfig, seed: int, cache_root: Path) -> dict[str, list[str]]:
    """Variant folders per defect kind: the configured library, else one generated (once, and
    resumably) under the cache."""
    from synthgen.textures.library import generate_library, load_library

    dc = cfg.defects
    root = library_root(cfg, seed, cache_root)
    if root is None:
        return {}
    if not dc.library:
        generate_library(dc, seed, root, progress=False)
    lib = load_library(root)
    out: dict[str, list[str]] = {}
    for kind in dc.kinds:
        variants = lib.get(kind) or []
        out[kind] = sorted(str(Path(v).resolve()) for v in variants)
        if not out[kind]:
            from synthgen.errors import SynthgenError

            raise SynthgenError(f"{root}: defect library has no variants of kind '{kind}'")
    return out


def config_hash_part(obj, seed: int) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([obj, seed], sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_render(cfg: JobConfig, out: str | Path | None = None, num_scenes: int | None = None,
               seed: int | None = None, device: str | None = None, shard: tuple[int, int] = (0, 1),
               quiet: bool = True, progress: bool = True, max_scenes_this_run: int | None = None,
               plans: list[dict] | None = None) -> RunStats:
    """Render scenes ``i`` (``i % N == K`` for shard (K, N)) of ``cfg`` into a dataset at ``out``.

    Finished scenes (their record exists) are skipped, so re-running after a crash continues
    where it stopped. ``max_scenes_this_run`` stops early (used by tests to simulate partial runs).
    ``plans`` (written plan dicts, as in ``plans/*.json``'s ``plan``) renders exactly those scenes
    instead of planning them: the same pixels as the run that wrote them.
    """
    t_start = time.perf_counter()
    # Blender first: an install without bpy fails here, before anything is written.
    from synthgen.blender import build as blender
    from synthgen.blender import defects as bdefects
    from synthgen.blender import devices, render, scene
    from synthgen.blender.verify import verify_scene

    seed = cfg.seed if seed is None else seed
    if plans:
        seed = plans[0]["seed"]
    n = num_scenes or cfg.num_scenes
    k_shard, n_shard = shard
    out = Path(out or cfg.out)
    ds = Dataset(out)
    job = {"config_hash": config_hash(cfg), "seed": seed, "shard": [k_shard, n_shard]}
    ds.check_job(job)  # nothing is written until the folder, the device and the library are usable
    kinds = sorted(cfg.defects.kinds)
    cats = coco_categories(kinds)
    cat_of = {c["name"]: c["id"] for c in cats}

    blender.start_session()
    stats = RunStats()
    stats.device = devices.configure_device(device or cfg.render.device, cfg.render.fallback)
    cache = out / ".cache"
    library = resolve_library(cfg, seed, cache)
    lib_root = library_root(cfg, seed, cache)
    given = {d["scene_index"]: plan_from_dict(localize(d, cfg.config_dir, lib_root)) for d in plans or []}
    ds.open_for_job(job)
    log.info("Cycles device: requested %s, rendering on %s (%s)", stats.device["requested"],
             stats.device["used"], ", ".join(stats.device["devices"]))
    indices = sorted(given) if given else [i for i in range(n) if i % n_shard == k_shard]
    stats.scenes_in_shard = len(indices)
    bar = tqdm(total=len(indices), unit="scene", disable=not progress, dynamic_ncols=True)
    rendered_this_run = 0
    for i in indices:
        if ds.scene_done(i):
            stats.scenes_resumed += 1
            bar.update(1)
            continue
        if max_scenes_this_run is not None and rendered_this_run >= max_scenes_this_run:
            break
        rendered_this_run += 1
        t0 = time.perf_counter()
        try:
            plan = given[i] if given else make_plan(cfg, i, seed=seed, cache_dir=cache, library=library)
        except PlacementError as exc:
            stats.seconds["plan"] += time.perf_counter() - t0
            stats.scenes_rejected += 1
            stats.scenes_unplaceable += 1
            stats.scenes_done += 1
            log.warning("scene %d rejected: %s", i, exc)
            ds.write_scene(i, {"scene_index": i, "seed": seed, "status": "rejected", "reason": str(exc),
                               "counts": {}, "coco": {"images": [], "annotations": []}})
            bar.update(1)
            continue
        t1 = time.perf_counter()
        stats.seconds["plan"] += t1 - t0
        built = blender.build(plan, threads=cfg.render.threads)
        t2 = time.perf_counter()
        stats.seconds["build"] += t2 - t1

        # --- verification: geometry, one defect-ID pass and one contrast pair per camera -------
        verdict = verify_scene(built, cfg.verification, quiet=quiet, crop=cfg.render.crop)
        counts = {"cameras_planned": len(plan.cameras), "cameras_accepted": 0,
                  "cameras_no_part": sum(c["status"] == "no_part" for c in verdict.checks),
                  "cameras_no_defect": sum(c["status"] == "no_defect" for c in verdict.checks),
                  "cameras_crop_too_small": sum(c["status"] == "crop_too_small" for c in verdict.checks),
                  "defects_planned": len(plan.defects), "defect_views_visible": 0,
                  "defect_views_dropped": sum(verdict.reasons.values()), "dropped_by_reason": dict(verdict.reasons)}
        stats.cameras_checked += len(plan.cameras)
        stats.drop_reasons.update(verdict.reasons)
        t3 = time.perf_counter()
        stats.seconds["verify"] += t3 - t2
        stats.seconds["contrast"] += verdict.seconds_contrast

        # --- final renders of accepted cameras ------------------------------------------------
        coco_images, coco_anns, cam_records = [], [], []
        for cv in verdict.accepted:
            cam, ids, vis, dropped = cv.camera, cv.ids, cv.visible, cv.dropped
            ta = time.perf_counter()
            bdefects.set_enabled(built, {v["defect_id"] for v in vis})
            render.render_camera(built, cam.camera_id, quiet=quiet, region=cv.crop)
            tb = time.perf_counter()
            render.save_render(ds.image_path(i, cam.camera_id))
            keep = {v["defect_id"]: n + 1 for n, v in enumerate(vis)}  # defect id -> instance k
            inst = np.zeros(ids.shape, np.uint16)
            sem = np.zeros(ids.shape, np.uint8)
            for did, k in keep.items():
                m = ids == did
                inst[m] = k
                sem[m] = cat_of[next(v["kind"] for v in vis if v["defect_id"] == did)]
            ds.write_masks(i, cam.camera_id, inst, sem)
            img_id = image_id(i, cam.camera_id)
            coco_images.append({"id": img_id, "file_name": f"{stem(i, cam.camera_id)}.png",
                                "width": int(ids.shape[1]), "height": int(ids.shape[0]), "scene_id": i,
                                "camera_id": cam.camera_id, **({"crop": list(cv.crop)} if cv.crop else {})})
            instances = [{"instance": keep[v["defect_id"]], "kind": v["kind"], "defect_id": v["defect_id"],
                          "scene_id": i, "camera_id": cam.camera_id, "part_instance_id": v["part_instance_id"]}
                         for v in vis]
            coco_anns.extend(instance_annotations(inst, img_id, instances, cat_of))
            cam_records.append({"camera_id": cam.camera_id, "image": f"images/{stem(i, cam.camera_id)}.png",
                                **({"crop": list(cv.crop)} if cv.crop else {}),
                                "visible_defects": [{**v, "instance": keep[v["defect_id"]]} for v in vis],
                                "dropped_defects": dropped})
            counts["cameras_accepted"] += 1
            counts["defect_views_visible"] += len(vis)
            stats.images += 1
            stats.defects_visible += len(vis)
            stats.seconds["render"] += tb - ta
            stats.seconds["write"] += time.perf_counter() - tb
        tw = time.perf_counter()
        status = "accepted" if cam_records else "rejected"
        record = {"scene_index": i, "seed": seed, "status": status, "counts": counts,
                  "plan": portable(plan.to_dict(), cfg.config_dir, lib_root),
                  "accepted_cameras": cam_records, "camera_checks": verdict.checks,
                  "coco": {"images": coco_images, "annotations": coco_anns}}
        if status == "rejected":
            record["reason"] = (f"no defect visible from any camera ({reasons_text(verdict.reasons)}; "
                                f"{counts['cameras_no_part']} of {len(plan.cameras)} cameras see no part)")
            log.warning("scene %d rejected: %s", i, record["reason"])
        ds.write_scene(i, record)
        t4 = time.perf_counter()
        blender.clear()
        stats.seconds["write"] += t4 - tw
        stats.seconds["clear"] += time.perf_counter() - t4
        stats.scenes_done += 1
        if status == "accepted":
            stats.scenes_accepted += 1
        else:
            stats.scenes_rejected += 1
        bar.update(1)
        bar.set_postfix(images=stats.images, accepted=stats.scenes_accepted, rejected=stats.scenes_rejected)
    bar.close()
    stats.wall = time.perf_counter() - t_start
    manifest = ds.finalize(cats, {"categories": cats, "blender_version": scene.blender_version(),
                                  "num_scenes": n, "last_run": stats.to_dict()})
    stats.dataset_images = manifest["counts"]["cameras_accepted"]
    return stats


def no_images_reasons(stats: RunStats) -> str:
    """Why a run made no image, counted: '3 scenes could not be placed, 2 saw no visible defect
    (12 dropped: 9 too_few_pixels, 3 facing_away)'."""
    parts = []
    if stats.scenes_unplaceable:
        parts.append(f"{stats.scenes_unplaceable} could not be placed")
    no_defect = stats.scenes_rejected - stats.scenes_unplaceable
    if no_defect:
        parts.append(f"{no_defect} showed no visible defect from any camera ({reasons_text(stats.drop_reasons)})")
    return ", ".join(parts) or "no scene was rendered"


def summary_line(stats: RunStats, out) -> str:
    """End-of-run summary for people."""
    s = stats.seconds
    tried = stats.scenes_done
    rate = 100.0 * stats.scenes_accepted / tried if tried else 0.0
    per_img = f"{stats.wall / stats.images:.2f} s per accepted image" if stats.images else "no accepted image"
    return (f"done: {tried} scenes tried this run ({stats.scenes_resumed} already done), {stats.scenes_accepted} "
            f"accepted ({rate:.0f} %), {stats.scenes_rejected} rejected; {stats.images} images, "
            f"{stats.defects_visible} visible defect views, {reasons_text(stats.drop_reasons)}; "
            f"{per_img}; time: plan {s['plan']:.1f} s, build {s['build']:.1f} s, "
            f"verify {s['verify']:.1f} s (contrast {s['contrast']:.1f} s), render {s['render']:.1f} s, "
            f"write {s['write']:.1f} s "
            f"(wall {stats.wall:.1f} s) on {stats.device.get('used')} -> {out}")


__all__ = [
    "RunStats",
    "__version__",
    "cache_dir_for",
    "no_images_reasons",
    "plan_scene",
    "resolve_library",
    "run_render",
    "summary_line",
    "written_plan",
]
