"""``synthgen realism``: a well-formed report; identical sets are indistinguishable, a set and its
inverted-brightness copy are told apart; the statistics see what was planted."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthgen.realism.classifier import run_seed
from synthgen.realism.sources import read_side
from synthgen.realism.stats import distance, instance_features, side_features

from conftest import run_cli


def _tile(rng: np.random.Generator, size=(96, 128), dark=60, width=None) -> tuple[np.ndarray, np.ndarray]:
    """A grey image with vertical grinding streaks and noise, and one defect (a dark blob, or a
    horizontal line of ``width`` px) with its mask."""
    H, W = size
    streaks = rng.normal(0, 8, W).astype(np.float32)
    img = 130 + np.tile(cv2.GaussianBlur(streaks[None], (0, 0), 2)[0], (H, 1)) + rng.normal(0, 3, (H, W))
    mask = np.zeros((H, W), np.uint8)
    cy, cx = int(rng.integers(25, H - 25)), int(rng.integers(25, W - 25))
    if width is None:
        cv2.ellipse(mask, (cx, cy), (int(rng.integers(5, 10)), int(rng.integers(5, 10))), 0, 0, 360, 1, -1)
    else:
        mask[cy - width // 2: cy - width // 2 + width, cx - 20: cx + 20] = 1
    img[mask > 0] = dark + rng.normal(0, 3, int(mask.sum()))
    return np.clip(img, 0, 255).astype(np.uint8), mask


def _folder(root: Path, n: int, seed: int, invert=False, healthy=0, **kw) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        img, mask = _tile(rng, **kw)
        cv2.imwrite(str(root / f"{i:03d}.jpg"), 255 - img if invert else img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(root / f"{i:03d}.png"), mask * 255)
    for i in range(healthy):
        img, _ = _tile(rng, **kw)
        cv2.imwrite(str(root / f"h{i:03d}.jpg"), img)
    return root


def test_identical_sets_score_chance_and_inverted_sets_are_separated(tmp_path):
    a = read_side(_folder(tmp_path / "a", 24, 0))
    inv = read_side(_folder(tmp_path / "inv", 24, 0, invert=True))
    same = [run_seed(a, a, ["defect"], s, per_class=48, patch=32, epochs=8)["accuracy"] for s in (0, 1)]
    apart = [run_seed(a, inv, ["defect"], s, per_class=48, patch=32, epochs=8)["accuracy"] for s in (0, 1)]
    assert abs(np.mean(same) - 0.5) < 0.15, same
    assert min(apart) > 0.9, apart


def test_statistics_see_width_and_darkness():
    rng = np.random.default_rng(3)
    img, mask = _tile(rng, width=3, dark=40)
    f = instance_features(img, mask > 0)
    assert 2.5 < f["width"] < 3.5                      # 2 area / perimeter of a 3 px line
    assert f["contrast"] < -5 and f["rel_contrast"] < -0.5
    assert f["edge"] > 1.5                             # a sharp edge against a smooth texture
    assert 1.5 < f["noise"] < 6                        # the planted noise is 3 grey levels


def test_distance_is_zero_for_the_same_set_and_grows_with_the_mismatch(tmp_path):
    rng = np.random.default_rng(0)
    ref = side_features(read_side(_folder(tmp_path / "ref", 20, 1, width=2, dark=60)), 100, rng)["defect"]
    near = side_features(read_side(_folder(tmp_path / "near", 20, 2, width=2, dark=60)), 100, rng)["defect"]
    far = side_features(read_side(_folder(tmp_path / "far", 20, 3, width=6, dark=20)), 100, rng)["defect"]
    feats = ["contrast", "width", "edge"]
    assert distance(ref, ref, feats) == 0.0
    assert distance(ref, near, feats) < 0.5 < distance(ref, far, feats)


@pytest.mark.slow
def test_realism_command_writes_a_well_formed_report(tmp_path):
    real = _folder(tmp_path / "real", 12, 0, healthy=4)
    rend = _folder(tmp_path / "rend", 12, 1, healthy=4, dark=90)
    out = tmp_path / "report"
    r = run_cli("realism", str(real), str(rend), "--out", str(out), "--seeds", "0,1", "--per-class", "16",
                "--patch", "32", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    rep = json.loads((out / "realism.json").read_text())
    assert rep["classes"] == ["defect", "healthy"]
    assert len(rep["classifier"]["overall"]["seeds"]) == 2
    assert set(rep["classifier"]["per_class"]) == {"defect", "healthy"}
    s = rep["stats"]["defect"]
    assert s["contrast"]["n_real"] == 12 and s["contrast"]["n_rendered"] == 12
    assert s["contrast"]["real"][1] < s["contrast"]["rendered"][1]     # the rendered defects are fainter
    assert s["contrast"]["ks"] > 0.5
    assert set(rep["stats"]["healthy"]) == {"brightness", "noise", "texture"}
    md = (out / "realism.md").read_text()
    assert "| all |" in md and "| defect | contrast |" in md
    for png in ("distributions.png", "contact_sheet.png"):
        assert cv2.imread(str(out / png)) is not None
    assert not list(tmp_path.glob(".realism_*"))   # the temporary folder is gone


def test_an_unfinished_render_is_refused_not_read_as_healthy_images(tmp_path):
    """A render still running (or stopped) has images whose defects are not yet in its COCO file:
    read as healthy images they would skew every figure. realism refuses it in one line."""
    real = _folder(tmp_path / "real", 6, 0)
    rend = tmp_path / "rend"
    rng = np.random.default_rng(1)
    for sub in ("images", "masks/semantic", "annotations"):
        (rend / sub).mkdir(parents=True)
    for i in range(3):
        img, mask = _tile(rng)
        cv2.imwrite(str(rend / "images" / f"{i:06d}_00.png"), img)
        cv2.imwrite(str(rend / "masks" / "semantic" / f"{i:06d}_00.png"), mask)
    coco = {"images": [{"id": 1, "file_name": "images/000000_00.png", "width": 128, "height": 96}],
            "annotations": [], "categories": [{"id": 1, "name": "defect"}]}
    (rend / "annotations" / "coco.json").write_text(json.dumps(coco))  # written when one scene was done
    r = run_cli("realism", str(real), str(rend), "--out", str(tmp_path / "report"), "--no-classifier")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(rend) in lines[0] and "2 of 3 images" in lines[0] and "not finished" in lines[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "report").exists()


def test_rendered_instances_split_like_the_photos_masks_components_of_each_class(tmp_path):
    """A photo's mask splits only into connected components; by default a labelled dataset's
    instances are split the same way (one class's annotations joined, then cut into components),
    so their sizes compare like with like."""
    from pycocotools import mask as mask_utils

    from synthgen.realism.sources import item_mask

    def rle(*boxes):
        m = np.zeros((40, 40), np.uint8, order="F")
        for y0, x0, s in boxes:
            m[y0:y0 + s, x0:x0 + s] = 1
        r = mask_utils.encode(np.asfortranarray(m))
        return {"size": r["size"], "counts": r["counts"].decode()}

    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 40), 90, np.uint8))
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 40}],
            "categories": [{"id": 1, "name": "Crack"}, {"id": 2, "name": "Pit"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle((2, 2, 5), (20, 20, 5))},
                            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": rle((5, 5, 5))},
                            {"id": 3, "image_id": 1, "category_id": 2, "segmentation": rle((30, 2, 5))}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    comps = read_side(tmp_path / "coco.json")
    anns = read_side(tmp_path / "coco.json", instances="annotations")
    assert sorted(it.cls for it in anns) == ["Crack", "Crack", "Pit"]
    assert sorted(it.cls for it in comps) == ["Crack", "Crack", "Pit"]
    areas = sorted(int(item_mask(it, (40, 40)).sum()) for it in comps if it.cls == "Crack")
    assert areas == [25, 25 + 25 - 4]  # the far square alone; the two overlapping squares joined
    assert sorted(int(item_mask(it, (40, 40)).sum()) for it in anns if it.cls == "Crack") == [25, 50]
