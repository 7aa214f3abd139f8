"""The render job, as named steps: plan (pure) -> build -> verify -> render accepted cameras ->
label -> record. Each step lives where it belongs; this module only orders them.

Per scene:
1. ``plan``: parts, cameras, lights, materials, defects (``plan/``); an unplaceable scene is
   rejected, and so is one without any defect unless healthy images are asked for
   (``verification.render_without_defects``; ``defects.healthy_share`` plans such scenes);
2. ``build``: the one entry point ``synthgen.blender.build.build``, defects included;
3. ``verify`` (``blender/verify.py``): per camera, check from geometry that a part is in view,
   render ONE cheap defect-ID pass that gives the visible pixels of every defect at once, drop
   defects under the visibility thresholds or facing away, then render small boxes around the
   rest with the defects on and off and drop those that barely change the image; a kept
   label is what changes within the defect's footprint. Every camera's reasons are recorded;
   a camera with no kept defect is skipped (unless healthy images are asked for);
4. ``render``: the accepted cameras with Cycles, showing only the defects labelled there;
5. ``label`` (``annotate/labels.py``): instance and semantic masks and COCO records;
6. ``record``: the scene record, written last (it marks the scene done).

After each step the run notes its time, the resident memory, and after build and clear Blender's
data-block counts (``RunStats``; the manifest's ``last_run``).

Blender is reached only through ``synthgen.blender``, imported inside ``run_render``, so the rest
of synthgen stays importable without bpy.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from tqdm import tqdm

from synthgen import __version__
from synthgen.annotate.coco import categories as coco_categories
from synthgen.annotate.labels import camera_labels
from synthgen.annotate.visibility import reasons_text
from synthgen.config.job import JobConfig
from synthgen.dataset.job import config_hash
from synthgen.dataset.reader import JOB_FILE
from synthgen.dataset.writer import Dataset
from synthgen.errors import SynthgenError
from synthgen.plan import PlacementError, make_plan
from synthgen.plan.library import library_root, resolve_library
from synthgen.plan.portable import localize, portable
from synthgen.plan.types import ScenePlan, plan_from_dict
from synthgen.stats import NO_DEFECT_WHY, RunStats

log = logging.getLogger("synthgen")


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
    from synthgen.blender import devices

    seed = plans[0]["seed"] if plans else (cfg.seed if seed is None else seed)
    n = num_scenes or cfg.num_scenes
    k_shard, n_shard = shard
    out = Path(out or cfg.out)
    ds = Dataset(out, ".jpg" if cfg.render.image_format == "jpeg" else ".png")
    job = {"config_hash": config_hash(cfg), "seed": seed, "shard": [k_shard, n_shard]}
    ds.check_job(job)  # nothing is written until the folder, the device and the library are usable
    cats = coco_categories(sorted(cfg.defects.kinds))
    wanted = sorted(d["scene_index"] for d in plans) if plans else [i for i in range(n) if i % n_shard == k_shard]
    if (out / JOB_FILE).is_file() and (out / "manifest.json").is_file() and all(ds.scene_done(i) for i in wanted):
        # a finished run: nothing to render, and the record of the run that made it stays as it is
        manifest = json.loads((out / "manifest.json").read_text())
        return RunStats(scenes_in_shard=len(wanted), scenes_resumed=len(wanted), already_done=True,
                        dataset_images=int(manifest.get("counts", {}).get("cameras_accepted", 0)),
                        wall=time.perf_counter() - t_start)

    blender.start_session()
    stats = RunStats()
    stats.note_rss("start")
    stats.note_datablocks("start", blender.datablock_counts())
    try:
        stats.device = devices.configure_device(device or cfg.render.device, cfg.render.fallback)
    except SynthgenError as exc:  # name the config whose device is missing
        raise SynthgenError(f"{cfg.source}: {exc}" if cfg.source else str(exc)) from None
    cache = out / ".cache"
    library = resolve_library(cfg, seed, cache)
    lib_root = library_root(cfg, seed, cache)
    given = {d["scene_index"]: plan_from_dict(localize(d, cfg.config_dir, lib_root)) for d in plans or []}
    ds.open_for_job(job)
    log.info("Cycles device: requested %s, rendering on %s (%s)", stats.device["requested"],
             stats.device["used"], ", ".join(stats.device["devices"]))
    indices = wanted
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
            stats.scenes_unplaceable += 1
            record = _rejected(i, seed, str(exc))
        else:
            stats.seconds["plan"] += time.perf_counter() - t0
            stats.note_rss("plan")
            if plan.defects or cfg.verification.render_without_defects:  # no defect: a healthy scene
                record = _render_scene(cfg, ds, plan, {c["name"]: c["id"] for c in cats}, stats, quiet)
            else:  # nothing to label: not built, not rendered
                stats.scenes_without_defects += 1
                record = _rejected(i, plan.seed, f"no defect could be placed on any part ({NO_DEFECT_WHY})")
            record["plan"] = portable(plan.to_dict(), cfg.config_dir, lib_root)
        if record["status"] == "rejected":
            log.warning("scene %d rejected: %s", i, record["reason"])
        t1 = time.perf_counter()
        ds.write_scene(i, record)
        stats.seconds["write"] += time.perf_counter() - t1
        stats.note_rss("write")
        stats.scenes_done += 1
        stats.scenes_accepted += record["status"] == "accepted"
        stats.scenes_rejected += record["status"] == "rejected"
        bar.update(1)
        bar.set_postfix(images=stats.images, accepted=stats.scenes_accepted, rejected=stats.scenes_rejected)
    bar.close()
    stats.wall = time.perf_counter() - t_start
    manifest = ds.finalize(cats, {"categories": cats, "blender_version": blender.blender_version(),
                                  "num_scenes": n, "last_run": stats.to_dict()})
    stats.dataset_images = manifest["counts"]["cameras_accepted"]
    return stats


def _rejected(scene_index: int, seed: int, reason: str) -> dict:
    """The record of a scene rejected before anything was rendered."""
    return {"scene_index": scene_index, "seed": seed, "status": "rejected", "reason": reason, "counts": {},
            "coco": {"images": [], "annotations": []}}


def _render_scene(cfg: JobConfig, ds: Dataset, plan: ScenePlan, category_of: dict[str, int], stats: RunStats,
                  quiet: bool) -> dict:
    """Build, verify, render the accepted cameras and label them; the scene's record (less its plan)."""
    from synthgen.blender import build as blender
    from synthgen.blender import defects, render
    from synthgen.blender.verify import verify_scene

    i = plan.scene_index
    t0 = time.perf_counter()
    built = blender.build(plan, threads=cfg.render.threads)
    t1 = time.perf_counter()
    stats.note_rss("build")
    stats.note_datablocks("built_max", blender.datablock_counts())
    verdict = verify_scene(built, cfg, quiet=quiet)
    t2 = time.perf_counter()
    stats.seconds["build"] += t1 - t0
    stats.seconds["verify"] += t2 - t1
    stats.note_rss("verify")
    stats.seconds["contrast"] += verdict.seconds_contrast
    stats.cameras_checked += len(plan.cameras)
    stats.drop_reasons.update(verdict.reasons)
    checks = verdict.checks
    counts = {"cameras_planned": len(plan.cameras), "cameras_accepted": 0,
              "cameras_no_part": sum(c["status"] == "no_part" for c in checks),
              "cameras_no_defect": sum(c["status"] == "no_defect" for c in checks),
              "cameras_crop_too_small": sum(c["status"] == "crop_too_small" for c in checks),
              "defects_planned": len(plan.defects), "defect_views_visible": 0,
              "defect_views_dropped": sum(verdict.reasons.values()), "dropped_by_reason": dict(verdict.reasons)}
    images, annotations, cameras = [], [], []
    for cv in verdict.accepted:
        cam_id = cv.camera.camera_id
        ta = time.perf_counter()
        defects.set_enabled(built, {v["defect_id"] for v in cv.visible})
        render.render_camera(built, cam_id, quiet=quiet, region=cv.crop)
        tb = time.perf_counter()
        if cv.pair is not None:
            ds.write_pairs(i, cam_id, cv.ids, cv.pair, [v["defect_id"] for v in cv.visible])
        ids = _save_image(ds.image_path(i, cam_id), cv.ids, plan, cv.camera, cfg.render.jpeg_quality)
        labels = camera_labels(i, cam_id, ids, cv.visible, cv.dropped, category_of, cv.crop, ds.image_ext)
        ds.write_masks(i, cam_id, labels.instance, labels.semantic)
        images.append(labels.coco_image)
        annotations.extend(labels.coco_annotations)
        cameras.append(labels.record)
        counts["cameras_accepted"] += 1
        counts["defect_views_visible"] += len(cv.visible)
        stats.images += 1
        stats.defects_visible += len(cv.visible)
        stats.seconds["render"] += tb - ta
        stats.seconds["write"] += time.perf_counter() - tb
    if cameras:
        stats.note_rss("render")
    t3 = time.perf_counter()
    blender.clear()
    stats.seconds["clear"] += time.perf_counter() - t3
    stats.note_rss("clear")
    stats.note_datablocks("after_clear", blender.datablock_counts())
    record = {"scene_index": i, "seed": plan.seed, "status": "accepted" if cameras else "rejected",
              "counts": counts, "accepted_cameras": cameras, "camera_checks": checks,
              "coco": {"images": images, "annotations": annotations}}
    stats.cameras_crop_too_small += counts["cameras_crop_too_small"]
    if not cameras:
        record["reason"] = _rejected_why(counts, verdict.reasons, cfg.render.crop)
    return record


