"""Shared fixtures: repo paths, the real-data folder, small config writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SYNTHGEN_SHARED_DATA", REPO.parent / "shared" / "data"))
CAD_DIR = SHARED_DATA / "cad"
MAGNETIC_TILE = SHARED_DATA / "magnetic_tile"
# The twin config (configs/twin_magnetic_tile.yaml) textures its tiles with the photos of healthy tiles.
requires_magnetic_tile = pytest.mark.skipif(
    not (MAGNETIC_TILE / "split.json").is_file(),
    reason=f"real data not found: {MAGNETIC_TILE} (the twin config reads its healthy photos as the tiles' texture)")


def have_bpy() -> bool:
    try:
        import bpy  # noqa: F401
    except ImportError:
        return False
    return True


requires_bpy = pytest.mark.skipif(not have_bpy(), reason="bpy (Blender 4.5 as a Python module) is not installed")


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (dict) into tmp_path, paths relative to the repo made absolute."""

    def _write(data: dict, name: str = "config.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return p

    return _write


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``synthgen`` as a user would (a separate process), capturing output."""
    return subprocess.run([sys.executable, "-c", "from synthgen.cli import main; main()", *args],
                          check=False, capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout)


def smoke_dict(out: Path, **overrides) -> dict:
    """The smoke config as a dict with absolute asset paths (so it can live in tmp_path)."""
    data = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    for p in data["parts"]:
        p["path"] = str((REPO / "configs" / p["path"]).resolve())
    data["out"] = str(out)
    data.update(overrides)
    return data
