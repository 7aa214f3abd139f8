"""Label truth: does every label change the image, and is every change labelled?

For each config it renders a dataset, then re-renders every accepted image with all defects
switched off (same plan, camera, lights and Cycles seed) and compares the two:

- unlabelled damage: pixels changed by more than 25/255 (any channel) that lie outside the
  instance masks dilated by 1 px, as a fraction of all changed pixels; also with direct light
  only (both renders without bounces), which leaves out a defect's reflection in a glossy
  neighbour and other indirect light, so what remains is damage to the geometry itself (and
  light let through a hole);
- invisible labels: kept instances with under 20 % of their label pixels changed by more than
  10/255;
- verification cost: seconds spent verifying (geometry, ID pass, contrast check) / seconds of
  final rendering, as the run's own time split records them.

    python benchmarks/label_truth.py --set quickstart --set cad [--scenes 2] [--out out/label_truth]
    python benchmarks/label_truth.py --set cost   # quickstart at 640x480, 128 samples: 1 scene, 3 cameras

``cad`` makes one config per part in ../shared/data/cad (that part alone, all eight defect
kinds, one of each per part, camera distance and defect sizes scaled to the part); ``gear``
does the same for a procedural spur gear, whose tooth flanks sit a few millimetres apart; ``box`` for a
44 x 14 x 47 mm box-shaped housing with every defect planned within 2 mm of an edge. For the
worst image of each config it writes ``<out>/<name>_worst.png``: with | without | changes
(red = unlabelled, green = labelled change, blue = label without change).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CAD = Path(os.environ.get("SYNTHGEN_SHARED_DATA", REPO.parent / "shared" / "data")) / "cad"
CAD_UNITS = {"featuretype.STEP": "m", "1002_tray_bottom.STL": "mm", "angle_block.STL": "in",
             "plate_holes.STL": "mm", "idler_riser.STL": "in", "fandisk.obj": "in"}
CHANGED, FAINT, MIN_CHANGED_SHARE = 25, 10, 0.2


def quickstart() -> dict:
    """The quickstart config as a dict; its relative paths resolve against configs/ in run_one."""
    import yaml

    return yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())


def cad_configs() -> dict[str, dict]:
    from synthgen.geometry.cad import load_part

    out = {}
    for name, units in sorted(CAD_UNITS.items()):
        path = CAD / name
        if not path.exists():
            continue
        ext = float(load_part(path, units).mesh.extents.max())  # m
        d = quickstart()
        d["parts"] = [{"name": path.stem.lower(), "path": str(path), "units": units, "count": [1, 1]}]
        out[f"cad_{path.stem.lower()}"] = _single_part(d, ext)
    return out


def gear_config(out: Path) -> dict:
    """A spur gear (20 teeth, 60 mm tip diameter, 8 mm thick, 16 mm bore) written to ``out``:
    tooth flanks a few millimetres apart, where a hole that cut a fixed slab opened the next tooth."""
    import shapely.geometry as sg
    import trimesh

    pts = []
    for i in range(20):
        a, w = 2 * np.pi * i / 20, 2 * np.pi / 20
        for f, r in ((0.0, 0.024), (0.2, 0.024), (0.35, 0.03), (0.65, 0.03), (0.8, 0.024)):
            pts.append((r * np.cos(a + f * w), r * np.sin(a + f * w)))
    bore = list(sg.Point(0, 0).buffer(0.008, 32).exterior.coords)[::-1]
    out.mkdir(parents=True, exist_ok=True)
    trimesh.creation.extrude_polygon(sg.Polygon(pts, [bore]), 0.008).export(out / "gear.stl")
    d = quickstart()
    d["parts"] = [{"name": "gear", "path": str(out / "gear.stl"), "units": "m", "count": [1, 1]}]
    return _single_part(d, 0.06)


def box_config(out: Path) -> dict:
    """A box-shaped housing (44 x 14 x 47 mm) with every defect planned within 2 mm of an edge:
    a defect there can reach the neighbouring face, which the label gate leaves out (issue 28)."""
    import trimesh

    out.mkdir(parents=True, exist_ok=True)
    trimesh.creation.box((0.044, 0.014, 0.047)).export(out / "box.stl")
    d = quickstart()
    d["parts"] = [{"name": "box", "path": str(out / "box.stl"), "units": "m", "count": [1, 1]}]
    d = _single_part(d, 0.047)
    for k in d["defects"]["kinds"].values():
        k["surface"] = {**k.get("surface", {}), "max_edge_distance_mm": 2.0}
    return d


def _single_part(d: dict, ext: float) -> dict:
    """One part alone, 5 cameras at a distance and defect sizes scaled to its largest extent (m)."""
    d["parts_per_scene"] = [1, 1]
    d["placement"] = {"area": [0.02, 0.02], "clearance": 0.01}
    d["cameras"]["ark"]["radius"] = float(np.clip(2.6 * ext, 0.12, 1.2))
    d["cameras"]["ark"]["count"] = 5
    s = min(1.0, ext / 0.15)  # defect sizes of the quickstart, shrunk on small parts
    for k in d["defects"]["kinds"].values():
        k["size_mm"] = [round(v * s, 2) for v in k["size_mm"]]
        k["count_per_part"] = [1, 1]
    return d


def rerender_without(cfg, ds: Path, threads: int) -> tuple[dict[str, np.ndarray], dict[str, tuple]]:
    """Every accepted image of ``ds`` rendered again with all defects off: stem -> (H, W, 3);
    and, with direct light only (no bounces), with its kept defects on and off: stem -> (on, off),
    which separates damage to the geometry from reflections and indirect light."""
    from synthgen.blender import defects as bdefects
    from synthgen.blender import render
    from synthgen.blender.build import build, clear, start_session
    from synthgen.plan.library import written_plan

    out, direct = {}, {}
    start_session()

    def shot(cam_id: int, tmp: Path) -> np.ndarray:
        render.render_camera(built, cam_id)
        render.save_render(tmp)
        img = np.asarray(Image.open(tmp).convert("RGB")).astype(np.int16)
        tmp.unlink()
        return img

    for rec_path in sorted((ds / "plans").glob("*.json")):
        rec = json.loads(rec_path.read_text())
        if rec.get("status") != "accepted":
            continue
        plan = written_plan(cfg, rec, ds)
        built = build(plan, threads=threads)
        for cam in rec["accepted_cameras"]:
            stem = Path(cam["image"]).stem
            bdefects.set_enabled(built, set())
            out[stem] = shot(cam["camera_id"], ds / f".without_{stem}.png")
        import bpy

        bpy.context.scene.cycles.max_bounces = 0
        for cam in rec["accepted_cameras"]:
            stem = Path(cam["image"]).stem
            bdefects.set_enabled(built, {v["defect_id"] for v in cam["visible_defects"]})
            on = shot(cam["camera_id"], ds / f".direct_{stem}.png")
            bdefects.set_enabled(built, set())
            direct[stem] = (on, shot(cam["camera_id"], ds / f".direct_{stem}.png"))
        clear()
    return out, direct


def compare(ds: Path, without: dict[str, np.ndarray], direct: dict[str, tuple], name: str, fig_dir: Path) -> dict:
    import cv2

    changed_total = unlabelled_total = direct_changed = direct_unlabelled = 0
    inst_fracs, worst = [], (-1, None)
    for stem, wo in sorted(without.items()):
        wi = np.asarray(Image.open(ds / "images" / f"{stem}.png").convert("RGB")).astype(np.int16)
        inst = np.asarray(Image.open(ds / "masks" / "instance" / f"{stem}.png"))
        delta = np.abs(wi - wo).max(axis=2)
        changed = delta > CHANGED
        lab = cv2.dilate((inst > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        unl = changed & ~lab
        changed_total += int(changed.sum())
        unlabelled_total += int(unl.sum())
        d_on, d_off = direct[stem]
        d_changed = np.abs(d_on - d_off).max(axis=2) > CHANGED
        direct_changed += int(d_changed.sum())
        direct_unlabelled += int((d_changed & ~lab).sum())
        for k in np.unique(inst[inst > 0]):
            m = inst == k
            inst_fracs.append(float((delta[m] > FAINT).mean()))
        if unl.sum() > worst[0]:
            worst = (int(unl.sum()), (stem, wi, wo, changed, unl, inst > 0, delta))
    if worst[1] is not None:
        stem, wi, wo, changed, unl, lab, delta = worst[1]
        vis = np.zeros_like(wi)
        vis[changed & lab] = (0, 200, 0)
        vis[lab & (delta <= FAINT)] = (40, 80, 255)
        vis[unl] = (255, 0, 0)
        strip = np.concatenate([wi, wo, vis], axis=1).clip(0, 255).astype(np.uint8)
        fig_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(strip).save(fig_dir / f"{name}_worst.png")
    crops_figure(ds, without, fig_dir / f"{name}_crops.png")
    run = json.loads((ds / "manifest.json").read_text())["last_run"]
    sec = run["seconds"]
    fr = np.array(inst_fracs)
    return {"images": len(without), "instances": len(fr),
            "changed_px": changed_total, "unlabelled_px": unlabelled_total,
            "unlabelled_share": unlabelled_total / changed_total if changed_total else 0.0,
            "direct_unlabelled_share": direct_unlabelled / direct_changed if direct_changed else 0.0,
            "invisible_instances": int((fr < MIN_CHANGED_SHARE).sum()) if len(fr) else 0,
            "median_changed_share": float(np.median(fr)) if len(fr) else float("nan"),
            "verify_s": sec["verify"], "render_s": sec["render"],
            "contrast_s": sec.get("contrast", 0.0),
            "verify_over_render": sec["verify"] / sec["render"] if sec["render"] else float("nan"),
            "contrast_over_render": sec.get("contrast", 0.0) / sec["render"] if sec["render"] else float("nan")}


def crops_figure(ds: Path, without: dict[str, np.ndarray], path: Path, half: int = 24, zoom: int = 4) -> None:
    """One row per defect kind (its largest kept instance): with | without | label outline, zoomed."""
    import cv2

    coco = json.loads((ds / "annotations" / "coco.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    files = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
    best: dict[str, dict] = {}
    for a in coco["annotations"]:
        k = names[a["category_id"]]
        if files[a["image_id"]] in without and a["area"] > best.get(k, {}).get("area", -1):
            best[k] = a
    rows = []
    for k, a in sorted(best.items()):
        stem = files[a["image_id"]]
        wi = np.asarray(Image.open(ds / "images" / f"{stem}.png").convert("RGB"))
        x, y, w, h = a["bbox"]
        cx, cy = int(x + w / 2), int(y + h / 2)
        pad = lambda im: np.pad(im, ((half, half), (half, half)) + ((0, 0),) * (im.ndim - 2))
        sl = (slice(cy, cy + 2 * half), slice(cx, cx + 2 * half))
        from synthgen.annotate.coco import decode_rle

        lab = pad(decode_rle(a["segmentation"]))[sl].astype(np.uint8)
        a_img, b_img = pad(wi)[sl], pad(without[stem].astype(np.uint8))[sl]
        outline = a_img.copy()
        cnts, _ = cv2.findContours(lab, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        big = lambda im: cv2.resize(im, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        outline = big(outline)
        cv2.drawContours(outline, [c * zoom + zoom // 2 for c in cnts], -1, (255, 230, 0), 1)
        row = np.concatenate([big(a_img), big(b_img), outline], axis=1)
        cv2.putText(row, k, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
        rows.append(row)
    if rows:
        Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def run_one(name: str, data: dict, out: Path, scenes: int, threads: int, reuse: bool = False) -> dict:
    from synthgen.config.job import JobConfig
    from synthgen.pipeline import run_render

    cfg_dir = out / name
    cfg_dir.mkdir(parents=True, exist_ok=True)
    data = {**data, "out": str(cfg_dir / "ds"), "num_scenes": scenes}
    cfg = JobConfig.model_validate(data, context={"config_dir": REPO / "configs"})
    ds = cfg_dir / "ds"
    if not (reuse and (ds / "manifest.json").exists()):
        run_render(cfg, progress=False)
    return compare(ds, *rerender_without(cfg, ds, cfg.render.threads or threads), name, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", action="append", choices=["quickstart", "cad", "gear", "box", "cost"], required=True)
    ap.add_argument("--scenes", type=int, default=2, help="scenes per config (quickstart: its own 3)")
    ap.add_argument("--out", default=str(REPO / "out" / "label_truth"))
    ap.add_argument("--only", default=None, help="run only configs whose name contains this")
    ap.add_argument("--reuse", action="store_true", help="compare datasets already rendered into --out "
                    "(their recorded time split stands) instead of rendering them again")
    args = ap.parse_args()
    out = Path(args.out)
    configs: dict[str, tuple[dict, int]] = {}
    if "quickstart" in args.set:
        configs["quickstart"] = (quickstart(), 3)
    if "cad" in args.set:
        configs.update({k: (v, args.scenes) for k, v in cad_configs().items()})
    if "gear" in args.set:
        configs["gear"] = (gear_config(out / "parts"), args.scenes)
    if "box" in args.set:
        configs["box_edges"] = (box_config(out / "parts"), args.scenes)
    if "cost" in args.set:
        d = quickstart()
        d["render"].update({"samples": 128, "resolution": [640, 480]})
        d["cameras"]["ark"]["count"] = 3
        configs["cost_640x480_128spp"] = (d, 1)
    print("config | images | instances | changed px | unlabelled share | same, direct light only "
          "| invisible instances | median changed share | verify / render | of which contrast check")
    rows = {}
    for name, (data, n) in configs.items():
        if args.only and args.only not in name:
            continue
        r = run_one(name, data, out, n, 0, args.reuse)
        rows[name] = r
        print(f"{name} | {r['images']} | {r['instances']} | {r['changed_px']} | {100 * r['unlabelled_share']:.2f} % "
              f"| {100 * r['direct_unlabelled_share']:.2f} % "
              f"| {r['invisible_instances']} | {r['median_changed_share']:.2f} | "
              f"{100 * r['verify_over_render']:.1f} % | {100 * r['contrast_over_render']:.1f} %", flush=True)
    (out / "label_truth.json").write_text(json.dumps(rows, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
