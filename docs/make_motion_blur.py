"""docs/motion_blur.png: one scene rendered still and with the belt's motion blur, labels outlined
(under blur, a pixel is labelled where its defect shows for more than half the exposure).

    python docs/make_motion_blur.py [--config configs/quickstart.yaml] [--scene 0] [--camera 2] \
        [--speed 1.0] [--exposure-ms 8] [--out docs/motion_blur.png]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def render(plan, cfg, tmp: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The camera's image and the labels `synthgen render` writes for it (camera_verdict)."""
    from synthgen.blender import render as rnd
    from synthgen.blender.build import build, clear, start_session
    from synthgen.blender.verify import camera_verdict, saved_labels

    start_session()
    built = build(plan)
    cam = plan.cameras[0].camera_id
    _check, cv = camera_verdict(built, cam, cfg)
    w, h = plan.render.resolution
    ids = np.zeros((h, w), np.int32) if cv is None else saved_labels(plan, cv)
    rnd.render_camera(built, cam)
    rnd.save_render(tmp / f"{name}.png")
    clear()
    return np.asarray(Image.open(tmp / f"{name}.png").convert("RGB")), ids


def outlined(img: np.ndarray, ids: np.ndarray) -> np.ndarray:
    import cv2

    out = img.copy()
    for i in np.unique(ids[ids > 0]):
        cs, _ = cv2.findContours((ids == i).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, cs, -1, (255, 220, 0), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "configs" / "quickstart.yaml"))
    ap.add_argument("--scene", type=int, default=0)
    ap.add_argument("--camera", type=int, default=2, help="index of the planned camera")
    ap.add_argument("--speed", type=float, default=1.0, help="belt speed (m/s)")
    ap.add_argument("--exposure-ms", type=float, default=8.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "motion_blur.png")
    args = ap.parse_args()

    from synthgen.config.job import load_job_config
    from synthgen.plan import make_plan
    from synthgen.plan.library import resolve_library

    cfg = load_job_config(args.config, {"render.resolution": (480, 360), "render.samples": 64})
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        lib = resolve_library(cfg, cfg.seed, tmp / "cache")
        plan = make_plan(cfg, args.scene, cache_dir=tmp / "cache", library=lib)
        plan = replace(plan, cameras=(plan.cameras[args.camera],))
        moving = replace(plan, render=replace(plan.render, motion_blur=(args.speed, args.exposure_ms / 1000.0, 8)))
        still_img, still_ids = render(plan, cfg, tmp, "still")
        blur_img, blur_ids = render(moving, cfg, tmp, "moving")
    top = np.hstack([outlined(still_img, still_ids), outlined(blur_img, blur_ids)])
    h, w = still_img.shape[:2]
    ids, counts = np.unique(still_ids[still_ids > 0], return_counts=True)
    ys, xs = np.nonzero(still_ids == ids[np.argmax(counts)]) if len(ids) else (np.array([h // 2]), np.array([w // 2]))
    cy, cx = int(ys.mean()), int(xs.mean())  # zoom on the largest label
    y0, x0 = min(max(cy - 45, 0), h - 90), min(max(cx - 60, 0), w - 120)
    zoom = [Image.fromarray(a[y0:y0 + 90, x0:x0 + 120]).resize((w, int(w * 0.75)), Image.NEAREST)
            for a in (outlined(still_img, still_ids), outlined(blur_img, blur_ids))]
    sheet = Image.new("RGB", (2 * w, h + zoom[0].height + 24), (255, 255, 255))
    sheet.paste(Image.fromarray(top), (0, 24))
    sheet.paste(zoom[0], (0, h + 24))
    sheet.paste(zoom[1], (w, h + 24))
    d = ImageDraw.Draw(sheet)
    d.text((6, 6), "still", fill=(0, 0, 0))
    d.text((w + 6, 6), f"belt {args.speed:g} m/s, exposure {args.exposure_ms:g} ms "
           f"({args.speed * args.exposure_ms:g} mm of travel); labels: > half the exposure", fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
