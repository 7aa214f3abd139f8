"""Motion blur of parts carried along the belt: keyframes over one frame of shutter, and the
instants at which the defect-ID pass looks.

The plan's ``render.motion_blur`` is (belt speed m/s, exposure s, ID instants). Each part is
keyed at ``FRAME - 1`` and ``FRAME + 1``, linearly, so that it sits at its planned pose at
``FRAME`` and moves ``speed * exposure`` along the belt (+x) over a shutter of one frame centred
on ``FRAME``. Decals live in the part's own coordinates (``decal.Decal``), so they move with it.
"""

from __future__ import annotations

import bpy
from mathutils import Vector

from synthgen.blender.scene import BuiltScene
from synthgen.blender.shading import TAG

FRAME = 1


def apply_motion_blur(built: BuiltScene) -> None:
    """Turn Cycles motion blur on and key the parts' motion when the plan has it, else off."""
    scene = bpy.context.scene
    mb = built.plan.render.motion_blur
    scene.render.use_motion_blur = mb is not None
    scene.frame_set(FRAME)
    if mb is None:
        return
    speed, exposure, _steps = mb
    scene.render.motion_blur_shutter = 1.0
    scene.render.motion_blur_position = "CENTER"
    for obj in built.parts.values():
        here = obj.location.copy()
        for frame, side in ((FRAME - 1, -1.0), (FRAME + 1, 1.0)):
            obj.location = here + Vector((side * speed * exposure, 0.0, 0.0))
            obj.keyframe_insert("location", frame=frame)
        obj.location = here
        action = obj.animation_data.action
        action[TAG] = 1
        for fc in action.fcurves:  # constant speed over the shutter
            for key in fc.keyframe_points:
                key.interpolation = "LINEAR"
    scene.frame_set(FRAME)


def id_offsets(built: BuiltScene) -> list[float]:
    """Offsets (m, along +x) of the parts from their planned poses at which the ID pass looks:
    none without motion blur, else ``steps`` instants evenly across the exposure."""
    mb = built.plan.render.motion_blur
    if mb is None:
        return [0.0]
    speed, exposure, steps = mb
    return [speed * exposure * ((k + 0.5) / int(steps) - 0.5) for k in range(int(steps))]


class Paused:
    """The parts' motion keys set aside, so the ID pass can place the parts by hand (a render
    evaluates keyed values at whole frames only)."""

    def __init__(self, built: BuiltScene) -> None:
        self.parts = list(built.parts.values())
        self.saved: list = []

    def __enter__(self):
        for obj in self.parts:
            ad = obj.animation_data
            slot = getattr(ad, "action_slot", None) if ad else None
            self.saved.append((obj, ad.action if ad else None, slot, obj.location.copy()))
            if ad is not None and ad.action is not None:
                ad.action = None
        return self

    def place(self, dx: float) -> None:
        for obj, _a, _s, here in self.saved:
            obj.location = here + Vector((dx, 0.0, 0.0))

    def __exit__(self, *exc):
        for obj, action, slot, here in self.saved:
            obj.location = here
            if action is not None:
                obj.animation_data.action = action
                if slot is not None:
                    obj.animation_data.action_slot = slot
        bpy.context.scene.frame_set(FRAME)
        return False
