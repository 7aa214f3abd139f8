"""Apply planned defects to parts as UV-free decals, and build the defect-ID visibility shading.

Each defect is projected from its frame: a Texture Coordinate node set to an empty at the
defect frame gives the shading point's coordinates in that frame, so the map covers local x, y
in [-1, 1] (the defect's size in metres) with no UVs. A box limit along the normal and a facing
test (shading normal · defect normal) keep the decal off the far side of thin parts.

- deformation: the height map drives a Bump node (depth in metres), the roughness map replaces
  roughness under the occlusion zone, and the occlusion map darkens that zone a little;
- encrustation: a second Principled BSDF with the defect's material is mixed in under its mask;
- hole: a Transparent BSDF is mixed in under the thresholded hole mask, on the defect's own
  surface (the label gate) and, when the plan found a thin wall behind it (``through_mm``), on
  the wall's far side directly behind the footprint, so the render shows what is behind the part
  and light passes through. No other face is cut, so every removed pixel is labelled.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import bpy
from mathutils import Matrix

from synthgen.blender.scene import BuiltScene
from synthgen.blender.shading import TAG
from synthgen.plan.defects import decal_half_depth_m, decal_matrix, map_side_mm
from synthgen.plan.types import DefectPlan

# 16-bit height.png value 0..1 maps linearly to this signed height (units of the defect's depth).
HEIGHT_PNG_RANGE = (-1.0, 1.0)


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


class _Decal:
    """Nodes shared by all maps of one defect: decal coordinates and the projection gate."""

    def __init__(self, nt: bpy.types.NodeTree, empty: bpy.types.Object, normal, half_depth: float,
                 defect_id: int = 0, through_mm: tuple[float, float] | None = None) -> None:
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
        tc = nt.nodes.new("ShaderNodeTexCoord")
        tc.object = empty
        sep = nt.nodes.new("ShaderNodeSeparateXYZ")
        nt.links.new(tc.outputs["Object"], sep.inputs[0])
        # uv = (xy + 1) / 2: the map square spans local x, y in [-1, 1].
        mad = nt.nodes.new("ShaderNodeVectorMath")
        mad.operation = "MULTIPLY_ADD"
        mad.inputs[1].default_value = (0.5, 0.5, 0.0)
        mad.inputs[2].default_value = (0.5, 0.5, 0.0)
        nt.links.new(tc.outputs["Object"], mad.inputs[0])
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


def _defect_empty(d: DefectPlan) -> bpy.types.Object:
    e = bpy.data.objects.new(f"defect_{d.defect_id:03d}_{d.kind}", None)
    e.empty_display_type = "CUBE"
    e.matrix_world = Matrix(decal_matrix(d).tolist())
    e[TAG] = 1
    e["defect_id"] = d.defect_id
    bpy.data.collections["synthgen"].objects.link(e)
    e.hide_render = True
    return e


def _linked_from(socket):
    return socket.links[0].from_socket if socket.is_linked else None


def apply_defects(built: BuiltScene, defects: tuple[DefectPlan, ...]) -> dict[int, bpy.types.Object]:
    """Add every planned defect to its part's material. Returns defect_id -> frame empty."""
    by_part: dict[int, list[DefectPlan]] = defaultdict(list)
    for d in defects:
        by_part[d.part_instance_id].append(d)
    empties: dict[int, bpy.types.Object] = {}
    for pid, ds in by_part.items():
        obj = built.parts[pid]
        mat = obj.material_slots[0].material
        nt = mat.node_tree
        bsdf = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        out = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
        normal = _linked_from(bsdf.inputs["Normal"])
        rough = _linked_from(bsdf.inputs["Roughness"])
        rough_const = bsdf.inputs["Roughness"].default_value
        base_const = tuple(bsdf.inputs["Base Color"].default_value)
        base = _linked_from(bsdf.inputs["Base Color"])
        shader = bsdf.outputs["BSDF"]
        for d in ds:
            if not d.variant_dir:
                continue
            obj[enable_property(d.defect_id)] = 1.0
            empty = _defect_empty(d)
            empties[d.defect_id] = empty
            dec = _Decal(nt, empty, d.normal, decal_half_depth_m(map_side_mm(d)), d.defect_id, d.through_mm)
            vdir = Path(d.variant_dir)
            if "deformation" in d.types:
                h = dec.sample(map_path(vdir, "height"), "BW")
                lo, hi = HEIGHT_PNG_RANGE  # png 0..1 -> physical height lo..hi (units of depth)
                hs = nt.nodes.new("ShaderNodeMath")
                hs.operation = "MULTIPLY_ADD"
                nt.links.new(h, hs.inputs[0])
                hs.inputs[1].default_value = hi - lo
                hs.inputs[2].default_value = lo
                hg = dec._math("MULTIPLY", hs.outputs["Value"], dec.gate)
                bump = nt.nodes.new("ShaderNodeBump")
                bump.inputs["Strength"].default_value = 1.0
                bump.inputs["Distance"].default_value = d.depth_mm / 1000.0
                nt.links.new(hg, bump.inputs["Height"])
                if normal is not None:
                    nt.links.new(normal, bump.inputs["Normal"])
                normal = bump.outputs["Normal"]
                occ = dec.gated(map_path(vdir, "occlusion"))
                rmap = dec.sample(map_path(vdir, "roughness"), "BW")
                mix = nt.nodes.new("ShaderNodeMix")
                mix.data_type = "FLOAT"
                nt.links.new(occ, mix.inputs["Factor"])
                if rough is not None:
                    nt.links.new(rough, mix.inputs["A"])
                else:
                    mix.inputs["A"].default_value = rough_const
                nt.links.new(rmap, mix.inputs["B"])
                rough = mix.outputs["Result"]
                # Ambient occlusion of the deformed zone: darken the base colour up to 35 %.
                dark = nt.nodes.new("ShaderNodeMix")
                dark.data_type = "RGBA"
                dark.blend_type = "MULTIPLY"
                fac = dec._math("MULTIPLY", occ, 0.35)
                nt.links.new(fac, dark.inputs[0])
                a_col = next(s for s in dark.inputs if s.identifier == "A_Color")
                b_col = next(s for s in dark.inputs if s.identifier == "B_Color")
                if base is not None:
                    nt.links.new(base, a_col)
                else:
                    a_col.default_value = base_const
                b_col.default_value = (0.35, 0.35, 0.35, 1.0)
                base = next(s for s in dark.outputs if s.identifier == "Result_Color")
            if "encrustation" in d.types:
                enc = dec.gated(map_path(vdir, "encrustation"))
                eb = nt.nodes.new("ShaderNodeBsdfPrincipled")
                m = d.material or {}
                eb.inputs["Base Color"].default_value = (*m.get("base_color", (0.1, 0.08, 0.06)), 1.0)
                eb.inputs["Roughness"].default_value = float(m.get("roughness", 0.8))
                eb.inputs["Metallic"].default_value = float(m.get("metallic", 0.0))
                if normal is not None:
                    nt.links.new(normal, eb.inputs["Normal"])
                ms = nt.nodes.new("ShaderNodeMixShader")
                nt.links.new(enc, ms.inputs["Fac"])
                nt.links.new(shader, ms.inputs[1])
                nt.links.new(eb.outputs["BSDF"], ms.inputs[2])
                shader = ms.outputs["Shader"]
            if "hole" in d.types:
                cut = dec.hole_cut(map_path(vdir, "hole"))
                tr = nt.nodes.new("ShaderNodeBsdfTransparent")
                ms = nt.nodes.new("ShaderNodeMixShader")
                nt.links.new(cut, ms.inputs["Fac"])
                nt.links.new(shader, ms.inputs[1])
                nt.links.new(tr.outputs["BSDF"], ms.inputs[2])
                shader = ms.outputs["Shader"]
        if normal is not None:
            nt.links.new(normal, bsdf.inputs["Normal"])
        if rough is not None:
            nt.links.new(rough, bsdf.inputs["Roughness"])
        if base is not None:
            nt.links.new(base, bsdf.inputs["Base Color"])
        nt.links.new(shader, out.inputs["Surface"])
    return empties


def enable_property(defect_id: int) -> str:
    """Name of the part object's custom property that switches defect ``defect_id`` on (1) or off (0)."""
    return f"sg_enable_{defect_id}"


def set_enabled(built: BuiltScene, enabled_ids: set[int]) -> None:
    """Show only the defects in ``enabled_ids`` in the final shading (others look pristine)."""
    for pid, obj in built.parts.items():
        changed = False
        for d in built.plan.defects:
            if d.part_instance_id != pid:
                continue
            v = 1.0 if d.defect_id in enabled_ids else 0.0
            if obj.get(enable_property(d.defect_id)) != v:
                obj[enable_property(d.defect_id)] = v
                changed = True
        if changed:
            obj.update_tag()
