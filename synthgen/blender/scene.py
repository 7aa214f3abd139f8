"""Build a Blender scene from a ScenePlan, and tear it down without leaking data-blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Matrix

from synthgen.blender.shading import TAG, belt_material, part_material, plain_material
from synthgen.geometry.cad import load_part
from synthgen.plan.types import ScenePlan

KEEP = "synthgen_keep"  # part meshes are reused across scenes (bounded by the number of files)
COLLECTION = "synthgen"


@dataclass
class BuiltScene:
    """Handles to what ``synthgen.blender.build.build`` created: objects, cameras, and the
    defects' decal frames (for rendering and the defect-ID pass)."""

    plan: ScenePlan
    parts: dict[int, bpy.types.Object] = field(default_factory=dict)  # instance_id -> object
    cameras: dict[int, bpy.types.Object] = field(default_factory=dict)  # camera_id -> object
    lights: list[bpy.types.Object] = field(default_factory=list)
    belt: bpy.types.Object | None = None
    obstacles: list[bpy.types.Object] = field(default_factory=list)
    defects: dict[int, bpy.types.Object] = field(default_factory=dict)  # defect_id -> decal frame empty
    # instance_id -> cover sets by material slot (slot 0: no defect), for parts with defects
    regions: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)


def init_session() -> None:
    """Start from an empty factory scene (no default cube, light or camera)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.unit_settings.system = "METRIC"


def blender_version() -> str:
    return bpy.app.version_string


def _collection() -> bpy.types.Collection:
    coll = bpy.data.collections.get(COLLECTION)
    if coll is None:
        coll = bpy.data.collections.new(COLLECTION)
        coll[TAG] = 1
        bpy.context.scene.collection.children.link(coll)
    return coll


def _link(obj: bpy.types.Object) -> bpy.types.Object:
    obj[TAG] = 1
    _collection().objects.link(obj)
    return obj


def part_mesh(path: str, units: str, sha256: str) -> bpy.types.Mesh:
    """The Blender mesh of a part (centred, metres), created once per file and reused."""
    key = f"part_{sha256[:16]}_{units}"
    me = bpy.data.meshes.get(key)
    if me is not None:
        return me
    pm = load_part(path, units)
    v = np.asarray(pm.mesh.vertices, dtype=np.float32)
    f = np.asarray(pm.mesh.faces, dtype=np.int32)
    me = bpy.data.meshes.new(key)
    me.from_pydata(v.tolist(), [], f.tolist())
    me.validate(clean_customdata=False)
    me.shade_smooth()
    me.set_sharp_from_angle(angle=math.radians(30.0))  # crisp CAD edges, smooth fillets
    me[KEEP] = 1
    me.use_fake_user = False
    return me


def _box_mesh(name: str, size) -> bpy.types.Mesh:
    sx, sy, sz = (s / 2 for s in size)
    verts = [(x, y, z) for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    me = bpy.data.meshes.new(name)
    me.from_pydata(verts, [], faces)
    me[TAG] = 1
    return me


def build_objects(plan: ScenePlan) -> BuiltScene:
    """Create belt, obstacles, parts, lights, cameras and world exactly as planned (no defects:
    call ``synthgen.blender.build.build``, the one entry point, instead)."""
    scene = bpy.context.scene
    built = BuiltScene(plan=plan)

    # Stage: the belt plane at z = 0 (thin box so it has an underside and edges).
    bx, by = plan.stage.belt.size
    belt = bpy.data.objects.new("belt", _box_mesh("belt", (bx, by, 0.01)))
    belt.location = (0.0, 0.0, -0.005)
    belt.data.materials.append(belt_material(plan.stage.belt))
    built.belt = _link(belt)
    for ob in plan.stage.obstacles:
        o = bpy.data.objects.new(ob.name, _box_mesh(ob.name, ob.size))
        o.location = ob.center
        o.data.materials.append(plain_material(f"obstacle_{ob.name}", ob.color, 0.4, 0.8))
        built.obstacles.append(_link(o))

    for p in plan.parts:
        me = part_mesh(p.path, p.units, p.sha256)
        obj = bpy.data.objects.new(f"part_{p.instance_id:02d}_{p.name}", me)
        obj.matrix_world = Matrix(p.matrix_world)
        # Material on the object slot, so the shared mesh stays untouched.
        obj.material_slots  # noqa: B018 (ensure slots exist after linking)
        _link(obj)
        if len(me.materials) == 0:
            me.materials.append(None)
        obj.material_slots[0].link = "OBJECT"
        obj.material_slots[0].material = part_material(f"part_{p.instance_id:02d}", p.material)
        obj["instance_id"] = p.instance_id
        built.parts[p.instance_id] = obj

    for lp in plan.lights:
        kind = {"area": "AREA", "spot": "SPOT", "point": "POINT", "sun": "SUN"}[lp.type]
        ld = bpy.data.lights.new(f"light_{lp.light_id}", kind)
        ld[TAG] = 1
        ld.energy = lp.power
        ld.use_temperature = True
        ld.temperature = lp.temperature
        ld.color = (1.0, 1.0, 1.0)
        if kind == "AREA":
            ld.shape = "SQUARE"
            ld.size = lp.size
        elif kind == "SUN":
            ld.angle = math.radians(2.0)
        else:
            ld.shadow_soft_size = lp.size
            if kind == "SPOT":
                ld.spot_size = math.radians(lp.spot_size_deg)
                ld.spot_blend = 0.3
        if lp.ies and kind != "SUN":
            ld.use_nodes = True
            nt = ld.node_tree
            ies = nt.nodes.new("ShaderNodeTexIES")
            ies.mode = "EXTERNAL"
            ies.filepath = lp.ies
            emission = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeEmission")
            norm = nt.nodes.new("ShaderNodeMath")  # peak of the profile -> 1
            norm.operation = "MULTIPLY"
            norm.inputs[1].default_value = lp.ies_scale
            nt.links.new(ies.outputs["Fac"], norm.inputs[0])
            nt.links.new(norm.outputs["Value"], emission.inputs["Strength"])
        lo = bpy.data.objects.new(f"light_{lp.light_id}", ld)
        lo.matrix_world = Matrix(lp.matrix_world)
        built.lights.append(_link(lo))

    for cp in plan.cameras:
        cd = bpy.data.cameras.new(f"cam_{cp.camera_id:02d}")
        cd[TAG] = 1
        cd.lens = cp.focal_length_mm
        cd.sensor_width = cp.sensor_width_mm
        cd.sensor_fit = "HORIZONTAL"
        cd.clip_start = 0.005
        cd.clip_end = 50.0
        cd.dof.use_dof = cp.use_dof
        cd.dof.focus_distance = cp.focus_distance
        cd.dof.aperture_fstop = cp.fstop
        co = bpy.data.objects.new(f"cam_{cp.camera_id:02d}", cd)
        co.matrix_world = Matrix(cp.matrix_world)
        built.cameras[cp.camera_id] = _link(co)

    world = bpy.data.worlds.new("synthgen_world")  # never the artist's own world
    world[TAG] = 1
    scene.world = world
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    bg.inputs["Color"].default_value = (*plan.stage.world_color, 1.0)
    bg.inputs["Strength"].default_value = plan.stage.world_strength
    return built


DATABLOCK_KINDS = ("objects", "meshes", "materials", "images", "node_groups", "textures", "lights", "cameras",
                   "worlds", "actions")


def datablock_counts() -> dict[str, int]:
    """How many data-blocks of each kind the Blender session holds, and how many are ``kept`` on
    purpose (parts' meshes, reused by later scenes). After a clear the others return to what the
    session started with."""
    counts = {k: sum(not b.get(KEEP) for b in getattr(bpy.data, k)) for k in DATABLOCK_KINDS}
    # Blender's own "Render Result" and "Viewer Node" appear with the first render and stay
    counts["images"] -= sum(im.type in ("RENDER_RESULT", "COMPOSITING") for im in bpy.data.images)
    counts["kept"] = sum(bool(b.get(KEEP)) for k in DATABLOCK_KINDS for b in getattr(bpy.data, k))  # parts' meshes, reused
    return counts


def clear_scene() -> None:
    """Remove every data-block synthgen created and tagged (parts' meshes are kept for reuse), so
    memory stays flat over thousands of scenes. Nothing untagged is touched: an artist's own
    objects, materials, meshes and images stay, used or not (no orphan purge)."""
    for obj in [o for o in bpy.data.objects if o.get(TAG)]:
        bpy.data.objects.remove(obj, do_unlink=True)
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.lights, bpy.data.cameras,
                 bpy.data.images, bpy.data.node_groups, bpy.data.textures, bpy.data.worlds, bpy.data.actions):
        for block in [b for b in coll if b.get(TAG) and not b.get(KEEP)]:
            coll.remove(block, do_unlink=True)
