"""A user's own dataset, laid out as one folder per item with PartK.jpg images and PartK_label.bmp
palette masks holding 0/1, some images healthy: read, split, trained on, predicted, from the docs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from synthgen.cli import cli
from synthgen.learn.common.config import DataConfig, SourceConfig
from synthgen.learn.common.data import SegDataset
from synthgen.learn.common.sources import read_folder

from conftest import run_cli


def _palette_bmp(path: Path, mask01: np.ndarray) -> None:
    im = Image.fromarray(mask01.astype(np.uint8), mode="P")
    im.putpalette([0, 0, 0, 1, 1, 1] + [0] * 762)  # index 1 is drawn as grey level 1
    im.save(path)


def write_items(root: Path, items: int = 4, parts: int = 4, size: int = 40, seed: int = 0) -> Path:
    """kos00/Part0.jpg + Part0_label.bmp ...; Part0 and Part1 of every item are defective."""
    rng = np.random.default_rng(seed)
    for k in range(items):
        d = root / f"kos{k:02d}"
        d.mkdir(parents=True)
        for j in range(parts):
            img = rng.normal(60, 8, (size, size)).clip(0, 255)
            m = np.zeros((size, size), np.uint8)
            if j < 2:
                y, x = rng.integers(5, size - 12, 2)
                m[y:y + 8, x:x + 8] = 1
                img[m > 0] += 120
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(d / f"Part{j}.jpg", quality=95)
            _palette_bmp(d / f"Part{j}_label.bmp", m)
    return root


@pytest.fixture
def items(tmp_path) -> Path:
    return write_items(tmp_path / "kolektor")


def test_a_folder_of_item_folders_is_read_recursively_with_its_mask_suffix(items):
    src = SourceConfig(kind="folder", path=str(items), mask_suffix="_label.bmp")
    entries = read_folder(src, "kos")
    assert len(entries) == 16                               # images only, not the 16 masks
    assert {e.mask.name for e in entries} == {f"Part{j}_label.bmp" for j in range(4)}
    assert entries[0].name == "kos/kos00/Part0.jpg"
    ds = SegDataset(entries, DataConfig(size=(40, 40)))
    defective = [bool(ds[i].label.any()) for i in range(len(ds))]
    assert sum(defective) == 8                              # 0/1 masks read as 0/1; empty masks = healthy
    assert all(ds[i].label.sum() == 64 for i in range(len(ds)) if defective[i])


def test_a_suffix_without_extension_accepts_any_image_extension(items):
    entries = read_folder(SourceConfig(kind="folder", path=str(items), mask_suffix="_label"), "")
    assert len(entries) == 16 and all(e.mask is not None for e in entries)


def test_the_wrong_mask_suffix_or_a_missing_mask_is_an_error_that_names_the_fix(items):
    from synthgen.errors import SynthgenError

    with pytest.raises(SynthgenError, match=r"Part0_label.bmp: looks like the mask of Part0.*set mask_suffix: "
                                            r"_label.bmp"):
        read_folder(SourceConfig(kind="folder", path=str(items)), "kos")
    (items / "kos02" / "Part3_label.bmp").unlink()
    with pytest.raises(SynthgenError, match=r"kos02/Part3.jpg: no mask file Part3_label.bmp .*missing_mask: healthy"):
        read_folder(SourceConfig(kind="folder", path=str(items), mask_suffix="_label.bmp"), "kos")
    got = read_folder(SourceConfig(kind="folder", path=str(items), mask_suffix="_label.bmp",
                                   missing_mask="healthy"), "kos")
    assert len(got) == 16 and sum(e.mask is None for e in got) == 1


def _config(items: Path, out: Path, **src) -> dict:
    return {"out": str(out), "sources": {"kos": {"kind": "folder", "path": str(items), **src}},
            "data": {"size": [40, 40]}, "model": {"depth": 2, "width": 4},
            "train": {"mix": [{"source": "kos"}], "epochs": 1, "batch_size": 4, "device": "cpu"},
            "eval": {"test_sets": {"kos": ["kos"]}}}


def test_following_the_healthy_hint_with_the_wrong_suffix_names_the_mask_files(items, tmp_path):
    # the old trap: missing_mask: healthy with the default suffix read the _label.bmp masks as images
    p = tmp_path / "seg.yaml"
    p.write_text(yaml.safe_dump(_config(items, tmp_path / "out", missing_mask="healthy")))
    r = run_cli("seg", "train", str(p), "--quiet")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "Part0_label.bmp: looks like the mask of Part0" in err[0]
    assert "set mask_suffix: _label.bmp" in err[0]
    assert not (tmp_path / "out").exists()


def test_training_on_images_that_are_all_healthy_stops_with_one_line(items, tmp_path):
    for f in items.rglob("*_label.bmp"):
        f.unlink()
    p = tmp_path / "seg.yaml"
    p.write_text(yaml.safe_dump(_config(items, tmp_path / "out", missing_mask="healthy")))
    r = run_cli("seg", "train", str(p), "--quiet")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "no image of kos has a defect pixel" in err[0] and "mask_suffix" in err[0]


def _records(split: dict):
    """(kind, subset, record) of every entry of a split file."""
    return [(kind, part, rec) for kind in ("defective", "healthy") for part in ("train", "val", "test")
            for rec in split[kind][part]]


def _split(folder: Path, out: Path, *options: str) -> dict:
    """``seg split FOLDER --mask-suffix _label.bmp --val 0.25 --test 0.25 OPTIONS``: the split file."""
    r = CliRunner().invoke(cli, ["seg", "split", str(folder), "--out", str(out), "--mask-suffix", "_label.bmp",
                                 "--val", "0.25", "--test", "0.25", *options])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def test_split_keeps_item_folders_whole_and_separates_healthy_from_defective(items, tmp_path):
    out = tmp_path / "split.json"
    s = _split(items, out, "--by", "folder", "--seed", "3")
    folder_split: dict[str, set] = {}
    for kind, part, rec in _records(s):
        folder_split.setdefault(Path(rec["image"]).parent.name, set()).add(part)
        assert (kind == "defective") == (int(Path(rec["image"]).stem[-1]) < 2)
    assert all(len(v) == 1 for v in folder_split.values())      # no item on two sides
    assert len(folder_split) == 4 and {p for v in folder_split.values() for p in v} == {"train", "val", "test"}
    assert sum(len(v) for v in s["defective"].values()) == 8
    # the same seed gives the same split; the file reads as a split source
    out2 = tmp_path / "split2.json"
    CliRunner().invoke(cli, ["seg", "split", str(items), "--out", str(out2), "--mask-suffix", "_label.bmp",
                             "--val", "0.25", "--test", "0.25", "--seed", "3"])
    assert json.loads(out2.read_text()) == s
    from synthgen.learn.common.sources import read_split

    got = read_split(SourceConfig(kind="split", path=str(out), keys=["defective.train"]), "t")
    assert len(got) == len(s["defective"]["train"]) and all(e.mask.is_file() for e in got)


def test_split_follows_symlinked_folders_and_keeps_byte_identical_copies_in_one_subset(items, tmp_path):
    import shutil

    tree = tmp_path / "tree"
    tree.mkdir()
    for k in range(4):
        (tree / f"kos{k:02d}").symlink_to(items / f"kos{k:02d}", target_is_directory=True)
    # a photo copied into another item folder (its mask with it): a leak waiting to happen
    shutil.copytree(items / "kos00", tree / "kos09")
    out = tmp_path / "split.json"
    r = CliRunner().invoke(cli, ["seg", "split", str(tree), "--out", str(out), "--mask-suffix", "_label.bmp",
                                 "--val", "0.25", "--test", "0.25", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "8 images are byte-identical copies in 4 set(s)" in r.output and "kept in one subset" in r.output
    s = json.loads(out.read_text())
    where: dict[str, set] = {}
    for _, part, rec in _records(s):
        where.setdefault(Path(rec["image"]).name + Path(rec["image"]).parent.name.replace("kos09", "kos00"),
                         set()).add(part)
    assert sum(len(v) for k in ("defective", "healthy") for v in s[k].values()) == 20  # 16 linked + 4 copies
    assert all(len(v) == 1 for v in where.values())  # each photo and its copy on one side


def test_split_puts_fixed_groups_where_asked_and_names_an_unknown_one(items, tmp_path):
    s = _split(items, tmp_path / "split.json", "--fixed", "test:kos02", "--fixed", "val:kos00")
    for _, part, rec in _records(s):
        assert {"kos02": "test", "kos00": "val"}.get(Path(rec["image"]).parent.name, part) == part
    r = run_cli("seg", "split", str(items), "--out", str(tmp_path / "x.json"), "--mask-suffix", "_label.bmp",
                "--fixed", "test:kos77")
    assert r.returncode != 0 and "--fixed: no group 'kos77'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("seg", "split", str(items), "--out", str(tmp_path / "x.json"), "--fixed", "holdout:kos00")
    assert r.returncode != 0 and "SUBSET:GROUP" in r.stderr and not (tmp_path / "x.json").exists()


def test_split_with_the_wrong_mask_suffix_names_the_option(items, tmp_path):
    r = run_cli("seg", "split", str(items), "--out", str(tmp_path / "s.json"))
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert "pass --mask-suffix _label.bmp" in r.stderr and "source ''" not in r.stderr


def test_split_by_item_pattern_groups_near_duplicates(tmp_path):
    from PIL import Image as _I

    d = tmp_path / "photos"
    d.mkdir()
    for num in range(6):
        for exp in range(1, 4):   # the same tile at three exposures
            _I.fromarray(np.full((8, 8), 40 * exp + num, np.uint8)).save(d / f"exp{exp}_num_{num}.jpg")
    out = tmp_path / "s.json"
    r = CliRunner().invoke(cli, ["seg", "split", str(d), "--out", str(out), "--by", "item",
                                 "--item-pattern", r"num_(\d+)", "--val", "0.3", "--test", "0.3"])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    where: dict[str, set] = {}
    for part, recs in s["healthy"].items():
        for rec in recs:
            where.setdefault(rec["group"], set()).add(part)
    assert len(where) == 6 and all(len(v) == 1 for v in where.values())
    r = run_cli("seg", "split", str(d), "--out", str(tmp_path / "none.json"), "--by", "item")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "--item-pattern" in r.stderr
    assert not (tmp_path / "none.json").exists()


def test_predict_writes_overlays_masks_and_one_score_row_per_image(items, tmp_path):
    cfg = tmp_path / "seg.yaml"
    cfg.write_text(yaml.safe_dump(_config(items, tmp_path / "run", mask_suffix="_label.bmp")))
    r = CliRunner().invoke(cli, ["seg", "train", str(cfg), "--quiet"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "pred"
    r = CliRunner().invoke(cli, ["seg", "predict", str(tmp_path / "run" / "checkpoints" / "best.pt"),
                                 str(items / "kos01"), "--out", str(out), "--threshold", "0.5"])
    assert r.exit_code == 0, r.output  # no validation sources: no saved decision, so a threshold by hand
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert [row["image"] for row in rows] == [f"Part{j}{s}" for j in range(4) for s in (".jpg", "_label.bmp")]
    for row in rows:
        png = Path(row["image"]).with_suffix(".png")
        assert (out / "masks" / png).is_file()
        assert (out / "overlays" / png).is_file() == (row["decision"] == "NG")  # an overlay per rejected part
        assert row["rule"] == "max" and row["decision"] == ("NG" if float(row["score"]) >= 0.5 else "OK")
        assert 0.0 <= float(row["score"]) <= 1.0
        mask = np.array(Image.open(out / "masks" / png))
        assert mask.shape == (40, 40) and int(row["defect_pixels"]) == int((mask > 0).sum())
    assert "warning: 4 input(s) are named like the masks" in r.output and "--mask-suffix _label.bmp" in r.output


def test_predict_leaves_masks_out_and_keeps_photos_of_several_folders_apart(items, tmp_path):
    cfg = tmp_path / "seg.yaml"
    cfg.write_text(yaml.safe_dump(_config(items, tmp_path / "run", mask_suffix="_label.bmp")))
    assert CliRunner().invoke(cli, ["seg", "train", str(cfg), "--quiet"]).exit_code == 0
    out = tmp_path / "pred"
    r = CliRunner().invoke(cli, ["seg", "predict", str(tmp_path / "run" / "checkpoints" / "best.pt"),
                                 str(items / "kos01"), str(items / "kos02"), "--out", str(out), "--threshold", "0.5",
                                 "--mask-suffix", "_label.bmp"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((out / "scores.csv").open()))
    # 8 photos, no masks; Part0.jpg of kos01 and of kos02 are two rows with two outputs
    assert [row["image"] for row in rows] == [f"kos0{k}/Part{j}.jpg" for k in (1, 2) for j in range(4)]
    assert len(list((out / "masks").rglob("*.png"))) == 8 and "warning" not in r.output
