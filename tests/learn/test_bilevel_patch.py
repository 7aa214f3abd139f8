"""The closed loop's first step: learned kind weights of a bi-level run -> a render-config patch
the user reads and applies (``synthgen bilevel patch``), and a render config whose plans follow it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from synthgen.cli import main
from synthgen.config.job import load_job_config
from synthgen.learn.common.data import keep_kinds
from synthgen.learn.common.sources import Entry
from synthgen.plan import PlacementError, make_plan

REPO = Path(__file__).resolve().parents[2]


def _bilevel_out(root: Path, crack: float, pit: float) -> Path:
    """A finished bi-level output folder as `synthgen bilevel train` leaves it (two seeds)."""
    out = root / "bilevel"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"synthesis": {"defects": {
        "cut": {"sources": ["real"]}, "twin_crack": {"sources": ["twin"], "kinds": ["Crack"]},
        "twin_pit": {"sources": ["twin"], "kinds": ["Pit"]}}}}))
    (out / "results.json").write_text(json.dumps({
        "random_s0": {"run": "random"},
        "learned_weights_s0": {"final_weights": {"cut": 1.0, "twin_crack": crack + 0.1, "twin_pit": pit - 0.1}},
        "learned_weights_s1": {"final_weights": {"cut": 1.0, "twin_crack": crack - 0.1, "twin_pit": pit + 0.1}}}))
    return out


def _render_config(root: Path) -> Path:
    data = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    data["defects"] = {"kinds": {"Crack": {"generator": "crack", "count_per_part": [2, 6]},
                                 "Pit": {"generator": "crater", "count_per_part": [2, 6]}}}
    def absolute(node: dict, key: str) -> None:
        if isinstance(node, dict) and node.get(key):
            node[key] = str((REPO / "configs" / node[key]).resolve())

    for part in data["parts"]:
        absolute(part, "path")
    for light in data.get("lights") or []:
        absolute(light, "ies")
    for mat in data.get("materials") or []:
        absolute(mat.get("photo_texture"), "images")
    data["out"] = str(root / "render")
    p = root / "render.yaml"
    p.write_text("# the line's render config\n" + yaml.safe_dump(data, sort_keys=False))
    return p


def _counts(cfg, n=4) -> dict[str, int]:
    got = {"Crack": 0, "Pit": 0}
    for i in range(n):
        try:
            plan = make_plan(cfg, i, cache_dir=None)
        except PlacementError:
            continue
        for d in plan.defects:
            got[d.kind] += 1
    return got


def test_learned_kind_weights_become_a_patch_and_a_render_config_that_follows_them(tmp_path, capsys):
    out = _bilevel_out(tmp_path, crack=1.5, pit=0.5)
    render, new = _render_config(tmp_path), tmp_path / "render_weighted.yaml"
    with pytest.raises(SystemExit) as e:
        main(["bilevel", "patch", str(out), "--config", str(render), "--apply", str(new)])
    assert e.value.code == 0, capsys.readouterr().err
    patch = (out / "render_patch.yaml").read_text()
    assert "learned_weights_s0, learned_weights_s1" in patch and "cut 1.000" in patch  # says where it came from
    kinds = yaml.safe_load(patch)["defects"]["kinds"]
    assert kinds == {"Crack": {"weight": 1.5}, "Pit": {"weight": 0.5}}  # mean over seeds, mean 1 over kinds
    assert new.read_text().startswith("# the line's render config")  # a new file, comments kept
    cfg, base = load_job_config(new), load_job_config(render)
    assert cfg.defects.kinds["Crack"].weight == 1.5 and base.defects.kinds["Crack"].weight == 1.0
    before, after = _counts(base), _counts(cfg)
    assert after["Crack"] > before["Crack"] and after["Pit"] < before["Pit"]
    assert after["Crack"] > 2 * after["Pit"]


def test_weight_one_leaves_the_plan_as_it_was_and_a_half_weight_halves_the_count(tmp_path):
    base = load_job_config(_render_config(tmp_path))
    data = base.model_dump(mode="json")
    data["defects"]["kinds"]["Pit"]["weight"] = 1.0
    from synthgen.config.job import JobConfig

    same = JobConfig.model_validate(data, context={"config_dir": base.config_dir})
    assert make_plan(same, 3, cache_dir=None).to_json() == make_plan(base, 3, cache_dir=None).to_json()
    data["defects"]["kinds"]["Pit"]["weight"] = 0.5
    half = JobConfig.model_validate(data, context={"config_dir": base.config_dir})
    n0, n1 = _counts(base, 6)["Pit"], _counts(half, 6)["Pit"]
    assert 0.3 * n0 <= n1 <= 0.7 * n0


@pytest.mark.parametrize("case, message", [
    ("unknown kind", "defects.kinds.Pit: no such kind in"),
    ("in place", "--apply writes a new config; it would overwrite"),
    ("no kind sources", "no defect source names a single kind"),
])
def test_a_patch_that_cannot_apply_is_one_line_and_writes_nothing(tmp_path, capsys, case, message):
    out = _bilevel_out(tmp_path, crack=1.2, pit=0.8)
    render = _render_config(tmp_path)
    target = tmp_path / "new.yaml"
    if case == "unknown kind":
        data = yaml.safe_load(render.read_text())
        del data["defects"]["kinds"]["Pit"]
        render.write_text(yaml.safe_dump(data))
    elif case == "in place":
        target = render
    else:
        (out / "config.json").write_text(json.dumps({"synthesis": {"defects": {"cut": {"sources": ["real"]}}}}))
    text = render.read_text()
    with pytest.raises(SystemExit) as e:
        main(["bilevel", "patch", str(out), "--config", str(render), "--apply", str(target)])
    err = capsys.readouterr().err.strip()
    assert e.value.code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert message in err
    assert render.read_text() == text
    assert case == "in place" or not target.exists()


def test_a_kind_filter_keeps_only_that_kinds_defects():
    coco = Entry(Path("a.png"), None, "coco", category_names={1: "Crack", 2: "Pit"},
                 coco_anns=[{"category_id": 1}, {"category_id": 2}, {"category_id": 2}])
    only_pits = Entry(Path("b.png"), None, "coco", category_names={1: "Crack", 2: "Pit"},
                      coco_anns=[{"category_id": 2}])
    split = [Entry(Path("c.png"), Path("c_mask.png"), class_name="Crack"),
             Entry(Path("d.png"), Path("d_mask.png"), class_name="Pit")]
    got = keep_kinds([coco, only_pits, *split], ["Crack"])
    assert [e.image.name for e in got] == ["a.png", "c.png"]
    assert got[0].coco_anns == [{"category_id": 1}]
    assert np.all([a["category_id"] == 2 for a in keep_kinds([coco], ["Pit"])[0].coco_anns])


def test_a_kind_filter_on_a_synthgen_semantic_mask_labels_only_that_kind(tmp_path):
    """synthgen datasets are read through their semantic masks (value = category id)."""
    import cv2

    from synthgen.learn.common.data import load_label

    sem = np.zeros((20, 20), np.uint8)
    sem[2:6, 2:6], sem[10:15, 10:15] = 1, 2
    cv2.imwrite(str(tmp_path / "s.png"), sem)
    e = Entry(tmp_path / "a.png", tmp_path / "s.png", "semantic", category_names={1: "Crack", 2: "Pit"})
    (crack,) = keep_kinds([e], ["Crack"])
    lab = load_label(crack, ["defect"], (20, 20))
    assert lab.sum() == 16 and lab[2:6, 2:6].all()  # the pit is not labelled
    assert load_label(e, ["defect"], (20, 20)).sum() == 16 + 25  # the unfiltered entry keeps both
