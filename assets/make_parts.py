"""Generate synthgen's sample parts procedurally (no downloads): real, watertight meshes.

    python assets/make_parts.py            # writes assets/parts/*.stl (units: mm)

- door_panel.stl: stamped sheet-metal panel, 1.5 mm sheet, bent flanges on all sides, an
  embossed stiffening bead, a window cut-out and mounting holes.
- bracket.stl: L bracket, 4 mm plate, with slotted/round holes and a triangular gusset.
- flange.stl: pipe flange with raised hub, central bore and a bolt circle of 6 holes.
- car_door.stl: a door-size (1.8 x 0.9 m) inner panel, 1.2 mm sheet, 40 mm flanges all round, a
  window opening, two stiffening beads and rows of stamped holes (the production scenario).

    python assets/make_parts.py --only car_door     # one part
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


def car_door(L: float = 1800.0, W: float = 900.0, t: float = 1.2, fh: float = 40.0) -> trimesh.Trimesh:
    """A door inner panel in mm: sheet, flanges, window opening, beads and stamped holes."""
    sheet = box((L, W, t))
    flanges = [_at(box((L, t, fh)), (0, s * (W / 2 - t / 2), -fh / 2)) for s in (-1, 1)]
    flanges += [_at(box((t, W, fh)), (s * (L / 2 - t / 2), 0, -fh / 2)) for s in (-1, 1)]
    beads = []
    for y in (-W * 0.30, -W * 0.12):
        outer = _at(box((L * 0.7, 40, 8 + t)), (-L * 0.05, y, 4 + t / 2))
        inner = _at(box((L * 0.7 - 4, 40 - 2 * t, 8 + t)), (-L * 0.05, y, 4 - t / 2))
        beads.append(_diff(outer, [inner]))
    body = _union([sheet, *flanges, *beads])
    window = _at(box((L * 0.55, W * 0.32, 100)), (L * 0.12, W * 0.25, 0))
    holes = [_at(cylinder(radius=6.0, height=100, sections=48), (x, y, 0))
             for x in np.linspace(-L * 0.45, L * 0.45, 9) for y in (-W * 0.43, W * 0.43)]
    holes += [_at(cylinder(radius=15.0, height=100, sections=64), (x, W * 0.02, 0)) for x in (-L * 0.35, -L * 0.2)]
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
    import argparse

    parts = {"door_panel": door_panel, "bracket": bracket, "flange": flange, "car_door": car_door}
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=sorted(parts), action="append", help="write only this part (repeatable)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fn in [(n, parts[n]) for n in (args.only or parts)]:
        m = fn()
        assert m.is_watertight, f"{name} is not watertight"
        m.export(OUT / f"{name}.stl")
        print(f"{name}: {len(m.faces)} faces, extents {np.round(m.extents, 1)} mm, watertight={m.is_watertight}")


if __name__ == "__main__":
    main()
