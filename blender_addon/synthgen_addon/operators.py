"""The add-on's operators: build (defects included), previous/next scene, clear, show labels and
preview render. Everything goes through synthgen's own entry points (``plan_scene``,
``synthgen.blender.build``), so the artist sees exactly what the CLI renders."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
from bpy.props import IntProperty

# The scene the add-on built last (its handle from synthgen.blender.build.build).
STATE: dict = {"built": None}
LABELS_IMAGE, PREVIEW_IMAGE = "synthgen_labels", "synthgen_preview"


def checkout_paths(src: str) -> list[str]:
    """What a synthgen checkout adds to Blender's Python: the checkout itself, and the
    site-packages of its Python 3.11 ``.venv`` (made by the README's quickstart) for synthgen's
    pure dependencies. No pip into Blender's Python is needed. The venv goes last on the path so
    Blender's own bpy and numpy win."""
    root = Path(src).expanduser().resolve()
    out = [str(root)]
    out += [str(p) for p in sorted(root.glob(".venv/lib/python3.11/site-packages"))]
    return out


def source_paths(context) -> list[str]:
    """``checkout_paths`` of the add-on preference "synthgen source folder" ([] when unset)."""
    prefs = context.preferences.addons.get(__package__)
    src = getattr(prefs.preferences, "source_dir", "") if prefs else ""
    return checkout_paths(bpy.path.abspath(src)) if src else []


def import_synthgen(context):
    """synthgen from Blender's Python, or from the checkout named in the add-on's preferences."""
    paths = source_paths(context)
    if paths:
        first, *rest = paths
        if first not in sys.path:
            sys.path.insert(0, first)
        sys.path.extend(p for p in rest if p not in sys.path)
    try:
        import synthgen.blender.build
        import synthgen.plan.library  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"synthgen is not importable from Blender's Python ({exc}); install it or set "
                           "the add-on's source folder") from None


def _fail(op, exc) -> set[str]:
    """Report every line of an error (a config error has one per bad field)."""
    op.report({"ERROR"}, "\n".join(str(exc).splitlines()) or type(exc).__name__)
    return {"CANCELLED"}


def build_current(context) -> str:
    """Plan and build the panel's scene; returns a one-line summary."""
    from synthgen.blender.build import build, clear
    from synthgen.plan.library import plan_scene

    from .edited import edited_config

    s = context.scene.synthgen
    cfg = edited_config(s)  # the YAML with the panel's edits applied and validated
    plan = plan_scene(cfg, s.scene_index, seed=s.seed if s.use_seed else None)
    clear()
    STATE["built"] = build(plan)  # the CLI's own entry point: defects and render settings included
    STATE["config"] = cfg  # the labels' rules (verification, crop, label modes) for Show labels
    set_active_camera(context)
    return (f"built scene {plan.scene_index}: {len(plan.parts)} parts, {len(plan.cameras)} cameras, "
            f"{len(plan.lights)} lights, {len(plan.defects)} defects")


def set_active_camera(context) -> None:
    """Make the panel's camera the scene camera at once (the camera list's update callback)."""
    built = STATE["built"]
    if built is None or not built.cameras:
        return
    s = context.scene.synthgen
    cid = min(max(0, s.camera_id), max(built.cameras))
    cam = built.cameras.get(cid)
    if cam is not None:
        context.scene.camera = cam


class SYNTHGEN_OT_build_scene(bpy.types.Operator):
    """Plan the scene (config, seed, index) and build it here with its defects, replacing the previous synthgen scene"""

    bl_idname = "synthgen.build_scene"
    bl_label = "Build scene"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 -- Blender reads this class attribute as a set

    def execute(self, context):
        try:
            import_synthgen(context)
            from synthgen.errors import SynthgenError

            try:
                msg = build_current(context)
            except SynthgenError as exc:
                return _fail(self, exc)
        except RuntimeError as exc:
            return _fail(self, exc)
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class SYNTHGEN_OT_step_scene(bpy.types.Operator):
    """Build the previous or next scene of the config"""

    bl_idname = "synthgen.step_scene"
    bl_label = "Step scene"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 -- Blender reads this class attribute as a set
    step: IntProperty(name="Step", default=1)

    def execute(self, context):
        s = context.scene.synthgen
        s.scene_index = max(0, s.scene_index + self.step)
        return bpy.ops.synthgen.build_scene()


class SYNTHGEN_OT_clear_scene(bpy.types.Operator):
    """Remove everything synthgen built (your own objects, materials, meshes and images are untouched)"""

    bl_idname = "synthgen.clear_scene"
    bl_label = "Clear synthgen objects"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 -- Blender reads this class attribute as a set

    def execute(self, context):
        try:
            import_synthgen(context)
        except RuntimeError as exc:
            return _fail(self, exc)
        from synthgen.blender.build import clear

        clear()
        STATE["built"] = None
        return {"FINISHED"}


def _tagged_image(name: str, w: int, h: int) -> bpy.types.Image:
    from synthgen.blender.shading import TAG

    img = bpy.data.images.get(name)
    if img is not None and tuple(img.size) != (w, h):
        bpy.data.images.remove(img)
        img = None
    if img is None:
        img = bpy.data.images.new(name, w, h, alpha=True)
        img[TAG] = 1  # cleared with the rest of synthgen's data
    return img


