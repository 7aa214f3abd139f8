"""Render a close-up of every defect kind on a sample part and write a labelled gallery PNG.

    python docs/make_defect_gallery.py [--out docs/defect_gallery.png] [--samples 32]

Each tile is one kind on the top face of a brushed-steel plate (a 25 mm map), lit by an area
light at a grazing angle, seen by a 50 mm lens 0.12 m away. The right half of each tile shows the
defect's label from the defect-ID pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "docs" / "defect_gallery.png"))
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--size-mm", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    import trimesh

    from synthgen.blender import render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.blender.verify import camera_verdict, saved_labels
    from synthgen.config.job import JobConfig
    from synthgen.dataset.preview import overlay
    from synthgen.plan import make_plan
    from synthgen.plan.library import resolve_library
    from synthgen.textures.kinds import builtin_recipes

    tmp = Path(tempfile.mkdtemp())
    trimesh.creation.box((120.0, 120.0, 4.0)).export(tmp / "plate.stl")
    tiles = []
    for kind in builtin_recipes():
        kinds = {kind: {"size_mm": [args.size_mm, args.size_mm], "count_per_part": [1, 1], "resolution": 512,
                        "surface": {"direction": [0, 0, 1], "max_angle_deg": 5}}}
        cfg = JobConfig.model_validate({
            "seed": args.seed, "out": str(tmp / "out"),
            "parts": [{"name": "plate", "path": str(tmp / "plate.stl"), "units": "mm"}],
            "parts_per_scene": [1, 1], "placement": {"area": [0.001, 0.001]},
            "render": {"resolution": [400, 300], "samples": args.samples, "denoise": True},
            "cameras": {"ark": {"count": 1, "radius": 0.12, "arc_deg": 0}, "position_jitter": 0,
                        "aim_jitter_deg": 0, "roll_jitter_deg": 0, "focal_length_mm": [50, 50],
                        "focus": {"enabled": False}},
            "lights": [{"type": "area", "position": [0.25, -0.1, 0.12], "power": [4, 4], "size": [0.15, 0.15],
                        "position_jitter": 0, "temperature": [5500, 5500]}],
            "materials": [{"name": "steel", "finish": "brushed",
                           "base_color": {"min": [0.55, 0.55, 0.55], "max": [0.55, 0.55, 0.55]},
                           "metallic": [0.9, 0.9], "roughness": [0.35, 0.35]}],
            "stage": {"world_strength": [0.3, 0.3]},
            "defects": {"variants_per_kind": 1, "kinds": kinds},
        })
        lib = resolve_library(cfg, cfg.seed, tmp / "cache")
        plan = make_plan(cfg, 0, cache_dir=tmp / "cache", library=lib)
        # Put the defect at the centre of the view.
        d = plan.defects[0]
        look = np.array(d.position)
        cam = plan.cameras[0]
        M = np.array(cam.matrix_world)
        M[:3, 3] = look + np.array([0, 0, 0.12])
        plan = dataclasses.replace(plan, cameras=(dataclasses.replace(cam, matrix_world=tuple(map(tuple, M))),))
        start_session()
        built = build(plan)
        _check, cv = camera_verdict(built, 0, cfg)  # the labels `synthgen render` writes
        ids = np.zeros((300, 400), np.int32) if cv is None else saved_labels(plan, cv)
        render.render_camera(built, 0)
        render.save_render(tmp / f"{kind}.png")
        clear()
        img = np.asarray(Image.open(tmp / f"{kind}.png").convert("RGB"))
        lab = overlay(img, (ids > 0).astype(np.uint16))
        tile = Image.fromarray(np.concatenate([img, lab], axis=1))
        ImageDraw.Draw(tile).text((6, 4), f"{kind} ({', '.join(d.types)})", fill=(255, 255, 0))
        tiles.append(tile)
    w, h = tiles[0].size
    cols = 2
    sheet = Image.new("RGB", (cols * w, ((len(tiles) + cols - 1) // cols) * h))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * w, (i // cols) * h))
    sheet.save(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
