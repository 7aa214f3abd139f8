"""The render job: plan each scene (pure), build it in Blender, render accepted cameras, write.

bpy is imported only inside ``run_render`` so the rest of synthgen stays importable without it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from synthgen import __version__
from synthgen.config import JobConfig
from synthgen.errors import SynthgenError
from synthgen.plan import PlacementError, cache_dir_for, make_plan

log = logging.getLogger("synthgen")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class RunStats:
    scenes_tried: int = 0
    scenes_done: int = 0
    scenes_resumed: int = 0
    scenes_skipped: int = 0
    images: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"plan": 0.0, "build": 0.0, "render": 0.0,
                                                              "write": 0.0, "clear": 0.0})
    device: dict = field(default_factory=dict)
    wall: float = 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        d["wall"] = round(self.wall, 4)
        return d


def image_name(scene_index: int, camera_id: int) -> str:
    return f"{scene_index:06d}_{camera_id:02d}.png"


def check_out_dir(out: Path) -> None:
    """Fail early, touching nothing, when the output folder cannot be written."""
    probe_parent = out if out.exists() else next((p for p in out.parents if p.exists()), None)
    if out.exists() and not out.is_dir():
        raise SynthgenError(f"{out}: output path exists and is not a folder")
    if probe_parent is None or not os.access(probe_parent, os.W_OK | os.X_OK):
        raise SynthgenError(f"{out}: output folder is not writable")


def run_render(cfg: JobConfig, out: str | Path | None = None, num_scenes: int | None = None,
               seed: int | None = None, device: str | None = None, quiet: bool = True,
               progress: bool = True) -> RunStats:
    """Render ``num_scenes`` scenes of ``cfg`` into ``out``. Scenes whose plan file exists are
    already complete (the plan is written last, atomically) and are skipped on re-run."""
    t_start = time.perf_counter()
    out = Path(out or cfg.out)
    check_out_dir(out)
    seed = cfg.seed if seed is None else seed
    n = num_scenes or cfg.num_scenes
    device = device or cfg.render.device

    from synthgen.blender import devices, render, scene  # bpy from here on

    scene.init_session()
    import bpy

    stats = RunStats()
    stats.device = devices.configure_device(bpy.context.scene, device, cfg.render.fallback)
    log.info("Cycles device: requested %s, rendering on %s (%s)", stats.device["requested"],
             stats.device["used"], ", ".join(stats.device["devices"]))
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "plans").mkdir(parents=True, exist_ok=True)
    cache = cache_dir_for(cfg) if out == Path(cfg.out) else out / ".cache"
    bar = tqdm(total=n, unit="scene", disable=not progress, dynamic_ncols=True)
    for i in range(n):
        plan_path = out / "plans" / f"{i:06d}.json"
        skip_path = out / "skipped" / f"{i:06d}.json"
        stats.scenes_tried += 1
        if plan_path.exists() or skip_path.exists():
            stats.scenes_resumed += 1
            bar.update(1)
            continue
        t0 = time.perf_counter()
        try:
            plan = make_plan(cfg, i, seed=seed, cache_dir=cache)
        except PlacementError as exc:
            stats.seconds["plan"] += time.perf_counter() - t0
            stats.scenes_skipped += 1
            log.warning("scene %d skipped: %s", i, exc)
            atomic_write_text(skip_path, json.dumps({"scene_index": i, "seed": seed, "reason": str(exc)}) + "\n")
            bar.update(1)
            continue
        t1 = time.perf_counter()
        built = scene.build_scene(plan)
        render.apply_render_settings(plan.render, seed * 1_000_003 + i, cfg.render.threads)
        t2 = time.perf_counter()
        stats.seconds["plan"] += t1 - t0
        stats.seconds["build"] += t2 - t1
        for cam in plan.cameras:
            ta = time.perf_counter()
            render.render_camera(built, cam.camera_id, quiet=quiet)
            tb = time.perf_counter()
            render.save_render(out / "images" / image_name(i, cam.camera_id))
            tc = time.perf_counter()
            stats.seconds["render"] += tb - ta
            stats.seconds["write"] += tc - tb
            stats.images += 1
            bar.set_postfix(images=stats.images, skipped=stats.scenes_skipped)
        tw = time.perf_counter()
        atomic_write_text(plan_path, plan.to_json())
        t3 = time.perf_counter()
        scene.clear_scene()
        stats.seconds["write"] += t3 - tw
        stats.seconds["clear"] += time.perf_counter() - t3
        stats.scenes_done += 1
        bar.update(1)
    bar.close()
    stats.wall = time.perf_counter() - t_start
    summary = {"synthgen_version": __version__, "blender_version": bpy.app.version_string,
               "seed": seed, "num_scenes": n, **stats.to_dict()}
    atomic_write_text(out / "run.json", json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return stats
