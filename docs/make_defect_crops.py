"""Close-up crops of the smallest labelled defects of a dataset, with their label outlined: do
labels of millimetre defects survive on a large part at this resolution?

    python docs/make_defect_crops.py out/production_door_cpu --out docs/production_door_crops.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--half", type=int, default=40, help="crop half-size around the defect (px)")
    ap.add_argument("--zoom", type=int, default=3)
    args = ap.parse_args()

    from synthgen.dataset.preview import overlay

    coco = json.loads((args.dataset / "annotations" / "coco.json").read_text())
    files = {i["id"]: i["file_name"] for i in coco["images"]}
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    anns = sorted(coco["annotations"], key=lambda a: a["area"])[: args.count]
    tiles = []
    for a in anns:
        name = files[a["image_id"]]
        img = np.asarray(Image.open(args.dataset / "images" / name).convert("RGB"))
        inst = np.asarray(Image.open(args.dataset / "masks" / "instance" / name))
        x, y, w, h = a["bbox"]
        cx, cy, r = int(x + w / 2), int(y + h / 2), args.half
        y0, y1 = max(0, cy - r), min(img.shape[0], cy + r)
        x0, x1 = max(0, cx - r), min(img.shape[1], cx + r)
        mine = (inst == a["id"] % 1000).astype(np.uint16)[y0:y1, x0:x1]
        raw = Image.fromarray(img[y0:y1, x0:x1]).resize(((x1 - x0) * args.zoom, (y1 - y0) * args.zoom), Image.NEAREST)
        lab = Image.fromarray(overlay(img[y0:y1, x0:x1], mine, alpha=0.0)).resize(raw.size, Image.NEAREST)
        pair = Image.new("RGB", (raw.width * 2 + 4, raw.height + 14), (20, 20, 20))
        pair.paste(raw, (0, 14))
        pair.paste(lab, (raw.width + 4, 14))
        ImageDraw.Draw(pair).text((2, 1), f"{cats[a['category_id']]}: {a['area']} px, {name}", fill=(255, 255, 0))
        tiles.append(pair)
    if not tiles:
        raise SystemExit(f"{args.dataset}: no labelled defects")
    cols = 2
    w, h = max(t.width for t in tiles), max(t.height for t in tiles)
    sheet = Image.new("RGB", (cols * w, ((len(tiles) + cols - 1) // cols) * h), (20, 20, 20))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * w, (i // cols) * h))
    sheet.save(args.out)
    print(f"wrote {args.out}: {len(tiles)} defects, areas {[a['area'] for a in anns]} px")


if __name__ == "__main__":
    main()
