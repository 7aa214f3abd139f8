"""Render N scenes with the CLI pipeline in a background process, polled by a modal timer so the UI
never freezes. Progress is the number of scene records in the output's ``plans/`` folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import IntProperty


@dataclass
class RenderJob:
    process: subprocess.Popen
    out: Path
    total: int
    log: Path

    def done(self) -> int:
        return len(list((self.out / "plans").glob("*.json")))

    def status(self) -> str:
        rc = self.process.poll()
        if rc is None:
            return f"rendering: {self.done()} of {self.total} scenes -> {self.out}"
        if rc == 0:
            return f"done: {self.done()} scenes -> {self.out}"
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.is_file() else []
        return f"failed (exit {rc}): {tail[0] if tail else 'see ' + str(self.log)}"


def _command(args: list[str]) -> list[str]:
    """The synthgen CLI in a new process: Blender's own binary in background mode when running in
    Blender, else this Python (synthgen and bpy installed as modules)."""
    code = "import sys; from synthgen.cli import main; main(sys.argv[sys.argv.index('--') + 1:])"
    blender = bpy.app.binary_path
    if blender and Path(blender).name.lower().startswith("blender"):
        return [blender, "--background", "--factory-startup", "--python-expr", code, "--", *args]
    return [sys.executable, "-c", code, "--", *args]


def start_render(config: str, num_scenes: int, out: str, extra_paths: list[str] | None = None) -> RenderJob:
    """Start ``synthgen render CONFIG --num-scenes N --out OUT`` in the background; ``extra_paths``
    (a checkout and its venv's packages) are put on the new process's PYTHONPATH."""
    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    log = out_p.parent / f"{out_p.name}.render.log"
    env = dict(os.environ)
    if extra_paths:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (*extra_paths, env.get("PYTHONPATH", "")) if p)
    with open(log, "w") as fh:
        proc = subprocess.Popen(_command(["render", config, "--num-scenes", str(num_scenes), "--out", out]),
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    return RenderJob(proc, out_p, num_scenes, log)


JOBS: dict[str, RenderJob] = {}


class SYNTHGEN_OT_render_scenes(bpy.types.Operator):
    """Render N scenes of the config with the CLI pipeline in a background process (the UI stays responsive)"""

    bl_idname = "synthgen.render_scenes"
    bl_label = "Render N scenes"
    count: IntProperty(name="Scenes", min=1, default=3)
    _timer = None

    def execute(self, context):
        s = context.scene.synthgen
        if not s.config_path:
            self.report({"ERROR"}, "pick a config first")
            return {"CANCELLED"}
        config = bpy.path.abspath(s.config_path)
        out = bpy.path.abspath(s.render_out) if s.render_out else str(Path(config).parent / "out" / "addon_render")
        from .operators import source_paths

        JOBS["current"] = start_render(config, self.count, out, source_paths(context))
        s.render_status = JOBS["current"].status()
        if bpy.app.background or context.window is None:  # no event loop (tests, scripts): nothing to poll in
            return {"FINISHED"}
        self._timer = context.window_manager.event_timer_add(1.0, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        job = JOBS["current"]
        context.scene.synthgen.render_status = job.status()
        for area in context.screen.areas if context.screen else []:
            area.tag_redraw()
        if job.process.poll() is None:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        self.report({"INFO"} if job.process.returncode == 0 else {"ERROR"}, job.status())
        return {"FINISHED"}
