"""Which parts of synthgen may import which: no import cycles between modules, bpy only in
``synthgen/blender`` and the add-on, torch only on the learning side, and the pure layers
(planning, labels, configs, geometry, learning) never reaching into the renderer or the dataset
writer. The import graph is read from the source (grimp), so nothing is imported to test it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="the layer test needs grimp (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[2]

# importer package prefix -> modules it must never import (directly or through others)
FORBIDDEN = {
    "synthgen.plan": ("synthgen.blender", "synthgen.pipeline", "synthgen.dataset.writer", "synthgen.learn",
                      "bpy", "torch"),
    "synthgen.annotate": ("synthgen.blender", "synthgen.pipeline", "synthgen.dataset.writer", "bpy", "torch"),
    "synthgen.config": ("synthgen.blender", "synthgen.pipeline", "synthgen.dataset.writer", "synthgen.learn",
                        "bpy", "torch"),
    "synthgen.geometry": ("synthgen.blender", "synthgen.pipeline", "synthgen.dataset.writer", "bpy", "torch"),
    "synthgen.textures": ("synthgen.blender", "synthgen.pipeline", "synthgen.dataset", "bpy", "torch"),
    "synthgen.dataset": ("synthgen.blender", "synthgen.pipeline", "synthgen.learn", "bpy", "torch"),
    "synthgen.learn": ("synthgen.blender", "synthgen.pipeline", "synthgen.plan", "synthgen.dataset.writer", "bpy"),
}
# only these may import Blender's modules directly
BLENDER_ONLY = ("bpy", "bmesh", "mathutils")
BLENDER_HOMES = ("synthgen.blender", "synthgen_addon")
TORCH_HOMES = ("synthgen.learn", "synthgen.realism")


def _graph():
    addon = str(ROOT / "blender_addon")
    if addon not in sys.path:
        sys.path.insert(0, addon)
    return grimp.build_graph("synthgen", "synthgen_addon", include_external_packages=True,
                             exclude_type_checking_imports=True)


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def cycles(graph) -> list[tuple[str, ...]]:
    """Each import cycle between two internal modules, as the chain that closes it."""
    found = set()
    for a in sorted(m for m in graph.modules if m.startswith("synthgen")):
        for b in graph.find_modules_directly_imported_by(a):
            if b.startswith("synthgen") and (back := graph.find_shortest_chain(importer=b, imported=a)):
                found.add((a, *back))
    return sorted(found)


def violations(graph) -> list[str]:
    """Every forbidden import, as 'importer -> ... -> imported' (empty: the layers hold)."""
    out = []
    internal = [m for m in graph.modules if m.startswith("synthgen")]
    for prefix, banned in FORBIDDEN.items():
        for ban in banned:
            targets = [m for m in graph.modules if _in(m, ban)]
            for importer in (m for m in internal if _in(m, prefix)):
                for t in targets:
                    chain = graph.find_shortest_chain(importer=importer, imported=t)
                    if chain:
                        out.append(" -> ".join(chain))
    for ext, homes in [*((e, BLENDER_HOMES) for e in BLENDER_ONLY), ("torch", TORCH_HOMES)]:
        if ext in graph.modules:
            out += [f"{m} -> {ext}" for m in sorted(graph.find_modules_that_directly_import(ext))
                    if not any(_in(m, h) for h in homes)]
    return sorted(set(out))


@pytest.fixture(scope="module")
def graph():
    return _graph()


def test_no_module_imports_itself_through_others(graph):
    assert cycles(graph) == []


def test_the_layers_hold(graph):
    assert violations(graph) == []


def test_a_planted_forbidden_import_and_a_planted_cycle_are_caught():
    graph = _graph()
    graph.add_import(importer="synthgen.plan.poses", imported="synthgen.blender.scene")
    graph.add_import(importer="synthgen.annotate.crop", imported="bpy")
    graph.add_import(importer="synthgen.io", imported="synthgen.pipeline")   # pipeline imports io
    bad = violations(graph)
    assert "synthgen.plan.poses -> synthgen.blender.scene" in bad
    assert "synthgen.annotate.crop -> bpy" in bad
    assert any(c[0] == "synthgen.io" or "synthgen.io" in c for c in cycles(graph))
