"""Scenes with known geometry for label and defect tests: a flat plate seen from straight above,
and a hand-made defect library (the drop-in format a texture artist would deliver)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

PLATE_MM = (100.0, 100.0, 3.0)
BELT_GREEN = {"min": [0.02, 0.35, 0.02], "max": [0.02, 0.35, 0.02]}


def write_plate(root: Path) -> Path:
    p = root / "plate.stl"
    trimesh.creation.box(PLATE_MM).export(p)
    return p


def disc_variant(vdir: Path, n: int = 128, types=("deformation", "encrustation", "hole"),
                 hole_r: float = 0.3, enc_r: tuple[float, float] = (0.3, 0.55), dent_r: float = 0.8) -> Path:
    """A radially symmetric defect: a dent of radius dent_r (map half-widths), an encrusted ring
    enc_r and a round hole of radius hole_r; mask = union of what ``types`` uses."""
    vdir.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(xx + 0.5 - n / 2, yy + 0.5 - n / 2) / (n / 2)
    z = np.zeros((n, n))
    occ = np.zeros((n, n))
    enc = np.zeros((n, n))
    hole = np.zeros((n, n))
    if "deformation" in types:
        z = np.where(r < dent_r, -np.cos(np.clip(r / dent_r, 0, 1) * np.pi / 2) ** 2, 0.0)
        occ = (r < dent_r).astype(float)
    if "encrustation" in types:
        enc = ((r >= enc_r[0]) & (r < enc_r[1])).astype(float)
    if "hole" in types:
        hole = (r < hole_r).astype(float)
    mask = (occ > 0.5) | (enc > 0.5) | (hole > 0.5)
    save = lambda name, a: Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8)).save(vdir / name)
    Image.fromarray(((z + 1) / 2 * 65535).round().astype(np.uint16)).save(vdir / "height.png")
    gy, gx = np.gradient(z * 0.5)
    nrm = np.dstack([-gx, gy, np.ones_like(z)])
    nrm /= np.linalg.norm(nrm, axis=2, keepdims=True)
    Image.fromarray(((nrm * 0.5 + 0.5) * 255).round().astype(np.uint8)).save(vdir / "normal.png")
    save("roughness.png", 0.9 * occ)
    save("occlusion.png", occ)
    save("encrustation.png", enc)
    save("hole.png", hole)
    save("mask.png", mask.astype(float))
    (vdir / "meta.json").write_text(json.dumps({
        "kind": vdir.parent.name, "generator": "break", "types": sorted(types), "depth_mm": 1.0,
        "resolution": n, "material": {"base_color": [0.7, 0.05, 0.02], "roughness": 0.9, "metallic": 0.0}}))
    return vdir


def plate_config(root: Path, kinds: dict, out: Path | None = None, resolution=(160, 120), samples=4) -> dict:
    """One plate, camera straight above at 0.25 m, belt bright green, defects from ``kinds``."""
    return {
        "seed": 3, "num_scenes": 1, "out": str(out or root / "out"),
        "parts": [{"name": "plate", "path": str(write_plate(root)), "units": "mm"}],
        "parts_per_scene": [1, 1], "placement": {"area": [0.002, 0.002]},
        "render": {"resolution": list(resolution), "samples": samples, "denoise": False, "max_bounces": 2},
        "cameras": {"ark": {"count": 1, "radius": 0.25, "arc_deg": 0}, "position_jitter": 0, "aim_jitter_deg": 0,
                    "roll_jitter_deg": 0, "focal_length_mm": [50, 50], "focus": {"enabled": False}},
        "lights": [{"type": "area", "position": [0.05, -0.1, 0.5], "power": [6, 6], "position_jitter": 0,
                    "temperature": [6500, 6500]}],
        "materials": [{"name": "grey", "finish": "plain", "base_color": {"min": [0.5, 0.5, 0.5], "max": [0.5, 0.5, 0.5]},
                       "metallic": [0, 0], "roughness": [0.5, 0.5]}],
        "stage": {"belt": {"color": BELT_GREEN, "bump_strength": [0, 0]}, "world_strength": [0.2, 0.2]},
        "verification": {"min_visible_pixels": 5, "min_visible_fraction": 0.05},
        "defects": {"library": str(root / "lib"), "variants_per_kind": 1, "kinds": kinds},
    }


def top_kind(size_mm: float = 30.0, types=("deformation", "encrustation", "hole"), direction=(0, 0, 1)) -> dict:
    return {"generator": "break", "types": list(types), "size_mm": [size_mm, size_mm], "count_per_part": [1, 1],
            "surface": {"direction": list(direction), "max_angle_deg": 5}, "depth_mm": 1.0}


def expected_label(plan, defect, mask_png: Path, plate_half=(0.05, 0.05)) -> np.ndarray:
    """Analytic label of a defect on the plate's top face: cast each pixel centre's ray to the top
    plane, map the hit into the decal frame, sample the mask (bilinear, > 0.5) and keep hits on
    the plate. Returns (H, W) bool."""
    from synthgen.geometry.camera import intrinsics
    from synthgen.geometry.decal import decal_frame, map_side_mm

    cam = plan.cameras[0]
    w, h = plan.render.resolution
    K = intrinsics(cam.focal_length_mm, cam.sensor_width_mm, (w, h))
    C = np.array(cam.matrix_world)
    v, u = np.mgrid[0:h, 0:w] + 0.5
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], -(v - K[1, 2]) / K[1, 1], -np.ones_like(u)], -1)
    d = d_cam @ C[:3, :3].T
    eye = C[:3, 3]
    ztop = defect.position[2]
    t = (ztop - eye[2]) / d[..., 2]
    hit = eye + t[..., None] * d
    F = decal_frame(defect.position, defect.normal, defect.rotation_deg)
    local = (hit - F[:3, 3]) @ F[:3, :3]
    half = map_side_mm(defect) / 2000.0
    uvx = (local[..., 0] / half + 1) / 2
    uvy = (local[..., 1] / half + 1) / 2
    m = np.asarray(Image.open(mask_png).convert("L"), np.float32) / 255.0
    n = m.shape[0]
    # Image rows run top-down, decal +y is up: row = (1 - uvy) * n (Blender images are bottom-up).
    px = uvx * n - 0.5
    py = (1 - uvy) * n - 0.5
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    fx, fy = px - x0, py - y0
    def at(yy, xx):
        ok = (xx >= 0) & (xx < n) & (yy >= 0) & (yy < n)
        return np.where(ok, m[np.clip(yy, 0, n - 1), np.clip(xx, 0, n - 1)], 0.0)
    val = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
           + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)
    P = np.array(plan.parts[0].matrix_world)
    part_local = (hit - P[:3, 3]) @ P[:3, :3]
    on_plate = (np.abs(part_local[..., 0]) <= plate_half[0]) & (np.abs(part_local[..., 1]) <= plate_half[1])
    inside = (np.abs(local[..., 0]) < half) & (np.abs(local[..., 1]) < half)
    return (val > 0.5) & on_plate & inside
