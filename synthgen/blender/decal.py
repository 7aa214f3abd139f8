"""UV-free decal projection nodes: a defect's maps sampled in its own frame, and its gates.

The shading point's coordinates in the part's own space, mapped by the fixed part-to-decal
matrix, give its coordinates in the defect frame, so the map covers local x, y in [-1, 1] (the defect's size in metres)
with no UVs. A box limit along the normal and a facing test (shading normal . defect normal) keep
the decal off the far side of thin parts; a through hole also opens the wall's far side behind
its footprint (``through_mm``) and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from synthgen.blender.shading import TAG


def enable_property(defect_id: int) -> str:
    """Name of the part object's custom property that switches defect ``defect_id`` on (1) or off (0)."""
    return f"sg_enable_{defect_id}"


def map_path(variant_dir: Path, name: str) -> Path:
    """``<variant>/<name>.png`` of the library layout (docs/defects.md)."""
    return Path(variant_dir) / f"{name}.png"


FACING_MIN = 0.2  # cos of the largest angle between shading normal and defect normal that is painted
THROUGH_TOL_MM = 0.3  # slack around the far side's depth range when a hole opens it


def _image(path: Path) -> bpy.types.Image:
    """Load a map once per session (non-colour data), tagged so clear_scene removes it."""
    key = f"sg_{path.parent.parent.name}_{path.parent.name}_{path.stem}"
    img = bpy.data.images.get(key)
    if img is None or img.filepath != str(path):
        img = bpy.data.images.load(str(path), check_existing=False)
        img.name = key
        img.colorspace_settings.name = "Non-Color"
        img[TAG] = 1
    return img


