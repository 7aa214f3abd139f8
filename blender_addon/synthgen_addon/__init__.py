"""synthgen Blender add-on: plan a scene from a config + seed + scene index and build it in the
open Blender session with the SAME code the CLI uses (``synthgen.plan.library.plan_scene`` and
the one scene-building entry point ``synthgen.blender.build.build``), defects included.

The synthgen package must be importable from Blender's Python: install it there without the
``render`` extra (Blender already is bpy), or set the add-on preference "synthgen source folder"
to a checkout.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty

from .background import SYNTHGEN_OT_render_scenes
from .operators import OPERATORS, SYNTHGEN_OT_build_scene, SYNTHGEN_OT_clear_scene, set_active_camera
from .tweak import TWEAK_CLASSES, SYNTHGEN_FieldItem, draw_fields


class SYNTHGEN_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    source_dir: StringProperty(name="synthgen source folder", subtype="DIR_PATH",
                               description="folder holding the synthgen package, if not installed")

    def draw(self, context):
        self.layout.prop(self, "source_dir")


def _camera_changed(self, context):
    set_active_camera(context)


class SYNTHGEN_Settings(bpy.types.PropertyGroup):
    config_path: StringProperty(name="Config", subtype="FILE_PATH", description="synthgen render config (YAML)")
    scene_index: IntProperty(name="Scene", min=0, default=0, description="scene index to plan")
    use_seed: BoolProperty(name="Override seed", default=False)
    seed: IntProperty(name="Seed", min=0, default=0)
    camera_id: IntProperty(name="Camera", min=0, default=0, update=_camera_changed,
                           description="camera of the arc to look through (active at once)")
    preview_samples: IntProperty(name="Preview samples", min=1, max=4096, default=8,
                                 description="Cycles samples of the preview render")
    render_count: IntProperty(name="Scenes", min=1, default=3, description="scenes to render in the background")
    render_out: StringProperty(name="Output", subtype="DIR_PATH",
                               description="dataset folder of the background render (default: out/addon_render "
                                           "beside the config)")
    render_status: StringProperty(name="Status", default="")
    fields: CollectionProperty(type=SYNTHGEN_FieldItem)
    field_section: EnumProperty(name="Section", items=[(k, k.capitalize(), f"{k} fields") for k in
                                                       ("cameras", "lights", "materials", "defects")])
    rebuild_on_edit: BoolProperty(name="Rebuild on edit", default=True,
                                  description="rebuild the scene whenever a field changes")
    edit_error: StringProperty(default="")
    save_path: StringProperty(name="Save as", subtype="FILE_PATH",
                              description="write the edited config here (empty: over the config itself)")


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
        row = col.row(align=True)
        row.operator("synthgen.step_scene", text="", icon="TRIA_LEFT").step = -1
        row.prop(s, "scene_index")
        row.operator("synthgen.step_scene", text="", icon="TRIA_RIGHT").step = 1
        row = col.row()
        row.prop(s, "use_seed")
        sub = row.row()
        sub.enabled = s.use_seed
        sub.prop(s, "seed")
        col.operator(SYNTHGEN_OT_build_scene.bl_idname, icon="SCENE_DATA")
        col.prop(s, "camera_id")
        row = col.row(align=True)
        row.operator("synthgen.show_labels", icon="OVERLAY")
        row.operator("synthgen.preview", icon="RENDER_STILL")
        col.prop(s, "preview_samples")
        col.operator(SYNTHGEN_OT_clear_scene.bl_idname, icon="TRASH")
        draw_fields(col, s)
        box = col.box()
        box.prop(s, "render_out")
        row = box.row(align=True)
        row.prop(s, "render_count")
        row.operator(SYNTHGEN_OT_render_scenes.bl_idname, icon="RENDER_ANIMATION").count = s.render_count
        if s.render_status:
            box.label(text=s.render_status)


CLASSES = (SYNTHGEN_AddonPreferences, *TWEAK_CLASSES, SYNTHGEN_Settings, *OPERATORS, SYNTHGEN_OT_render_scenes,
           SYNTHGEN_PT_main)


def register():
    for c in CLASSES:
        bpy.utils.register_class(c)
    bpy.types.Scene.synthgen = bpy.props.PointerProperty(type=SYNTHGEN_Settings)


def unregister():
    del bpy.types.Scene.synthgen
    for c in reversed(CLASSES):
        bpy.utils.unregister_class(c)