def _rejected_why(counts: dict, reasons, crop) -> str:
    """Why no camera of a scene was kept: its defects were not visible, or its crop of the part was
    smaller than ``render.crop.min_size`` (a crop too small is not a defect that cannot be seen)."""
    n, small = counts["cameras_planned"], counts["cameras_crop_too_small"]
    head = "no defect visible from any camera" if not small else "no camera kept"
    why = [reasons_text(reasons)]
    if small:
        why.append(f"{small} of {n} cameras' crop of the part is smaller than render.crop.min_size "
                   f"{list(crop.min_size)}")
    why.append(f"{counts['cameras_no_part']} of {n} cameras see no part")
    return f"{head} ({'; '.join(why)})"


def _save_image(path: Path, ids, plan: ScenePlan, cam, jpeg_quality: int):
    """Write the camera's last render to ``path`` once, and return the label map the masks are made
    from. Without a camera model a PNG is Blender's own file; otherwise the render is read back, the
    planned sensor model (``render.sensor``) applied to it and the lens distortion to the label map,
    and the result written as PNG or JPEG (by ``path``'s suffix)."""
    from synthgen.blender import render

    sp = next((s for s in plan.sensors if s.camera_id == cam.camera_id), None)
    if sp is None and path.suffix == ".png":
        render.save_render(path)
        return ids
    import numpy as np
    from PIL import Image

    from synthgen.annotate.sensor import apply_camera_model
    from synthgen.io import atomic_write_image

    tmp = path.with_name(f".render_{path.stem}.png")
    try:
        render.save_render(tmp)
        image = np.asarray(Image.open(tmp))
        if sp is not None:
            image, ids = apply_camera_model(image, ids, sp, cam, linear=plan.render.view_transform == "Raw")
        atomic_write_image(path, image, jpeg_quality)
    finally:
        tmp.unlink(missing_ok=True)
    return ids


__all__ = ["RunStats", "__version__", "run_render"]
