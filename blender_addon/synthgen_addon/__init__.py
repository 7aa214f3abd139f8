"""synthgen Blender add-on: plan a scene from a config + seed + scene index and build it in the
open Blender session with the SAME code the CLI uses (synthgen.plan + synthgen.blender).

The synthgen package must be importable from Blender's Python: install it there
(``<blender python> -m pip install synthgen`` or the repo with ``-e``) or set the add-on
preference "synthgen source folder" to a checkout.
"""

from __future__ import annotations

import sys

import bpy
from bpy.props import IntProperty, StringProperty


def _import_synthgen(context):
    prefs = context.preferences.addons[__package__].preferences if __package__ in \
        context.preferences.addons else None
    src = getattr(prefs, "source_dir", "") if prefs else ""
    if src and src not in sys.path:
        sys.path.insert(0, bpy.path.abspath(src))
    try:
        from synthgen.blender import build  # noqa: F401
        from synthgen.config import load_job_config  # noqa: F401
        from synthgen.plan import make_plan  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"synthgen is not importable from Blender's Python ({exc}); install it or set "
                           "the add-on's source folder") from None
    import synthgen

    return synthgen


class SYNTHGEN_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    source_dir: StringProperty(name="synthgen source folder", subtype="DIR_PATH",
                               description="folder holding the synthgen package, if not installed")

    def draw(self, context):
        self.layout.prop(self, "source_dir")


class SYNTHGEN_OT_build_scene(bpy.types.Operator):
    """Plan the scene (config, seed, index) and build it here, replacing the previous synthgen scene"""

    bl_idname = "synthgen.build_scene"
    bl_label = "Build scene"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.synthgen
        try:
            _import_synthgen(context)
            from synthgen.blender.build import build, clear
            from synthgen.config import load_job_config
            from synthgen.errors import SynthgenError
            from synthgen.plan.library import plan_scene

            cfg = load_job_config(bpy.path.abspath(s.config_path))
            plan = plan_scene(cfg, s.scene_index, seed=s.seed if s.use_seed else None)
        except (RuntimeError, SynthgenError) as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        clear()
        built = build(plan)  # the CLI's own entry point: defects and render settings included
        cam = built.cameras.get(min(max(0, s.camera_id), len(built.cameras) - 1))
        if cam is not None:
            context.scene.camera = cam
        self.report({"INFO"}, f"built scene {plan.scene_index}: {len(plan.parts)} parts, "
                              f"{len(plan.cameras)} cameras, {len(plan.lights)} lights, {len(plan.defects)} defects")
        return {"FINISHED"}


class SYNTHGEN_OT_clear_scene(bpy.types.Operator):
    """Remove everything synthgen built (your own objects are untouched)"""

    bl_idname = "synthgen.clear_scene"
    bl_label = "Clear synthgen objects"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            _import_synthgen(context)
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        from synthgen.blender.build import clear

        clear()
        return {"FINISHED"}


class SYNTHGEN_Settings(bpy.types.PropertyGroup):
    config_path: StringProperty(name="Config", subtype="FILE_PATH", description="synthgen render config (YAML)")
    scene_index: IntProperty(name="Scene", min=0, default=0, description="scene index to plan")
    use_seed: bpy.props.BoolProperty(name="Override seed", default=False)
    seed: IntProperty(name="Seed", min=0, default=0)
    camera_id: IntProperty(name="Camera", min=0, default=0, description="camera of the arc to look through")


class SYNTHGEN_PT_main(bpy.types.Panel):
    bl_label = "synthgen"
    bl_idname = "SYNTHGEN_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "synthgen"

    def draw(self, context):
        s = context.scene.synthgen
        col = self.layout.column()
        col.prop(s, "config_path")
        col.prop(s, "scene_index")
        row = col.row()
        row.prop(s, "use_seed")
        sub = row.row()
        sub.enabled = s.use_seed
        sub.prop(s, "seed")
        col.prop(s, "camera_id")
        col.operator(SYNTHGEN_OT_build_scene.bl_idname, icon="SCENE_DATA")
        col.operator(SYNTHGEN_OT_clear_scene.bl_idname, icon="TRASH")


CLASSES = (SYNTHGEN_AddonPreferences, SYNTHGEN_Settings, SYNTHGEN_OT_build_scene, SYNTHGEN_OT_clear_scene,
           SYNTHGEN_PT_main)


def register():
    for c in CLASSES:
        bpy.utils.register_class(c)
    bpy.types.Scene.synthgen = bpy.props.PointerProperty(type=SYNTHGEN_Settings)


def unregister():
    del bpy.types.Scene.synthgen
    for c in reversed(CLASSES):
        bpy.utils.unregister_class(c)
