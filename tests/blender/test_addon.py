"""The Blender add-on builds the same scene as the CLI plan, through the panel's operator."""

from __future__ import annotations

import sys

import pytest

from synthgen.config import load_job_config
from synthgen.plan import make_plan

from conftest import REPO, requires_bpy

pytestmark = [requires_bpy, pytest.mark.blender]


def test_addon_operator_builds_the_planned_scene():
    import bpy

    from synthgen.blender import scene

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon

    scene.init_session()
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path = str(REPO / "configs" / "quickstart.yaml")
        s.scene_index = 1
        assert bpy.ops.synthgen.build_scene() == {"FINISHED"}
        plan = make_plan(load_job_config(REPO / "configs" / "quickstart.yaml"), 1, cache_dir=None)
        parts = sorted(o.name for o in bpy.data.objects if o.name.startswith("part_"))
        assert parts == sorted(f"part_{p.instance_id:02d}_{p.name}" for p in plan.parts)
        cams = [o for o in bpy.data.objects if o.type == "CAMERA"]
        assert len(cams) == len(plan.cameras) and bpy.context.scene.camera in cams
        user = bpy.data.objects.new("artist_empty", None)  # the artist's own object survives a clear
        bpy.context.scene.collection.objects.link(user)
        assert bpy.ops.synthgen.clear_scene() == {"FINISHED"}
        assert [o.name for o in bpy.data.objects] == ["artist_empty"]
        s.config_path = str(REPO / "nope.yaml")
        with pytest.raises(RuntimeError, match="nope.yaml: file not found"):
            bpy.ops.synthgen.build_scene()
    finally:
        synthgen_addon.unregister()
