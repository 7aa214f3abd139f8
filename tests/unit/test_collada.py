"""COLLADA parts as robot-simulation libraries write them: polylist and polygons primitives,
geometry instanced through <library_nodes>, files without a scene, and a stated unit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synthgen.errors import SynthgenError
from synthgen.geometry.cad import load_part

collada = pytest.importorskip("collada", reason="pycollada (a synthgen dependency) is not installed")

CORNERS = np.array([[0, 0, 0], [60, 0, 0], [60, 40, 0], [0, 40, 0], [0, 0, 20], [60, 0, 20], [60, 40, 20],
                    [0, 40, 20]], float)  # a 60 x 40 x 20 box in the file's numbers
QUADS = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]


def write_box(path, meter: float | None, kind: str = "polylist", scale: float = 1.0) -> None:
    """A closed box of quads (with normals, as exporters write them) under one scene node."""
    c = collada.Collada()
    if meter is not None:
        c.assetInfo.unitmeter, c.assetInfo.unitname = meter, "unit"
        c.assetInfo.save()
    normals = np.array([[0, 0, -1], [0, 0, 1], [0, -1, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0]], float)
    src = [collada.source.FloatSource("v", (CORNERS * scale).ravel(), ("X", "Y", "Z")),
           collada.source.FloatSource("n", normals.ravel(), ("X", "Y", "Z"))]
    geom = collada.geometry.Geometry(c, "g", "box", src)
    inputs = collada.source.InputList()
    inputs.addInput(0, "VERTEX", "#v")
    inputs.addInput(1, "NORMAL", "#n")
    idx = np.array([[i, f] for f, q in enumerate(QUADS) for i in q]).ravel()
    if kind == "polylist":
        prim = geom.createPolylist(idx, np.full(6, 4), inputs, "mat")
    else:
        prim = geom.createPolygons(idx.reshape(6, 8), inputs, "mat")
    geom.primitives.append(prim)
    c.geometries.append(geom)
    effect = collada.material.Effect("e", [], "phong")
    mat = collada.material.Material("m", "mat", effect)
    c.effects.append(effect)
    c.materials.append(mat)
    node = collada.scene.Node("n", children=[collada.scene.GeometryNode(geom, [collada.scene.MaterialNode(
        "mat", mat, inputs=[])])])
    scene = collada.scene.Scene("s", [node])
    c.scenes.append(scene)
    c.scene = scene
    c.write(str(path))


@pytest.mark.parametrize("kind", ["polylist", "polygons"])
def test_a_polylist_in_millimetres_loads_at_its_size(tmp_path, kind):
    path = tmp_path / "bracket.dae"
    write_box(path, 0.001, kind)
    pm = load_part(path, "mm")
    assert np.allclose(sorted(pm.mesh.extents), [0.02, 0.04, 0.06]) and pm.mesh.is_watertight
    assert len(pm.mesh.faces) == 12


def test_a_stated_unit_that_contradicts_the_declared_units_names_the_fix(tmp_path):
    path = tmp_path / "bracket.dae"
    write_box(path, 0.001)
    with pytest.raises(SynthgenError, match=r'<unit meter="0.001"> \(mm\), but the part declares units: m '
                                            r"\(set units: mm\)"):
        load_part(path, "m")


def test_the_default_unit_of_one_metre_leaves_the_declared_units_in_charge(tmp_path):
    path = tmp_path / "bracket.dae"
    write_box(path, None)  # exporters write meter="1" whatever their numbers are
    assert np.allclose(sorted(load_part(path, "mm").mesh.extents), [0.02, 0.04, 0.06])
    metres = tmp_path / "metres.dae"
    write_box(metres, None, scale=0.001)
    assert np.allclose(sorted(load_part(metres, "m").mesh.extents), [0.02, 0.04, 0.06])


def test_a_unit_no_units_value_names_is_applied_and_noted(tmp_path):
    path = tmp_path / "bracket.dae"
    write_box(path, 0.1, scale=0.01)  # decimetres: 0.6 x 0.4 x 0.2 dm
    pm = load_part(path, "m")
    assert np.allclose(sorted(pm.mesh.extents), [0.02, 0.04, 0.06])
    assert any('<unit meter="0.1">' in n for n in pm.notes)


def test_geometry_instanced_through_library_nodes_and_files_without_a_scene_load(tmp_path):
    path = tmp_path / "box.dae"
    write_box(path, 0.001)
    text = path.read_text()
    # the node moves into <library_nodes> and the scene instances it, as robot-model exporters do
    node = re.search(r"<node id=\"n\".*?</node>", text, re.DOTALL).group(0)
    lib = text.replace(node, '<node id="top" name="top"><instance_node url="#n"/></node>')
    lib = lib.replace("<library_visual_scenes>", f"<library_nodes>{node}</library_nodes><library_visual_scenes>")
    (tmp_path / "lib.dae").write_text(lib)
    assert np.allclose(sorted(load_part(tmp_path / "lib.dae", "mm").mesh.extents), [0.02, 0.04, 0.06])
    bare = re.sub(r"<scene>.*?</scene>", "", text, flags=re.DOTALL)
    (tmp_path / "bare.dae").write_text(bare)
    assert np.allclose(sorted(load_part(tmp_path / "bare.dae", "mm").mesh.extents), [0.02, 0.04, 0.06])