class Decal:
    """Nodes shared by all maps of one defect: decal coordinates and the projection gate."""

    def __init__(self, nt: bpy.types.NodeTree, to_decal: np.ndarray, normal, half_depth: float,
                 defect_id: int = 0, through_mm: tuple[float, float] | None = None) -> None:
        """``to_decal``: 4x4 map from the part's own coordinates to the decal frame (the part's,
        not world, coordinates, so the decal moves with a motion-blurred part)."""
        self.nt = nt
        # Per-defect switch: set_enabled() turns a defect off for cameras where it is not kept.
        # It reads a custom property of the part object, so switching needs no shader recompile
        # (a Value node would recompile the material at every switch). defect_id 0: always on.
        if defect_id:
            self.enable = nt.nodes.new("ShaderNodeAttribute")
            self.enable.attribute_type = "OBJECT"
            self.enable.attribute_name = enable_property(defect_id)
            self.enable.name = enable_property(defect_id)
            on = self.enable.outputs["Fac"]
        else:
            self.enable = nt.nodes.new("ShaderNodeValue")
            self.enable.outputs[0].default_value = 1.0
            on = self.enable.outputs[0]
        tc = nt.nodes.new("ShaderNodeTexCoord")  # Object output, no object: the shaded part's own space
        xyz = nt.nodes.new("ShaderNodeCombineXYZ")
        for axis, name in enumerate("XYZ"):
            row = nt.nodes.new("ShaderNodeVectorMath")
            row.operation = "DOT_PRODUCT"
            row.inputs[1].default_value = tuple(float(v) for v in to_decal[axis, :3])
            nt.links.new(tc.outputs["Object"], row.inputs[0])
            nt.links.new(row.outputs["Value"], xyz.inputs[name])
        shift = nt.nodes.new("ShaderNodeVectorMath")
        shift.operation = "ADD"
        shift.inputs[1].default_value = tuple(float(v) for v in to_decal[:3, 3])
        nt.links.new(xyz.outputs["Vector"], shift.inputs[0])
        coords = shift.outputs["Vector"]
        sep = nt.nodes.new("ShaderNodeSeparateXYZ")
        nt.links.new(coords, sep.inputs[0])
        # uv = (xy + 1) / 2: the map square spans local x, y in [-1, 1].
        mad = nt.nodes.new("ShaderNodeVectorMath")
        mad.operation = "MULTIPLY_ADD"
        mad.inputs[1].default_value = (0.5, 0.5, 0.0)
        mad.inputs[2].default_value = (0.5, 0.5, 0.0)
        nt.links.new(coords, mad.inputs[0])
        self.uv = mad.outputs["Vector"]
        # gate = (|z| < 1) * (N . n_defect > FACING_MIN)
        absz = self._math("ABSOLUTE", sep.outputs["Z"])
        inbox = self._math("LESS_THAN", absz, 1.0)
        # Inside the map's square (outside it the maps say nothing, not "height 0 = -1").
        inx = self._math("LESS_THAN", self._math("ABSOLUTE", sep.outputs["X"]), 1.0)
        iny = self._math("LESS_THAN", self._math("ABSOLUTE", sep.outputs["Y"]), 1.0)
        insq = self._math("MULTIPLY", inx, iny)
        inbox = self._math("MULTIPLY", inbox, insq)
        inbox = self._math("MULTIPLY", inbox, on)
        insq = self._math("MULTIPLY", insq, on)
        geo = nt.nodes.new("ShaderNodeNewGeometry")
        dot = nt.nodes.new("ShaderNodeVectorMath")
        dot.operation = "DOT_PRODUCT"
        dot.inputs[1].default_value = tuple(normal)
        nt.links.new(geo.outputs["Normal"], dot.inputs[0])
        # Cycles flips the shading normal towards the ray on back-facing hits (a shadow ray leaving
        # through a hole from inside, a view into an open shell): unflip it so that the gates
        # follow the surface's true side, whichever way a ray meets it.
        flip = self._math("SUBTRACT", 1.0, self._math("MULTIPLY", geo.outputs["Backfacing"], 2.0))
        side = self._math("MULTIPLY", dot.outputs["Value"], flip)
        facing = self._math("GREATER_THAN", side, FACING_MIN)
        self.gate = self._math("MULTIPLY", inbox, facing)
        # A through hole also opens the wall's far side, and nothing else: faces that look away
        # from the defect, at the planned depth of the far side behind the footprint.
        self.back_gate = None
        if through_mm is not None:
            lo = -(through_mm[1] + THROUGH_TOL_MM) / 1000.0 / half_depth
            hi = -max(0.0, through_mm[0] - THROUGH_TOL_MM) / 1000.0 / half_depth
            z = sep.outputs["Z"]
            band = self._math("MULTIPLY", self._math("GREATER_THAN", z, lo), self._math("LESS_THAN", z, hi))
            away = self._math("LESS_THAN", side, -FACING_MIN)
            self.back_gate = self._math("MULTIPLY", self._math("MULTIPLY", insq, band), away)

    def _math(self, op: str, a, b=None):
        m = self.nt.nodes.new("ShaderNodeMath")
        m.operation = op
        for i, v in enumerate((a, b)):
            if v is None:
                continue
            if isinstance(v, (int, float)):
                m.inputs[i].default_value = float(v)
            else:
                self.nt.links.new(v, m.inputs[i])
        return m.outputs["Value"]

    def sample(self, path: Path, channel: str = "Color", cubic: bool = True):
        """Socket of the map at the decal coordinates (callers gate it to the map square)."""
        tex = self.nt.nodes.new("ShaderNodeTexImage")
        tex.image = _image(path)
        tex.extension = "EXTEND"  # maps are neutral at their border (zero margin); cubic filtering stays clean
        tex.interpolation = "Cubic" if cubic else "Linear"
        self.nt.links.new(self.uv, tex.inputs["Vector"])
        if channel == "Color":
            return tex.outputs["Color"]
        bw = self.nt.nodes.new("ShaderNodeRGBToBW")
        self.nt.links.new(tex.outputs["Color"], bw.inputs[0])
        return bw.outputs[0]

    def hole_cut(self, path: Path, cubic: bool = True):
        """1 where the hole removes material: the footprint on the defect's own surface (the
        label gate) and, for a through hole, the wall's far side directly behind it."""
        h = self._math("GREATER_THAN", self.sample(path, "BW", cubic=cubic), 0.5)
        gate = self.gate if self.back_gate is None else self._math("MAXIMUM", self.gate, self.back_gate)
        return self._math("MULTIPLY", h, gate)

    def back_opening(self, path: Path):
        """1 on the far-side opening of a through hole (bilinear sampling, for labels), else None."""
        if self.back_gate is None:
            return None
        h = self._math("GREATER_THAN", self.sample(path, "BW", cubic=False), 0.5)
        return self._math("MULTIPLY", h, self.back_gate)

    def gated(self, path: Path):
        """Scalar map value multiplied by the projection gate."""
        return self._math("MULTIPLY", self.sample(path, "BW"), self.gate)
