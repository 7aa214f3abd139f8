"""An install without torch (a render node) or without bpy (a GPU training node on a newer
Python) gets one line naming what to install, a non-zero exit and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

# Run the CLI with some top-level modules made unimportable, as on an install without them.
BLOCK = """
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named '{{name}}'", name=name)
sys.meta_path.insert(0, _Block())
from synthgen.cli import main
main()
"""


def _run(blocked: set[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=blocked), *args], check=False,
                          capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.mark.parametrize("group", ["seg", "bilevel", "vqgen"])
def test_learning_command_without_torch_names_the_learn_extra(group, tmp_path):
    cfg = {"seg": "seg_magnetic_tile", "bilevel": "bilevel_magnetic_tile", "vqgen": "vqgen_magnetic_tile"}[group]
    r = _run({"torch"}, group, "train", str(REPO / "configs" / f"{cfg}.yaml"), "--out", str(tmp_path / "o"))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'synthgen[learn]'" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_render_without_bpy_says_rendering_needs_python_311_and_bpy(tmp_path):
    r = _run({"bpy", "mathutils"}, "render", str(REPO / "configs" / "smoke.yaml"), "--out", str(tmp_path / "o"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert "bpy 4.5 on Python 3.11" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists(), "nothing is written before Blender is known to be there"
    # Planning needs no Blender.
    r = _run({"bpy", "mathutils"}, "plan", str(REPO / "configs" / "smoke.yaml"), "--scene", "0")
    assert r.returncode == 0 and '"defects"' in r.stdout, r.stderr


def test_every_learning_module_imports_and_trains_without_bpy(tmp_path):
    """A GPU training node (no bpy, no mathutils): every module of synthgen.learn imports, and a
    one-epoch seg training on a tiny folder runs through the CLI."""
    import pkgutil

    import synthgen.learn

    mods = [m.name for m in pkgutil.walk_packages(synthgen.learn.__path__, "synthgen.learn.")]
    assert len(mods) > 20
    code = BLOCK.split("from synthgen.cli")[0].format(blocked={"bpy", "mathutils"}) + "".join(
        f"import {m}\n" for m in mods) + "print('imported', len(sys.modules))\n"
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO,
                       timeout=300)
    assert r.returncode == 0 and "imported" in r.stdout, r.stderr
    import cv2
    import numpy as np
    import yaml

    for i in range(4):
        img = np.full((24, 24), 50, np.uint8)
        mask = np.zeros((24, 24), np.uint8)
        mask[4:10, 4:10] = 255 * (i % 2)
        img[mask > 0] = 200
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), img)
        cv2.imwrite(str(tmp_path / f"{i}.png"), mask)
    cfg = {"sources": {"t": {"kind": "folder", "path": str(tmp_path)}}, "data": {"size": [24, 24]},
           "model": {"depth": 2, "width": 4}, "train": {"mix": [{"source": "t"}], "epochs": 1, "batch_size": 2,
                                                        "device": "cpu"}}
    (tmp_path / "seg.yaml").write_text(yaml.safe_dump(cfg))
    r = _run({"bpy", "mathutils"}, "seg", "train", str(tmp_path / "seg.yaml"), "--out", str(tmp_path / "o"),
             "--quiet")
    assert r.returncode == 0 and (tmp_path / "o" / "checkpoints" / "best.pt").is_file(), r.stderr
