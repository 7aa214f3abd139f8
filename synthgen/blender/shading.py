"""Procedural PBR node trees for parts, belt, obstacles (no UVs needed: object coordinates)."""

from __future__ import annotations

import math

import bpy
import numpy as np

from synthgen.plan.types import BeltPlan, MaterialPlan, PhotoPlan
from synthgen.textures.photo import reflectance

TAG = "synthgen"


def _sock(sockets, identifier: str):
    """A socket by identifier (Mix nodes have several sockets sharing one name)."""
    return next(x for x in sockets if x.identifier == identifier)


def _new_material(name: str) -> tuple[bpy.types.Material, bpy.types.NodeTree, bpy.types.Node]:
    mat = bpy.data.materials.new(name)
    mat[TAG] = 1
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    return mat, nt, bsdf


def _coords(nt, rotation_deg: float, offset, scale=(1.0, 1.0, 1.0)):
    """Object coordinates turned by ``rotation_deg`` about the part's z axis, then scaled per axis
    and offset: a pattern stretched along x (brushed streaks) runs at ``rotation_deg`` from the
    part's x axis. (One Mapping node scales before it rotates, which would leave the streaks along
    x whatever the angle.)"""
    tc = nt.nodes.new("ShaderNodeTexCoord")
    turn = nt.nodes.new("ShaderNodeMapping")
    turn.inputs["Rotation"].default_value = (0.0, 0.0, -math.radians(rotation_deg))
    nt.links.new(tc.outputs["Object"], turn.inputs["Vector"])
    mp = nt.nodes.new("ShaderNodeMapping")
    mp.inputs["Location"].default_value = offset
    mp.inputs["Scale"].default_value = scale
    nt.links.new(turn.outputs["Vector"], mp.inputs["Vector"])
    return mp.outputs["Vector"]


def _bump(nt, height_socket, strength: float, distance: float, bsdf):
    bump = nt.nodes.new("ShaderNodeBump")
    bump.inputs["Strength"].default_value = strength
    bump.inputs["Distance"].default_value = distance
    nt.links.new(height_socket, bump.inputs["Height"])
    nt.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return bump


def _roughness_variation(nt, fac_socket, base: float, amount: float, bsdf):
    mr = nt.nodes.new("ShaderNodeMapRange")
    mr.inputs["To Min"].default_value = max(0.0, base - amount)
    mr.inputs["To Max"].default_value = min(1.0, base + amount)
    nt.links.new(fac_socket, mr.inputs["Value"])
    nt.links.new(mr.outputs["Result"], bsdf.inputs["Roughness"])


def _factor(nt, fac_socket, amount: float, lo: float = 0.3, hi: float = 0.7):
    """``fac`` mapped from [lo, hi] onto [1 - amount, 1 + amount] (clamped): a multiplier."""
    mr = nt.nodes.new("ShaderNodeMapRange")
    mr.inputs["From Min"].default_value, mr.inputs["From Max"].default_value = lo, hi
    mr.inputs["To Min"].default_value, mr.inputs["To Max"].default_value = 1.0 - amount, 1.0 + amount
    nt.links.new(fac_socket, mr.inputs["Value"])
    return mr.outputs["Result"]


def _photo_factor(nt, name: str, p: PhotoPlan, angle_deg: float):
    """The photo's relative reflectance, mapped flat onto the part at ``p.px_per_mm`` (mirrored
    beyond its edges, so it tiles without seams), its vertical along ``angle_deg`` from the part's
    x axis (the finish direction: a ground surface's streaks run up its photos)."""
    r = reflectance(p.path, p.detrend_px, p.margin, p.strength, p.encoding)
    h, w = r.shape
    img = bpy.data.images.new(f"{name}_photo", w, h, alpha=False, float_buffer=True)
    img[TAG] = 1
    img.colorspace_settings.name = "Non-Color"
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = r[::-1, :, None]  # Blender's rows run bottom to top
    img.pixels.foreach_set(rgba.ravel())
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image, tex.extension, tex.interpolation = img, "MIRROR", "Linear"
    k = 1000.0 * p.px_per_mm  # photo pixels per metre
    nt.links.new(_coords(nt, angle_deg - 90.0, (*p.offset, 0.0), (k / w, k / h, 1.0)), tex.inputs["Vector"])
    return tex.outputs["Color"]


