"""Real CAD parts (../shared/data/cad) load in every format with declared units and get stable poses."""

from __future__ import annotations

import pytest

from synthgen.geometry.cad import load_part, stable_poses

from conftest import CAD_DIR

pytestmark = pytest.mark.skipif(not CAD_DIR.is_dir(), reason=f"real CAD data not found at {CAD_DIR}")

# Units checked by hand from the files' extents (the data README: units differ between files).
# STEP carries its own units; the STEP reader (cascadio) hands trimesh metres, hence "m".
REAL_PARTS = {
    "featuretype.STEP": "m",  # 127 x 64 x 35 mm
    "1002_tray_bottom.STL": "mm",  # 355.6 mm = 14 in tray
    "angle_block.STL": "in",  # 1.34 in block
    "plate_holes.STL": "mm",  # 203.2 x 304.8 mm plate
    "idler_riser.STL": "in",
    "fandisk.obj": "in",  # unitless classic model; declared inches
}


@pytest.mark.parametrize("name", sorted(REAL_PARTS))
def test_real_part_loads_and_rests(name, tmp_path):
    pm = load_part(CAD_DIR / name, REAL_PARTS[name])
    assert len(pm.mesh.faces) > 10
    assert 0.001 < pm.mesh.extents.max() < 5.0, "scaled part should be a plausible size in metres"
    poses = stable_poses(pm, REAL_PARTS[name], tmp_path, 0.0, 8)
    assert poses and abs(sum(p for _, p in poses) - 1.0) < 1e-9
    for T, _ in poses:
        v = pm.mesh.vertices @ T[:3, :3].T + T[:3, 3]
        assert abs(v[:, 2].min()) < 1e-9
