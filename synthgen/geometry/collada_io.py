"""COLLADA (``.dae``) meshes through pycollada, for the part models of robot-simulation libraries.

trimesh's own reader misses what those files often hold: ``<instance_node>`` references into
``<library_nodes>`` and files without a ``<scene>``, so such parts loaded empty. Here every
triangle, polylist and polygons primitive is triangulated (``triangleset()``) and placed by its
node transforms (pycollada's bound scene objects; without a scene, the geometry library as is).

**Units.** The file's ``<unit meter=...>`` states the unit of its numbers. Many exporters write
the default ``meter="1"`` whatever their numbers are, so only a unit other than 1 m is read as a
statement: it must agree with the part's declared ``units`` (one line names both otherwise); a
unit that no ``units`` value names (for example 0.1 m) is applied as the file says and noted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from synthgen.errors import SynthgenError


def file_unit(c) -> float:
    meter = getattr(c.assetInfo, "unitmeter", None)
    return float(meter) if meter else 1.0


def _triangles(primitives) -> list[np.ndarray]:
    import collada

    out = []
    for prim in primitives:
        if isinstance(prim, (collada.polylist.Polylist, collada.polylist.BoundPolylist)):
            prim = prim.triangleset()
        if not isinstance(prim, (collada.triangleset.TriangleSet, collada.triangleset.BoundTriangleSet)):
            continue  # lines and points hold no surface
        if prim.vertex is None or len(prim.vertex_index) == 0:
            continue
        out.append(np.asarray(prim.vertex, float)[np.asarray(prim.vertex_index)].reshape(-1, 3, 3))
    return out


def load_collada(path: Path, units: str, unit_scale: dict[str, float]) -> tuple[trimesh.Trimesh, float, list[str]]:
    """(mesh in the file's numbers, factor to metres, notes). Raises a one-line error on a bad file."""
    import collada

    try:
        c = collada.Collada(str(path), ignore=[collada.common.DaeUnsupportedError, collada.common.DaeBrokenRefError])
    except Exception as exc:  # noqa: BLE001 - pycollada raises many types for broken XML
        first = (str(exc).strip().splitlines() or [""])[0]
        raise SynthgenError(f"{path}: cannot read it as DAE: {type(exc).__name__}: {first}"[:240]) from None
    tris = []
    if c.scene is not None:
        for bound in c.scene.objects("geometry"):
            tris += _triangles(bound.primitives())
    if not tris:  # no scene, or a scene that instances nothing: the geometry library as written
        for geom in c.geometries:
            tris += _triangles(geom.primitives)
    if not tris:
        raise SynthgenError(f"{path}: CAD file holds no triangles (no triangles, polylist or polygons in its "
                            f"geometries)")
    v = np.concatenate(tris).reshape(-1, 3)
    mesh = trimesh.Trimesh(v, np.arange(len(v)).reshape(-1, 3), process=True)
    meter = file_unit(c)
    notes = []
    if np.isclose(meter, 1.0):
        return mesh, unit_scale[units], notes
    named = [u for u, s in unit_scale.items() if np.isclose(s, meter)]
    if named and units not in named:
        raise SynthgenError(f"{path}: the file states its unit as <unit meter=\"{meter:g}\"> ({named[0]}), but the "
                            f"part declares units: {units} (set units: {named[0]})")
    if not named:
        notes.append(f"the file's unit <unit meter=\"{meter:g}\"> is applied (no `units` value names it)")
    return mesh, meter, notes