def _albedo(nt, bsdf, m: MaterialPlan, pattern, name: str = "part") -> None:
    """Base colour modulated by the finish pattern (light and dark streaks), a fine speckle and a
    photo's texture."""
    factors = []
    if m.photo is not None:
        photo = _photo_factor(nt, name, m.photo, m.finish_angle_deg)
        factors.append(photo)
        if m.photo.specular:  # the streaks of a ground surface are in its gloss as much as its colour
            spec = nt.nodes.new("ShaderNodeMath")
            spec.operation = "MULTIPLY"
            spec.inputs[1].default_value = bsdf.inputs["Specular IOR Level"].default_value
            nt.links.new(photo, spec.inputs[0])
            nt.links.new(spec.outputs["Value"], bsdf.inputs["Specular IOR Level"])
    if m.albedo_variation > 0 and pattern is not None:
        factors.append(_factor(nt, pattern, m.albedo_variation, 0.4, 0.6))
    if m.speckle > 0:
        grain = nt.nodes.new("ShaderNodeTexNoise")
        grain.inputs["Scale"].default_value = m.finish_scale * 2.0
        grain.inputs["Detail"].default_value = 2.0
        nt.links.new(_coords(nt, 0.0, m.noise_offset), grain.inputs["Vector"])
        factors.append(_factor(nt, grain.outputs["Fac"], m.speckle, 0.35, 0.65))
    if not factors:
        return
    colour = nt.nodes.new("ShaderNodeRGB")
    colour.outputs[0].default_value = (*m.base_color, 1.0)
    out = colour.outputs[0]
    for f in factors:
        mul = nt.nodes.new("ShaderNodeMix")
        mul.data_type, mul.blend_type = "RGBA", "MULTIPLY"
        _sock(mul.inputs, "Factor_Float").default_value = 1.0
        nt.links.new(out, _sock(mul.inputs, "A_Color"))
        nt.links.new(f, _sock(mul.inputs, "B_Color"))
        out = _sock(mul.outputs, "Result_Color")
    nt.links.new(out, bsdf.inputs["Base Color"])


def part_material(name: str, m: MaterialPlan) -> bpy.types.Material:
    """Principled BSDF with a procedural surface finish driven by the plan's parameters."""
    mat, nt, bsdf = _new_material(name)
    bsdf.inputs["Base Color"].default_value = (*m.base_color, 1.0)
    bsdf.inputs["Metallic"].default_value = m.metallic
    bsdf.inputs["Roughness"].default_value = m.roughness
    s = m.finish_strength
    pattern = None
    if m.finish == "brushed":
        # Streaks: noise stretched ~60x along the brushing direction.
        vec = _coords(nt, m.finish_angle_deg, m.noise_offset, (m.finish_scale / 60.0, m.finish_scale, m.finish_scale))
        noise = nt.nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = 1.0
        noise.inputs["Detail"].default_value = 8.0
        nt.links.new(vec, noise.inputs["Vector"])
        pattern = noise.outputs["Fac"]
        _roughness_variation(nt, noise.outputs["Fac"], m.roughness, 0.25 * s, bsdf)
        _bump(nt, noise.outputs["Fac"], 0.15 * s, 0.0005, bsdf)
        bsdf.inputs["Anisotropic"].default_value = 0.5 * s
        bsdf.inputs["Anisotropic Rotation"].default_value = m.finish_angle_deg / 360.0
    elif m.finish == "cast":
        vec = _coords(nt, m.finish_angle_deg, m.noise_offset)
        noise = nt.nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = m.finish_scale
        noise.inputs["Detail"].default_value = 12.0
        noise.inputs["Roughness"].default_value = 0.7
        nt.links.new(vec, noise.inputs["Vector"])
        pattern = noise.outputs["Fac"]
        _roughness_variation(nt, noise.outputs["Fac"], m.roughness, 0.2 * s, bsdf)
        _bump(nt, noise.outputs["Fac"], 0.5 * s, 0.001, bsdf)
    elif m.finish == "painted":
        vec = _coords(nt, m.finish_angle_deg, m.noise_offset)
        noise = nt.nodes.new("ShaderNodeTexNoise")  # orange peel
        noise.inputs["Scale"].default_value = m.finish_scale * 0.5
        noise.inputs["Detail"].default_value = 2.0
        nt.links.new(vec, noise.inputs["Vector"])
        _bump(nt, noise.outputs["Fac"], 0.1 * s, 0.0005, bsdf)
        bsdf.inputs["Coat Weight"].default_value = 0.5 + 0.5 * s
        bsdf.inputs["Coat Roughness"].default_value = 0.05
    elif m.finish == "machined":
        vec = _coords(nt, 0.0, (0.0, 0.0, 0.0))  # rings concentric about the part's own axis
        wave = nt.nodes.new("ShaderNodeTexWave")  # concentric turning marks
        wave.wave_type = "RINGS"
        wave.rings_direction = "Z"
        wave.inputs["Scale"].default_value = m.finish_scale
        wave.inputs["Distortion"].default_value = 0.5
        nt.links.new(vec, wave.inputs["Vector"])
        pattern = wave.outputs["Fac"]
        _roughness_variation(nt, wave.outputs["Fac"], m.roughness, 0.15 * s, bsdf)
        _bump(nt, wave.outputs["Fac"], 0.2 * s, 0.0002, bsdf)
    _albedo(nt, bsdf, m, pattern, name)
    return mat


