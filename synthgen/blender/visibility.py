"""The defect-ID pass: one cheap render per camera that gives the visible pixels of ALL defects.

Every part is shaded with an emission whose red channel is the id of the defect whose label
mask covers the shading point and whose green channel is the id of the defect whose footprint
(any of its maps departing from neutral) covers it (0 elsewhere). The belt and obstacles emit
0 but stay opaque, and the world is black. So occlusion by the part itself and by other parts counts. The pass uses
1 sample at the pixel centre, no bounces, no denoising and no depth of field. It is written as
float EXR, so ids come back exactly, from the same camera and resolution as the final image.
Hole regions are opaque in this pass, so a hole is labelled although the final render removes
its material; the far-side opening of a through hole is labelled for the cameras that see it.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np

from synthgen.annotate.motion import majority, union
from synthgen.blender import motion
from synthgen.blender.decal import Decal, map_path
from synthgen.blender.defect_regions import to_decal
from synthgen.blender.scene import BuiltScene
from synthgen.blender.shading import TAG
from synthgen.geometry.decal import decal_half_depth_m, map_side_mm
from synthgen.plan.types import DefectPlan
from synthgen.quiet import quiet_stdout


def self_gated_linear(dec: Decal, path: Path):
    """Label mask with bilinear (not cubic) sampling, so thresholding at 0.5 has no ringing."""
    return dec._math("MULTIPLY", dec.sample(path, "BW", cubic=False), dec.gate)


# A map counts towards a defect's footprint where it departs from "no defect" by more than this.
FOOTPRINT_EPS = {"height": 0.02, "occlusion": 0.05, "encrustation": 0.05}


def _footprint(dec: Decal, d: DefectPlan, on):
    """1 wherever any of the defect's maps changes the surface (its label mask included): the
    region its final shading can alter, of which the contrast check keeps what does change."""
    vdir = Path(d.variant_dir)
    parts = [on]
    if "deformation" in d.types:
        h = dec._math("ABSOLUTE", dec._math("SUBTRACT", dec.sample(map_path(vdir, "height"), "BW", cubic=False), 0.5))
        parts.append(dec._math("GREATER_THAN", h, FOOTPRINT_EPS["height"] / 2))
        parts.append(dec._math("GREATER_THAN", dec.sample(map_path(vdir, "occlusion"), "BW", cubic=False),
                               FOOTPRINT_EPS["occlusion"]))
    if "encrustation" in d.types:
        parts.append(dec._math("GREATER_THAN", dec.sample(map_path(vdir, "encrustation"), "BW", cubic=False),
                               FOOTPRINT_EPS["encrustation"]))
    foot = parts[0]
    for p in parts[1:]:
        foot = dec._math("MAXIMUM", foot, dec._math("MULTIPLY", p, dec.gate))
    return foot


def _winner(nt, value, on, defect_id: int):
    """``defect_id`` where ``on``, else the running ``value`` (later defects win overlaps)."""
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type = "FLOAT"
    nt.links.new(on, mix.inputs["Factor"])
    if value is None:
        mix.inputs["A"].default_value = 0.0
    else:
        nt.links.new(value, mix.inputs["A"])
    mix.inputs["B"].default_value = float(defect_id)
    return mix.outputs["Result"]


def _id_group(d: DefectPlan, part_to_decal: np.ndarray) -> bpy.types.NodeTree:
    """One defect's ID shading as a node group: outputs Label (1 where its label mask covers the
    point, the far-side opening of a through hole included) and Footprint (1 where any of its
    maps changes the surface)."""
    nt = bpy.data.node_groups.new(f"sg_id_defect_{d.defect_id:03d}", "ShaderNodeTree")
    nt[TAG] = 1
    for name in ("Label", "Footprint"):
        nt.interface.new_socket(name, in_out="OUTPUT", socket_type="NodeSocketFloat")
    gout = nt.nodes.new("NodeGroupOutput")
    dec = Decal(nt, part_to_decal, d.normal, decal_half_depth_m(map_side_mm(d)), through_mm=d.through_mm)
    lab = self_gated_linear(dec, map_path(Path(d.variant_dir), "mask"))
    on = dec._math("GREATER_THAN", lab, 0.5)
    if "hole" in d.types:  # the far-side opening of a through hole is part of its label
        back = dec.back_opening(map_path(Path(d.variant_dir), "hole"))
        if back is not None:
            on = dec._math("MAXIMUM", on, back)
    nt.links.new(on, gout.inputs["Label"])
    nt.links.new(_footprint(dec, d, on), gout.inputs["Footprint"])
    return nt


def _id_material(name: str, groups: list[tuple[int, bpy.types.NodeTree]], part_id: int,
                 max_incidence_deg: float = 90.0) -> bpy.types.Material:
    """Emission red = id of the defect whose label mask covers the point, green = id of the
    defect whose footprint (any map departing from neutral) covers it (0 = none), among the
    region's defects ``groups`` ((defect id, ID group) in plan order; later defects win), blue =
    the part instance id where the surface faces the camera within ``max_incidence_deg`` (else 0;
    the stage stays black)."""
    mat = bpy.data.materials.new(name)
    mat[TAG] = 1
    mat.use_nodes = True
    nt = mat.node_tree
    for n in list(nt.nodes):
        nt.nodes.remove(n)
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    out.target = "CYCLES"
    em = nt.nodes.new("ShaderNodeEmission")
    em.inputs["Strength"].default_value = 1.0
    rgb = nt.nodes.new("ShaderNodeCombineColor")
    value = foot_value = None
    for defect_id, g in groups:
        node = nt.nodes.new("ShaderNodeGroup")
        node.node_tree = g
        value = _winner(nt, value, node.outputs["Label"], defect_id)
        foot_value = _winner(nt, foot_value, node.outputs["Footprint"], defect_id)
    for socket, v in (("Red", value), ("Green", foot_value)):
        if v is None:
            rgb.inputs[socket].default_value = 0.0
        else:
            nt.links.new(v, rgb.inputs[socket])
    geo = nt.nodes.new("ShaderNodeNewGeometry")
    dot = nt.nodes.new("ShaderNodeVectorMath")
    dot.operation = "DOT_PRODUCT"
    nt.links.new(geo.outputs["Normal"], dot.inputs[0])
    nt.links.new(geo.outputs["Incoming"], dot.inputs[1])
    facing = nt.nodes.new("ShaderNodeMath")
    facing.operation = "GREATER_THAN"
    nt.links.new(dot.outputs["Value"], facing.inputs[0])
    facing.inputs[1].default_value = math.cos(math.radians(max_incidence_deg))
    blue = nt.nodes.new("ShaderNodeMath")
    blue.operation = "MULTIPLY"
    nt.links.new(facing.outputs["Value"], blue.inputs[0])
    blue.inputs[1].default_value = float(part_id)
    nt.links.new(blue.outputs["Value"], rgb.inputs["Blue"])
    nt.links.new(rgb.outputs["Color"], em.inputs["Color"])
    nt.links.new(em.outputs["Emission"], out.inputs["Surface"])
    return mat


def _black() -> bpy.types.Material:
    mat = bpy.data.materials.get("sg_id_black")
    if mat is None:
        mat = bpy.data.materials.new("sg_id_black")
        mat[TAG] = 1
        mat.use_nodes = True
        nt = mat.node_tree
        for n in list(nt.nodes):
            nt.nodes.remove(n)
        out = nt.nodes.new("ShaderNodeOutputMaterial")
        em = nt.nodes.new("ShaderNodeEmission")
        em.inputs["Strength"].default_value = 0.0
        nt.links.new(em.outputs["Emission"], out.inputs["Surface"])
    return mat


class DefectIdPass:
    """Swap in ID shading for the scene, render cameras, and swap the final shading back."""

    def __init__(self, built: BuiltScene, defects: tuple[DefectPlan, ...], empties: dict[int, bpy.types.Object],
                 part_max_incidence_deg: float = 90.0):
        self.built = built
        pm = {p.instance_id: np.array(p.matrix_world) for p in built.plan.parts}
        groups = {d.defect_id: _id_group(d, to_decal(pm[d.part_instance_id], d)) for d in defects
                  if d.defect_id in empties and d.variant_dir}
        # One ID material per material slot of each part: the defects of that region only.
        self.id_mats = {
            pid: [_id_material(f"sg_id_part_{pid}_r{k}", [(i, groups[i]) for i in ids if i in groups], pid,
                               part_max_incidence_deg)
                  for k, ids in enumerate(built.regions.get(pid, [()]))]
            for pid in built.parts}

    def _swap_in(self):
        scene = bpy.context.scene
        self._saved = {
            "parts": {pid: [slot.material for slot in o.material_slots] for pid, o in self.built.parts.items()},
            "stage": [(o, list(o.data.materials)) for o in [self.built.belt, *self.built.obstacles] if o],
            "world": scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value,
            "render": (scene.cycles.samples, scene.cycles.use_denoising, scene.cycles.max_bounces,
                       scene.cycles.filter_width, scene.cycles.use_adaptive_sampling,
                       scene.render.image_settings.file_format, scene.render.image_settings.color_depth,
                       scene.render.image_settings.color_mode, scene.view_settings.view_transform,
                       scene.view_settings.exposure),
            "dof": {cid: c.data.dof.use_dof for cid, c in self.built.cameras.items()},
            "lights": [(lo, lo.hide_render) for lo in self.built.lights],
            "motion_blur": scene.render.use_motion_blur,
            "persistent": scene.render.use_persistent_data,
        }
        # Keep the synced scene between the cameras' ID renders: without it every render compiles
        # every region's ID shader again, a cost that grows with the number of defects.
        scene.render.use_persistent_data = True
        scene.render.use_motion_blur = False  # the pass looks at sharp instants (motion.id_instants)
        for pid, o in self.built.parts.items():
            for slot, mat in zip(o.material_slots, self.id_mats[pid], strict=True):
                slot.material = mat
        for o, _ in self._saved["stage"]:
            for i in range(len(o.data.materials)):
                o.data.materials[i] = _black()
        scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0
        c = scene.cycles
        c.samples, c.use_denoising, c.max_bounces, c.filter_width, c.use_adaptive_sampling = 1, False, 0, 0.01, False
        s = scene.render.image_settings
        s.file_format, s.color_depth, s.color_mode = "OPEN_EXR", "32", "RGB"
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.exposure = 0.0
        for cam in self.built.cameras.values():
            cam.data.dof.use_dof = False
        for lo, _ in self._saved["lights"]:
            lo.hide_render = True

    def _swap_out(self):
        scene = bpy.context.scene
        sv = self._saved
        for pid, o in self.built.parts.items():
            for slot, mat in zip(o.material_slots, sv["parts"][pid], strict=True):
                slot.material = mat
        for o, mats in sv["stage"]:
            for i, m in enumerate(mats):
                o.data.materials[i] = m
        scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = sv["world"]
        c = scene.cycles
        (c.samples, c.use_denoising, c.max_bounces, c.filter_width, c.use_adaptive_sampling,
         fmt, depth, mode, view, exposure) = sv["render"]
        s = scene.render.image_settings
        s.file_format, s.color_depth, s.color_mode = fmt, depth, mode
        scene.view_settings.view_transform = view
        scene.view_settings.exposure = exposure
        for cid, cam in self.built.cameras.items():
            cam.data.dof.use_dof = sv["dof"][cid]
        for lo, hidden in sv["lights"]:
            lo.hide_render = hidden
        scene.render.use_motion_blur = sv["motion_blur"]
        scene.render.use_persistent_data = sv["persistent"]

    def __enter__(self):
        self._swap_in()
        return self

    def __exit__(self, *exc):
        self._swap_out()
        return False

    def render_ids(self, camera_id: int, quiet: bool = True) -> np.ndarray:
        """(H, W) int32 map of the defect id whose label mask is visible at each pixel centre (0 = none)."""
        return self.render_id_maps(camera_id, quiet)[0]

    def render_id_maps(self, camera_id: int, quiet: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, footprint ids, part ids): three (H, W) int32 maps of the defect whose label
        mask, the defect whose footprint (anything its maps change), and the part instance that is
        visible at each pixel centre (0 = none)."""
        scene = bpy.context.scene
        scene.camera = self.built.cameras[camera_id]
        offsets = motion.id_offsets(self.built)
        if len(offsets) == 1:
            return self._render_once(quiet)
        maps = []
        with motion.Paused(self.built) as paused:
            for dx in offsets:
                paused.place(dx)
                maps.append(self._render_once(quiet))
        labels, feet, parts = zip(*maps, strict=True)
        return majority(list(labels)), union(list(feet)), majority(list(parts))

    def _render_once(self, quiet: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scene = bpy.context.scene
        with quiet_stdout(quiet):
            bpy.ops.render.render(write_still=False)
        fd, tmp = tempfile.mkstemp(suffix=".exr")
        os.close(fd)
        try:
            bpy.data.images["Render Result"].save_render(tmp, scene=scene)
            img = bpy.data.images.load(tmp, check_existing=False)
            w, h = img.size
            px = np.empty(w * h * img.channels, np.float32)
            img.pixels.foreach_get(px)
            bpy.data.images.remove(img)
        finally:
            Path(tmp).unlink(missing_ok=True)
        r = px.reshape(h, w, -1)[::-1]
        return tuple(np.rint(r[..., k]).astype(np.int32) for k in range(3))
