"""Tweak and save: the config's numeric fields, generated from its pydantic schema
(``synthgen.config.edit.editable_fields``), editable in the panel. An edit rebuilds the scene;
Save config writes YAML (comments kept) that validates and reloads to the same values."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatVectorProperty, IntProperty, IntVectorProperty, StringProperty

from .edited import edits

LOADING = {"on": False}  # no rebuild while the list is being filled


def _edited(self, context):
    if LOADING["on"] or not context.scene.synthgen.rebuild_on_edit:
        return
    from .operators import build_current

    try:
        build_current(context)
    except Exception as exc:  # noqa: BLE001 - shown in the panel, never raised into Blender's UI
        context.scene.synthgen.edit_error = " | ".join(str(exc).splitlines())
    else:
        context.scene.synthgen.edit_error = ""


class SYNTHGEN_FieldItem(bpy.types.PropertyGroup):
    path: StringProperty()
    section: StringProperty()
    description: StringProperty()
    n: IntProperty(min=1, max=3)
    is_int: BoolProperty()
    fvalue: FloatVectorProperty(size=3, update=_edited)
    ivalue: IntVectorProperty(size=3, update=_edited)
    original: FloatVectorProperty(size=3)


class SYNTHGEN_OT_load_fields(bpy.types.Operator):
    """List the config's camera, light, material and defect fields for editing (from its schema)"""

    bl_idname = "synthgen.load_fields"
    bl_label = "Edit config fields"

    def execute(self, context):
        from synthgen.config.edit import editable_fields
        from synthgen.config.job import load_job_config
        from synthgen.errors import SynthgenError

        s = context.scene.synthgen
        try:
            cfg = load_job_config(bpy.path.abspath(s.config_path))
        except SynthgenError as exc:
            self.report({"ERROR"}, "\n".join(str(exc).splitlines()))
            return {"CANCELLED"}
        LOADING["on"] = True
        try:
            s.fields.clear()
            for f in editable_fields(cfg):
                it = s.fields.add()
                it.path, it.section, it.description = f.path, f.path.split(".")[0].split("[")[0], f.description
                it.n, it.is_int = len(f.value), f.is_int
                padded = (*f.value, *([0] * (3 - len(f.value))))
                it.original = padded
                if f.is_int:
                    it.ivalue = tuple(int(x) for x in padded)
                else:
                    it.fvalue = padded
        finally:
            LOADING["on"] = False
        self.report({"INFO"}, f"{len(s.fields)} fields")
        return {"FINISHED"}


class SYNTHGEN_OT_save_config(bpy.types.Operator):
    """Write the edited fields into the config's YAML (or 'Save as'), keeping its comments"""

    bl_idname = "synthgen.save_config"
    bl_label = "Save config"

    def execute(self, context):
        from synthgen.config.edit import save_config
        from synthgen.errors import SynthgenError

        s = context.scene.synthgen
        src = bpy.path.abspath(s.config_path)
        dst = bpy.path.abspath(s.save_path) if s.save_path else src
        try:
            save_config(src, dst, edits(s))
        except SynthgenError as exc:
            self.report({"ERROR"}, "\n".join(str(exc).splitlines()))
            return {"CANCELLED"}
        s.config_path = dst
        bpy.ops.synthgen.load_fields()
        self.report({"INFO"}, f"saved {dst}")
        return {"FINISHED"}


def draw_fields(layout, s) -> None:
    box = layout.box()
    row = box.row(align=True)
    row.operator(SYNTHGEN_OT_load_fields.bl_idname, icon="PREFERENCES")
    row.prop(s, "rebuild_on_edit", text="", icon="FILE_REFRESH")
    if not len(s.fields):
        return
    box.prop(s, "field_section", expand=True)
    for it in s.fields:
        if it.section != s.field_section:
            continue
        row = box.row(align=True)
        row.label(text=it.path.split(".", 1)[-1] if "." in it.path else it.path)
        for k in range(it.n):
            row.prop(it, "ivalue" if it.is_int else "fvalue", index=k, text="")
    if s.edit_error:
        box.label(text=s.edit_error, icon="ERROR")
    box.prop(s, "save_path")
    box.operator(SYNTHGEN_OT_save_config.bl_idname, icon="FILE_TICK")


TWEAK_CLASSES = (SYNTHGEN_FieldItem, SYNTHGEN_OT_load_fields, SYNTHGEN_OT_save_config)