def _set_pixels(img: bpy.types.Image, rgba: np.ndarray) -> None:
    """(H, W, 4) float top-down -> the image (Blender stores rows bottom-up)."""
    img.pixels.foreach_set(np.ascontiguousarray(rgba[::-1], dtype=np.float32).ravel())
    img.update()


def label_colours(ids: np.ndarray) -> np.ndarray:
    """(H, W, 4) float: each defect id in its palette colour, transparent elsewhere."""
    from synthgen.dataset.preview import PALETTE

    out = np.zeros((*ids.shape, 4), np.float32)
    for k in np.unique(ids[ids > 0]):
        out[ids == k] = (*(PALETTE[int(k) % len(PALETTE)] / 255.0), 1.0)
    return out


def _need_build(op):
    if STATE["built"] is None or bpy.context.scene.camera is None:
        op.report({"ERROR"}, "build a scene first")
        return True
    return False


def _active_camera_id(context) -> int:
    built = STATE["built"]
    return next(cid for cid, o in built.cameras.items() if o == context.scene.camera)


def active_camera_labels(context):
    """(built scene, active camera id, the label map ``synthgen render`` writes for it placed in the
    full frame, the camera's check record with its kept and dropped defects): the CLI's own
    ``camera_verdict`` (ID pass, crop, visibility and contrast rules) and lens model."""
    from synthgen.blender.verify import camera_verdict, saved_labels

    built, cid = STATE["built"], _active_camera_id(context)
    check, cv = camera_verdict(built, cid, STATE["config"])
    w, h = built.plan.render.resolution
    full = np.zeros((h, w), np.int32)
    if cv is not None:
        ids = saved_labels(built.plan, cv)
        x0, y0, x1, y1 = cv.crop or (0, 0, w, h)
        full[y0:y1, x0:x1] = ids
    return built, cid, full, check


def labels_report(cid: int, ids: np.ndarray, check: dict) -> str:
    """One line for the artist: what is labelled, and why the other defects are not."""
    from collections import Counter

    why = Counter(d["reason"] for d in check.get("dropped_defects", []))
    text = f"camera {cid}: {len(np.unique(ids[ids > 0]))} defects labelled, {int((ids > 0).sum())} px"
    if check.get("status") not in ("accepted", "healthy"):
        text += f" ({check.get('status')})"
    return text + ("; dropped: " + ", ".join(f"{n} {r}" for r, n in sorted(why.items())) if why else "")


class SYNTHGEN_OT_show_labels(bpy.types.Operator):
    """Show the labels synthgen render writes for the active camera (its ID pass, crop and contrast rules) as an overlay in the camera view"""

    bl_idname = "synthgen.show_labels"
    bl_label = "Show labels"

    def execute(self, context):
        if _need_build(self):
            return {"CANCELLED"}
        built, cid, ids, check = active_camera_labels(context)
        img = _tagged_image(LABELS_IMAGE, ids.shape[1], ids.shape[0])
        _set_pixels(img, label_colours(ids))
        cam = built.cameras[cid].data
        cam.show_background_images = True
        bg = next((b for b in cam.background_images if b.image == img), None) or cam.background_images.new()
        bg.image, bg.alpha, bg.display_depth = img, 0.6, "FRONT"
        self.report({"INFO"}, labels_report(cid, ids, check))
        return {"FINISHED"}


class SYNTHGEN_OT_preview(bpy.types.Operator):
    """Render the active camera at low samples with its labels outlined, into the image 'synthgen_preview'"""

    bl_idname = "synthgen.preview"
    bl_label = "Preview render"

    def execute(self, context):
        if _need_build(self):
            return {"CANCELLED"}
        from PIL import Image

        from synthgen.blender import render
        from synthgen.dataset.preview import overlay

        built, cid, ids, _check = active_camera_labels(context)
        c = context.scene.cycles
        saved = c.samples
        c.samples = context.scene.synthgen.preview_samples
        try:
            render.render_camera(built, cid)
            with tempfile.TemporaryDirectory() as tmp:
                render.save_render(Path(tmp) / "preview.png")
                rgb = np.asarray(Image.open(Path(tmp) / "preview.png").convert("RGB"))
        finally:
            c.samples = saved
        shown = overlay(rgb, ids.astype(np.uint16), alpha=0.3)
        img = _tagged_image(PREVIEW_IMAGE, shown.shape[1], shown.shape[0])
        _set_pixels(img, np.dstack([shown / 255.0, np.ones(shown.shape[:2])]))
        for area in (context.screen.areas if context.screen else []):
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = img
        self.report({"INFO"}, f"preview of camera {cid} in image '{PREVIEW_IMAGE}'")
        return {"FINISHED"}


OPERATORS = (SYNTHGEN_OT_build_scene, SYNTHGEN_OT_step_scene, SYNTHGEN_OT_clear_scene, SYNTHGEN_OT_show_labels,
             SYNTHGEN_OT_preview)
