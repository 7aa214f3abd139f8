"""Only synthgen.blender touches Blender (DESIGN.md): every other module imports with bpy
unavailable, and none imports bpy, mathutils or bmesh anywhere in its source, not even inside a
function."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import synthgen

BLOCKER = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('bpy', 'mathutils', 'bmesh'):
            raise ImportError('blocked for test: ' + name)
sys.meta_path.insert(0, Block())
import importlib
for m in {mods!r}:
    importlib.import_module(m)
print('ok', len({mods!r}))
"""


def _pure_modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages(synthgen.__path__, "synthgen."):
        if info.name.startswith("synthgen.blender") or info.name == "synthgen.pipeline_blender":
            continue
        mods.append(info.name)
    return mods


def test_pure_modules_import_without_bpy():
    mods = _pure_modules()
    assert "synthgen.plan" in mods and "synthgen.config" in mods
    res = subprocess.run([sys.executable, "-c", BLOCKER.format(mods=mods)], check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("ok")


BLENDER_MODULES = {"bpy", "mathutils", "bmesh"}


def _blender_imports(path) -> list[str]:
    """``file:line module`` for every import of a Blender module in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names = [str(node.args[0].value)]
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in BLENDER_MODULES]
    return found


def test_no_module_outside_synthgen_blender_imports_bpy_at_any_depth():
    root = Path(synthgen.__file__).parent
    files = [f for f in root.rglob("*.py") if "blender" not in f.relative_to(root).parts]
    assert len(files) > 50
    offenders = [hit for f in files for hit in _blender_imports(f)]
    assert offenders == []


def test_the_import_scan_finds_a_nested_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def run():\n    if True:\n        import bpy.ops\n    from mathutils import Vector\n")
    assert sorted(_blender_imports(f)) == ["m.py:3 bpy.ops", "m.py:4 mathutils"]


# The steps of building a scene, each called only by the one entry point (synthgen/blender/build.py).
BUILD_STEPS = {"build_objects", "apply_defects", "apply_render_settings", "init_session", "clear_scene"}


def test_scenes_are_built_only_through_the_one_entry_point():
    """The CLI pipeline, add-on, benchmarks, gallery script and tests call build()/clear(), never
    the steps: the copies of the build sequence cannot drift apart again."""
    root = Path(synthgen.__file__).parent.parent
    files = [*root.joinpath("synthgen").rglob("*.py"), *root.joinpath("tests").rglob("*.py"),
             *root.joinpath("benchmarks").rglob("*.py"), *root.joinpath("docs").rglob("*.py"),
             *root.joinpath("blender_addon").rglob("*.py")]
    offenders = []
    for f in files:
        if f.name == "build.py" and f.parent.name == "blender":
            continue
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in BUILD_STEPS and not ast.unparse(node.func).startswith("bpy.ops."):  # an operator
                    offenders.append(f"{f.relative_to(root)}:{node.lineno} {name}")
    assert offenders == []
