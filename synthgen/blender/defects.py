"""Apply planned defects to parts: one node group per defect, chained into the materials of
the part's regions that it covers (``defect_regions``), and the per-defect switch.

Each defect's group samples its maps at the shading point's decal coordinates (``decal.Decal``:
the part's own coordinates through a fixed part-to-decal matrix, so no UVs, and the decal moves
with a motion-blurred part), gated to its box and to faces turned towards its normal:

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
import numpy as np
from mathutils import Matrix

from synthgen.blender.decal import Decal, enable_property, map_path
from synthgen.blender.defect_regions import cut_regions, to_decal
from synthgen.blender.scene import BuiltScene
from synthgen.blender.shading import TAG
from synthgen.errors import SynthgenError
from synthgen.geometry.decal import decal_half_depth_m, decal_matrix, map_side_mm
from synthgen.plan.defects import MAX_STACKED_DEFECTS
from synthgen.plan.types import DefectPlan

# 16-bit height.png value 0..1 maps linearly to this signed height (units of the defect's depth).
HEIGHT_PNG_RANGE = (-1.0, 1.0)


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
    """Add every planned defect to its part: the part's mesh is cut into regions by the defects'
    decal boxes (``defect_regions``); each defect is one node group, and each region's material
    chains only the groups of the defects that cover it. Records the regions' cover sets in
    ``built.regions``. Returns defect_id -> frame empty."""
    by_part: dict[int, list[DefectPlan]] = defaultdict(list)
    empties: dict[int, bpy.types.Object] = {}
    groups: dict[int, bpy.types.NodeTree] = {}
    plans = {p.instance_id: p for p in built.plan.parts}
    for d in defects:
        if d.variant_dir:
            by_part[d.part_instance_id].append(d)
            empties[d.defect_id] = _defect_empty(d)
            groups[d.defect_id] = _defect_group(d, to_decal(np.array(plans[d.part_instance_id].matrix_world), d))
    for pid, ds in by_part.items():
        obj = built.parts[pid]
        base = obj.material_slots[0].material
        sets = cut_regions(obj, np.array(plans[pid].matrix_world), ds)
        deepest = max(len(ids) for ids in sets)
        if deepest > MAX_STACKED_DEFECTS:  # a hand-made plan; the planner never stacks this deep
            raise SynthgenError(f"part {pid}: {deepest} defects overlap on one spot; at most "
                                f"{MAX_STACKED_DEFECTS} render (Cycles' shader stack)")
        built.regions[pid] = sets
        while len(obj.data.materials) < len(sets):
            obj.data.materials.append(None)
        for d in ds:
            obj[enable_property(d.defect_id)] = 1.0
        for k, ids in enumerate(sets):
            mat = base
            if ids:
                mat = base.copy()
                mat.name = f"{base.name}_r{k}"
                _decorate(mat.node_tree, [groups[i] for i in ids])
            obj.material_slots[k].link = "OBJECT"
            obj.material_slots[k].material = mat
    return empties


SURFACE_NORMAL = "Surface Normal"  # input: the part's final normal, for the encrustation's own BSDF
GROUP_SOCKETS = (("Normal", "NodeSocketVector"), ("Roughness", "NodeSocketFloat"),
                 ("Base Color", "NodeSocketColor"), ("Shader", "NodeSocketShader"))


def _defect_group(d: DefectPlan, part_to_decal: np.ndarray) -> bpy.types.NodeTree:
    """One defect's final shading as a node group: (normal, roughness, base colour, shader) in,
    the same with the defect applied out (neutral outside its gate)."""
    nt = bpy.data.node_groups.new(f"sg_defect_{d.defect_id:03d}", "ShaderNodeTree")
    nt[TAG] = 1
    for io in ("INPUT", "OUTPUT"):
        for name, kind in GROUP_SOCKETS:
            nt.interface.new_socket(name, in_out=io, socket_type=kind)
    nt.interface.new_socket(SURFACE_NORMAL, in_out="INPUT", socket_type="NodeSocketVector")
    gin, gout = nt.nodes.new("NodeGroupInput"), nt.nodes.new("NodeGroupOutput")
    normal, rough, base, shader = (gin.outputs[name] for name, _ in GROUP_SOCKETS)
    dec = Decal(nt, part_to_decal, d.normal, decal_half_depth_m(map_side_mm(d)), d.defect_id, d.through_mm)
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
        nt.links.new(normal, bump.inputs["Normal"])
        normal = bump.outputs["Normal"]
        occ = dec.gated(map_path(vdir, "occlusion"))
        rmap = dec.sample(map_path(vdir, "roughness"), "BW")
        mix = nt.nodes.new("ShaderNodeMix")
        mix.data_type = "FLOAT"
        nt.links.new(occ, mix.inputs["Factor"])
        nt.links.new(rough, mix.inputs["A"])
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
        nt.links.new(base, a_col)
        b_col.default_value = (0.35, 0.35, 0.35, 1.0)
        base = next(s for s in dark.outputs if s.identifier == "Result_Color")
    m = d.material or {}
    if "encrustation" in d.types and m.get("tint"):
        # A tint: the surface's own base colour (its texture) times the gain, its roughness
        # towards the variant's, under the encrustation mask; no covering material.
        enc = dec.gated(map_path(vdir, "encrustation"))
        tint = nt.nodes.new("ShaderNodeMix")
        tint.data_type, tint.blend_type = "RGBA", "MULTIPLY"
        nt.links.new(enc, tint.inputs[0])
        nt.links.new(base, next(s for s in tint.inputs if s.identifier == "A_Color"))
        g = float(m["tint"])
        next(s for s in tint.inputs if s.identifier == "B_Color").default_value = (g, g, g, 1.0)
        base = next(s for s in tint.outputs if s.identifier == "Result_Color")
        rmix = nt.nodes.new("ShaderNodeMix")
        rmix.data_type = "FLOAT"
        nt.links.new(enc, rmix.inputs["Factor"])
        nt.links.new(rough, rmix.inputs["A"])
        rmix.inputs["B"].default_value = float(m.get("roughness", 0.5))
        rough = rmix.outputs["Result"]
    elif "encrustation" in d.types:
        enc = dec.gated(map_path(vdir, "encrustation"))
        eb = nt.nodes.new("ShaderNodeBsdfPrincipled")
        eb.inputs["Base Color"].default_value = (*m.get("base_color", (0.1, 0.08, 0.06)), 1.0)
        eb.inputs["Roughness"].default_value = float(m.get("roughness", 0.8))
        eb.inputs["Metallic"].default_value = float(m.get("metallic", 0.0))
        nt.links.new(gin.outputs[SURFACE_NORMAL], eb.inputs["Normal"])
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
    for (name, _), sock in zip(GROUP_SOCKETS, (normal, rough, base, shader), strict=True):
        nt.links.new(sock, gout.inputs[name])
    return nt


def _decorate(nt: bpy.types.NodeTree, groups: list[bpy.types.NodeTree]) -> None:
    """Chain defect groups (plan order: later defects win overlaps) into a part material."""
    bsdf = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    out = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    if bsdf.inputs["Normal"].is_linked:
        normal = _linked_from(bsdf.inputs["Normal"])
    else:  # an unlinked Normal means the shading normal
        normal = nt.nodes.new("ShaderNodeNewGeometry").outputs["Normal"]
    rough = _linked_from(bsdf.inputs["Roughness"])
    if rough is None:
        v = nt.nodes.new("ShaderNodeValue")
        v.outputs[0].default_value = bsdf.inputs["Roughness"].default_value
        rough = v.outputs[0]
    base = _linked_from(bsdf.inputs["Base Color"])
    if base is None:
        c = nt.nodes.new("ShaderNodeRGB")
        c.outputs[0].default_value = tuple(bsdf.inputs["Base Color"].default_value)
        base = c.outputs[0]
    # Two instances of each group: one on the BSDF's inputs (normal, roughness, colour), one on
    # its output (shader), since one node both before and after the BSDF would be a cycle. The
    # encrustations' BSDFs take the final normal, so that one normal is live, not one per defect
    # (Cycles' shader stack is bounded): a later dent over an encrustation deforms it too.
    for g in groups:
        node = nt.nodes.new("ShaderNodeGroup")
        node.node_tree = g
        for name, sock in (("Normal", normal), ("Roughness", rough), ("Base Color", base)):
            nt.links.new(sock, node.inputs[name])
        normal, rough, base = (node.outputs[name] for name in ("Normal", "Roughness", "Base Color"))
    shader = bsdf.outputs["BSDF"]
    for g in groups:
        node = nt.nodes.new("ShaderNodeGroup")
        node.node_tree = g
        nt.links.new(normal, node.inputs[SURFACE_NORMAL])
        nt.links.new(shader, node.inputs["Shader"])
        shader = node.outputs["Shader"]
    nt.links.new(normal, bsdf.inputs["Normal"])
    nt.links.new(rough, bsdf.inputs["Roughness"])
    nt.links.new(base, bsdf.inputs["Base Color"])
    nt.links.new(shader, out.inputs["Surface"])


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
