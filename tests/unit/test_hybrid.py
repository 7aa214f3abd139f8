"""Rendered defects on real photos: a carried defect changes exactly its labelled pixels, a
neutral change nothing; composites are reproducible and read by the learn side."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthgen.errors import SynthgenError
from synthgen.realism.hybrid import carry, make_hybrid, read_pairs


def _pair(h=12, w=20):
    off = np.full((h, w, 3), 120, np.uint8)
    on = off.copy()
    label = np.zeros((h, w), bool)
    label[3:9, 4:16] = True
    on[label] = 60                         # a dark defect: half the brightness inside its label
    on[0, 0] = 200                         # a change outside the label (a neighbour): never carried
    return on, off, label


def test_a_carried_defect_changes_exactly_its_labelled_pixels():
    on, off, label = _pair()
    bg = np.full((50, 60), 90, np.uint8)
    out, placed = carry(bg, on, off, label, 10, 20)
    assert (placed == (out != bg)).all() and placed.sum() == label.sum()
    assert np.unique(out[placed]).tolist() == [round(90 * 64 / 124)]      # the ratio (on + 4) / (off + 4)
    out_d, _ = carry(bg, on, off, label, 10, 20, mode="difference")
    assert np.unique(out_d[placed]).tolist() == [30]                       # 90 + (60 - 120)
    rgb = np.dstack([bg, bg + 10, bg + 20])
    out_c, placed_c = carry(rgb, on, off, label, 0, 0)
    assert ((out_c != rgb).any(axis=2) == placed_c).all()


def test_a_neutral_change_leaves_the_photo_unchanged():
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    off = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    label = np.ones((10, 10), bool)
    for mode in ("ratio", "difference"):
        out, _ = carry(bg, off, off, label, 5, 5, mode)
        assert np.array_equal(out, bg)
    with pytest.raises(ValueError):
        carry(bg, off, off, label, 35, 35)


def _rendered(root: Path, kinds=("Crack", "Blowhole")) -> Path:
    """A rendered dataset with pairs, as verification.save_pairs writes it."""
    (root / "pairs").mkdir(parents=True)
    (root / "plans").mkdir()
    cams = []
    for c, kind in enumerate(kinds):
        on, off, label = _pair()
        stem = f"000000_{c:02d}"
        for name, a in (("on", on), ("off", off), ("label", label.astype(np.uint8) * 255)):
            cv2.imwrite(str(root / "pairs" / f"{stem}_01_{name}.png"), a)
        cams.append({"camera_id": c, "image": f"images/{stem}.png",
                     "visible_defects": [{"instance": 1, "kind": kind, "defect_id": c}]})
    (root / "plans" / "000000.json").write_text(json.dumps({"accepted_cameras": cams}))
    return root


def _photos(root: Path, n=3) -> list[Path]:
    root.mkdir()
    out = []
    for i in range(n):
        p = root / f"ok_{i}.jpg"
        cv2.imwrite(str(p), np.full((64, 80), 100 + 10 * i, np.uint8))
        out.append(p)
    return out


def test_hybrid_dataset_is_reproducible_and_labels_what_changed(tmp_path):
    from synthgen.realism.sources import read_side

    rendered = _rendered(tmp_path / "rendered")
    photos = _photos(tmp_path / "photos")
    assert {p.kind for p in read_pairs(rendered)} == {"Crack", "Blowhole"}
    s = make_hybrid(rendered, photos, tmp_path / "a", 6, seed=3, per_image=(1, 2))
    make_hybrid(rendered, photos, tmp_path / "b", 6, seed=3, per_image=(1, 2))
    assert s["images"] == 6 and s["defects"] >= 6
    for f in sorted((tmp_path / "a").rglob("*.png")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    coco = json.loads((tmp_path / "a" / "annotations" / "coco.json").read_text())
    assert len(coco["annotations"]) == s["defects"]
    for im in coco["images"]:
        img = cv2.imread(str(tmp_path / "a" / "images" / im["file_name"]), cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(str(tmp_path / "a" / "masks" / "instance" / f"{Path(im['file_name']).stem}.png"),
                          cv2.IMREAD_UNCHANGED)
        bg = cv2.imread(im["background"], cv2.IMREAD_UNCHANGED)
        assert ((img != bg) == (inst > 0)).all()
    items = read_side(tmp_path / "a")
    assert sorted({it.cls for it in items}) == ["Blowhole", "Crack"]
    with pytest.raises(SynthgenError, match="not empty"):
        make_hybrid(rendered, photos, tmp_path / "a", 2)
    with pytest.raises(SynthgenError, match="save_pairs"):
        make_hybrid(tmp_path / "photos", photos, tmp_path / "c", 2)
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".hybrid_*"))


def test_hybrid_is_a_learn_source_kind(tmp_path):
    from synthgen.learn.common.config import SourceConfig
    from synthgen.learn.common.sources import read_source

    rendered = _rendered(tmp_path / "rendered")
    _photos(tmp_path / "photos")
    cfg = SourceConfig.model_validate({"kind": "hybrid", "path": str(rendered), "hybrid": {
        "healthy": {"kind": "folder", "path": str(tmp_path / "photos"), "missing_mask": "healthy"}, "num": 4}})
    entries = read_source(cfg, "hyb")
    assert len(entries) == 4 and all(e.mask_kind == "semantic" for e in entries)
    made = list((rendered / ".hybrid").iterdir())
    assert len(made) == 1
    again = read_source(cfg, "hyb")           # made once per setting, then reused
    assert [e.image for e in again] == [e.image for e in entries] and list((rendered / ".hybrid").iterdir()) == made
    with pytest.raises(ValueError, match="hybrid"):
        SourceConfig.model_validate({"kind": "hybrid", "path": str(rendered)})


def test_a_defect_cut_by_the_render_border_lands_on_the_photo_border():
    from synthgen.realism.hybrid import _onto_cut_sides

    label = np.zeros((10, 12), bool)
    label[3:7, 0:5] = True                      # reaches the left side of its box: cut there
    assert _onto_cut_sides(label, 20, 30, (100, 200)) == (20, 0)
    label = np.zeros((10, 12), bool)
    label[6:10, 4:8] = True                     # reaches the bottom
    assert _onto_cut_sides(label, 20, 30, (100, 200)) == (90, 30)
    inner = np.zeros((10, 12), bool)
    inner[3:7, 3:7] = True                      # a defect inside its box goes anywhere
    assert _onto_cut_sides(inner, 20, 30, (100, 200)) == (20, 30)
