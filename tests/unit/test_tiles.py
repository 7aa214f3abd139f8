"""The parametric magnet tiles of the magnetic-tile twin (assets/make_tiles.py): real solids of the
requested size that rest on a face or on their arc, with sharp long edges for edge defects."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from synthgen.geometry.cad import load_part, stable_poses
from synthgen.geometry.edges import feature_edges

from conftest import REPO

spec = importlib.util.spec_from_file_location("make_tiles", REPO / "assets" / "make_tiles.py")
make_tiles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_tiles)


def _export(tmp_path, mesh, name):
    path = tmp_path / f"{name}.stl"
    mesh.export(path)
    return load_part(path, "mm")


def test_arc_tile_has_the_requested_dimensions():
    m = make_tiles.arc_tile(radius=30.0, thickness=5.0, arc_deg=60.0, length=40.0, chamfer=0.5)
    assert m.is_watertight and m.volume > 0
    chord = 2 * 35.0 * np.sin(np.radians(30.0))                      # outer chord
    height = 35.0 - 30.0 * np.cos(np.radians(30.0))                  # outer top to inner chord ends
    expect = np.array([chord, 40.0, height])
    assert np.all(m.extents <= expect + 1e-6) and np.all(m.extents >= expect - 0.5)  # chamfers trim <= c
    # volume of a shell sector (chamfers remove a sliver)
    vol = 0.5 * np.radians(60.0) * (35.0 ** 2 - 30.0 ** 2) * 40.0
    assert 0.97 * vol < m.volume < vol


@pytest.mark.parametrize("family", ["arc", "flat"])
def test_tile_rests_on_its_face_or_arc_not_on_an_end(tmp_path, family):
    p = (make_tiles.arc_tile(30.0, 5.0, 70.0, 45.0, 0.6) if family == "arc"
         else make_tiles.flat_tile(45.0, 20.0, 5.0, 0.6))
    part = _export(tmp_path, p, family)
    poses = stable_poses(part, "mm", None)
    T, _ = poses[0]
    rested = part.mesh.copy()
    rested.apply_transform(T)
    assert abs(rested.bounds[0, 2]) < 1e-9                            # touches the stage
    # the most likely pose lies down: its height is the tile's own, not its length or width
    assert rested.extents[2] == pytest.approx(part.mesh.extents[2], abs=1e-6)
    assert sum(pr for T, pr in poses if abs(np.asarray(T)[2, 1]) > 0.9) < 0.1  # standing on an end is rare


def test_tile_long_edges_are_sharp_and_the_arc_is_smooth():
    m = make_tiles.arc_tile(30.0, 5.0, 70.0, 45.0, 0.6)
    segs = feature_edges(m, 30.0)
    # no feature edge runs across the smooth arc: every one lies on the tile's outline (its
    # chamfered long edges, or the rims of its two end faces)
    mid = segs.mean(1)
    r = np.hypot(mid[:, 0], mid[:, 2] - 0.0)
    on_end = np.isclose(np.abs(mid[:, 1]), 22.5, atol=1e-6)
    near_side = np.abs(np.degrees(np.arctan2(mid[:, 0], mid[:, 2]))) > 35.0 - 2.0
    assert np.all(on_end | near_side), r
    assert near_side.sum() >= 8   # chamfer edges along both sides, inner and outer


def test_draw_respects_ranges_and_is_seeded():
    a = [make_tiles.draw(np.random.default_rng(4), f) for f in ("arc", "flat")]
    b = [make_tiles.draw(np.random.default_rng(4), f) for f in ("arc", "flat")]
    assert a == b
    for p in a:
        for k, v in p.items():
            if k in make_tiles.RANGES:
                lo, hi = make_tiles.RANGES[k]
                assert lo - 1e-9 <= v <= hi + 1e-9 or k in ("thickness_mm", "chamfer_mm")
        assert p["chamfer_mm"] <= 0.25 * p["thickness_mm"] + 1e-9