def belt_material(b: BeltPlan) -> bpy.types.Material:
    """Conveyor belt: rubber (fine mottled noise) or fabric (woven ridges), with colour mottling."""
    mat, nt, bsdf = _new_material("synthgen_belt")
    bsdf.inputs["Metallic"].default_value = 0.0
    vec = _coords(nt, 0.0, b.noise_offset)
    mottle = nt.nodes.new("ShaderNodeTexNoise")
    mottle.inputs["Scale"].default_value = b.texture_scale / 20.0
    mottle.inputs["Detail"].default_value = 6.0
    nt.links.new(vec, mottle.inputs["Vector"])
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    c = b.color
    _sock(mix.inputs, "A_Color").default_value = (c[0] * 0.7, c[1] * 0.7, c[2] * 0.7, 1.0)
    _sock(mix.inputs, "B_Color").default_value = (min(1, c[0] * 1.3), min(1, c[1] * 1.3), min(1, c[2] * 1.3), 1.0)
    nt.links.new(mottle.outputs["Fac"], mix.inputs["Factor"])
    nt.links.new(_sock(mix.outputs, "Result_Color"), bsdf.inputs["Base Color"])
    if b.texture == "fabric":
        wx = nt.nodes.new("ShaderNodeTexWave")
        wx.wave_type = "BANDS"
        wx.bands_direction = "X"
        wy = nt.nodes.new("ShaderNodeTexWave")
        wy.wave_type = "BANDS"
        wy.bands_direction = "Y"
        for w in (wx, wy):
            w.inputs["Scale"].default_value = b.texture_scale / 6.0
            nt.links.new(vec, w.inputs["Vector"])
        mul = nt.nodes.new("ShaderNodeMath")
        mul.operation = "MULTIPLY"
        nt.links.new(wx.outputs["Fac"], mul.inputs[0])
        nt.links.new(wy.outputs["Fac"], mul.inputs[1])
        height = mul.outputs["Value"]
    else:
        fine = nt.nodes.new("ShaderNodeTexNoise")
        fine.inputs["Scale"].default_value = b.texture_scale
        fine.inputs["Detail"].default_value = 4.0
        nt.links.new(vec, fine.inputs["Vector"])
        height = fine.outputs["Fac"]
    _bump(nt, height, b.bump_strength, 0.001, bsdf)
    _roughness_variation(nt, mottle.outputs["Fac"], b.roughness, 0.1, bsdf)
    return mat


def plain_material(name: str, color, roughness: float = 0.5, metallic: float = 0.0) -> bpy.types.Material:
    mat, _nt, bsdf = _new_material(name)
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    return mat
