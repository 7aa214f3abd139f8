"""Parametric ferrite magnet tiles for the magnetic-tile twin (configs/twin_magnetic_tile.yaml).

    python assets/make_tiles.py                 # writes assets/parts/tiles/*.stl (units: mm)
    python assets/make_tiles.py --arcs 8 --flats 4 --seed 3

Two families, as used in motors and sensors:
- arc segments: a shell sector of inner radius R, thickness t, arc angle a and length L, with its
  four long edges chamfered by c; the tile rests on its two long edges (concave side down) or on
  its convex face, depending on the pose;
- flat tiles: an L x W x t block with its four long edges chamfered by c.

Assumed sizes (typical motor arc magnets and flat magnet tiles, tens of millimetres; the real
photos carry no scale): R 15-40 mm, t 3-8 mm, a 40-100 degrees, L 20-60 mm, W 12-30 mm,
c 0.3-1.0 mm. The parameters of every tile are written to tiles.json beside the meshes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import trimesh
from shapely.geometry import Polygon

OUT = Path(__file__).resolve().parent / "parts" / "tiles"
RANGES = {"radius_mm": (15.0, 40.0), "thickness_mm": (3.0, 8.0), "arc_deg": (40.0, 100.0),
          "length_mm": (20.0, 60.0), "width_mm": (12.0, 30.0), "chamfer_mm": (0.3, 1.0)}


def _chamfered(points: list[tuple[float, float]], corners: list[int], c: float) -> list[tuple[float, float]]:
    """Cut each listed corner of a closed polygon by ``c`` along both of its edges."""
    out = []
    n = len(points)
    for i, p in enumerate(points):
        if i not in corners:
            out.append(p)
            continue
        p = np.asarray(p, float)
        for q in (points[(i - 1) % n], points[(i + 1) % n]):
            d = np.asarray(q, float) - p
            out.append(tuple(p + c * d / np.linalg.norm(d)))
    return out


def _extrude(section: list[tuple[float, float]], length: float) -> trimesh.Trimesh:
    """Extrude a cross-section drawn in the (x, z) plane along y, centred on y = 0."""
    poly = Polygon(section)
    if not poly.exterior.is_ccw:
        poly = Polygon(list(poly.exterior.coords)[::-1])
    m = trimesh.creation.extrude_polygon(poly, length)  # along +z in the polygon's (x, y) frame
    # (x, y, z) -> (x, z_section, y_extrusion): rotate +90 degrees about x
    m.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    m.apply_translation((0, length / 2, 0))
    return m


def arc_tile(radius: float, thickness: float, arc_deg: float, length: float, chamfer: float,
             segments: int = 64) -> trimesh.Trimesh:
    """Shell sector, convex side up, its four long edges chamfered."""
    a = np.radians(arc_deg) / 2
    ang = np.linspace(-a, a, segments)
    outer = [((radius + thickness) * np.sin(t), (radius + thickness) * np.cos(t)) for t in ang]
    inner = [(radius * np.sin(t), radius * np.cos(t)) for t in ang[::-1]]
    pts = outer + inner
    n = len(outer)
    # corners: both ends of the outer arc and of the inner arc
    sec = _chamfered(pts, [0, n - 1, n, 2 * n - 1], chamfer)
    return _extrude(sec, length)


def flat_tile(length: float, width: float, thickness: float, chamfer: float) -> trimesh.Trimesh:
    """Block with its four long edges chamfered (section in x-z, length along y)."""
    w, t = width / 2, thickness
    sec = _chamfered([(-w, 0.0), (w, 0.0), (w, t), (-w, t)], [0, 1, 2, 3], chamfer)
    return _extrude(sec, length)


def draw(rng: np.random.Generator, family: str) -> dict:
    p = {k: round(float(rng.uniform(*v)), 2) for k, v in RANGES.items()}
    p["thickness_mm"] = round(min(p["thickness_mm"], 0.35 * p["radius_mm"]), 2)
    p["chamfer_mm"] = round(min(p["chamfer_mm"], 0.25 * p["thickness_mm"]), 2)
    keep = {"arc": ("radius_mm", "thickness_mm", "arc_deg", "length_mm", "chamfer_mm"),
            "flat": ("length_mm", "width_mm", "thickness_mm", "chamfer_mm")}[family]
    return {"family": family, **{k: p[k] for k in keep}}


def build(p: dict) -> trimesh.Trimesh:
    if p["family"] == "arc":
        return arc_tile(p["radius_mm"], p["thickness_mm"], p["arc_deg"], p["length_mm"], p["chamfer_mm"])
    return flat_tile(p["length_mm"], p["width_mm"], p["thickness_mm"], p["chamfer_mm"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arcs", type=int, default=6)
    ap.add_argument("--flats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i, fam in enumerate(["arc"] * args.arcs + ["flat"] * args.flats):
        p = draw(rng, fam)
        m = build(p)
        assert m.is_watertight and m.volume > 0, p
        name = f"{fam}_{i:02d}"
        m.export(args.out / f"{name}.stl")
        meta[name] = p
        print(f"{name}: {p}, extents {np.round(m.extents, 1)} mm, {len(m.faces)} faces")
    (args.out / "tiles.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
