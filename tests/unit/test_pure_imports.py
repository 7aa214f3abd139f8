"""Every pure module imports with bpy unavailable (DESIGN.md: only synthgen.blender uses it)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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
