"""Generate synthgen's sample parts procedurally (no downloads): real, watertight meshes.

    python assets/make_parts.py            # writes assets/parts/*.stl (units: mm)

- door_panel.stl: stamped sheet-metal panel, 1.5 mm sheet, bent flanges on all sides, an
  embossed stiffening bead, a window cut-out and mounting holes.
- bracket.stl: L bracket, 4 mm plate, with slotted/round holes and a triangular gusset.
- flange.stl: pipe flange with raised hub, central bore and a bolt circle of 6 holes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from shapely.geometry import Polygon
from trimesh.creation import box, cylinder

OUT = Path(__file__).resolve().parent / "parts"


def _at(mesh: trimesh.Trimesh, xyz) -> trimesh.Trimesh:
    m = mesh.copy()
    m.apply_translation(xyz)
    return m


def _union(ms):
    return trimesh.boolean.union(ms, engine="manifold")


def _diff(a, bs):
    return trimesh.boolean.difference([a, *bs], engine="manifold")


def door_panel() -> trimesh.Trimesh:
    L, W, t, fh = 220.0, 140.0, 1.5, 12.0  # mm: length, width, sheet thickness, flange height
    sheet = box((L, W, t))
    flanges = [
        _at(box((L, t, fh)), (0, W / 2 - t / 2, -fh / 2)),
        _at(box((L, t, fh)), (0, -W / 2 + t / 2, -fh / 2)),
        _at(box((t, W, fh)), (L / 2 - t / 2, 0, -fh / 2)),
        _at(box((t, W, fh)), (-L / 2 + t / 2, 0, -fh / 2)),
    ]
    # Embossed bead: a raised, hollow-looking rib (shell of a rounded bar) along the length.
    bead_outer = _at(box((150, 14, 4 + t)), (0, -35, 2 + t / 2))
    bead_inner = _at(box((146, 14 - 2 * t, 4 + t)), (0, -35, 2 - t / 2))
    bead = _diff(bead_outer, [bead_inner])
    body = _union([sheet, *flanges, bead])
    window = _at(box((70, 36, 40)), (35, 30, 0))
    holes = [_at(cylinder(radius=4.0, height=40, sections=48), (x, y, 0))
             for x in (-95, 95) for y in (-55, 55)]
    holes += [_at(cylinder(radius=2.5, height=40, sections=32), (x, 30, 0)) for x in (-60, -40, -20)]
    return _diff(body, [window, *holes])


def bracket() -> trimesh.Trimesh:
    t, L, W, H = 4.0, 80.0, 50.0, 60.0
    base = _at(box((L, W, t)), (L / 2, 0, t / 2))
    wall = _at(box((t, W, H)), (t / 2, 0, H / 2))
    # Triangular gusset in the middle: an extruded right triangle.
    tri = trimesh.creation.extrude_polygon(Polygon([(0, 0), (35, 0), (0, 35)]), 4.0)
    tri.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    tri.apply_translation((t, 2.0, t))
    body = _union([base, wall, tri])
    holes = [_at(cylinder(radius=3.5, height=20, sections=40), (x, y, 0)) for x in (45, 68) for y in (-15, 15)]
    wall_holes = []
    for y in (-14, 14):
        c = cylinder(radius=3.0, height=20, sections=40)
        c.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
        c.apply_translation((t / 2, y, 45))
        wall_holes.append(c)
    return _diff(body, [*holes, *wall_holes])


def flange() -> trimesh.Trimesh:
    disc = _at(cylinder(radius=60, height=10, sections=128), (0, 0, 5))
    hub = _at(cylinder(radius=32, height=12, sections=128), (0, 0, 16))
    body = _union([disc, hub])
    bore = cylinder(radius=22, height=80, sections=96)
    bolts = [_at(cylinder(radius=5.5, height=40, sections=40),
                 (46 * np.cos(a), 46 * np.sin(a), 0)) for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)]
    return _diff(body, [bore, *bolts])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fn in [("door_panel", door_panel), ("bracket", bracket), ("flange", flange)]:
        m = fn()
        assert m.is_watertight, f"{name} is not watertight"
        m.export(OUT / f"{name}.stl")
        print(f"{name}: {len(m.faces)} faces, extents {np.round(m.extents, 1)} mm, watertight={m.is_watertight}")


if __name__ == "__main__":
    main()
