"""``synthgen fit``: the study recovers a known optimum and resumes; its patch validates and moves
only the fitted fields; the whole fit, with a stand-in for the renderer, recovers a planted
width and darkness from their statistics and writes its report."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import yaml

from synthgen.config.edit import editable_fields
from synthgen.config.job import load_job_config
from synthgen.config.loading import read_yaml
from synthgen.realism import fit as fit_mod
from synthgen.realism.fit import FitOptions, Fitter, finish
from synthgen.realism.sources import read_side
from synthgen.realism.study import edits_for, resolve_params, run_study

from conftest import REPO, requires_magnetic_tile

pytestmark = requires_magnetic_tile  # the bundled twin config reads the healthy photos

TWIN = REPO / "configs" / "twin_magnetic_tile.yaml"


def test_study_recovers_a_known_optimum_and_resumes(tmp_path):
    cfg, raw = load_job_config(TWIN), read_yaml(TWIN)
    params = resolve_params(cfg, raw, "Crack", ["shape.width", "material.base_color"], str(TWIN))
    truth = {"shape.width": 1 / 3, "material.base_color": 2.5}
    seen = []

    def objective(f, n):
        seen.append(dict(f))
        return sum((math.log(f[k]) - math.log(v)) ** 2 for k, v in truth.items())

    study = run_study(params, objective, tmp_path / "j.log", trials=25, seed=0)
    assert seen[0] == {"shape.width": 1.0, "material.base_color": 1.0}     # the config as written comes first
    n_first = len(study.trials)
    study = run_study(params, objective, tmp_path / "j.log", trials=50, seed=0)   # resumes the same study
    assert len(study.trials) == 50 and len(seen) == 50 and n_first == 25
    for k, v in truth.items():
        assert abs(math.log(study.best_params[k] / v)) < math.log(1.15), (k, study.best_params[k])


def test_patch_validates_and_changes_only_the_fitted_fields(tmp_path):
    from synthgen.config.edit import save_config

    cfg, raw = load_job_config(TWIN), read_yaml(TWIN)
    params = resolve_params(cfg, raw, "Crack", ["shape.width", "material.base_color"], str(TWIN))
    edits = edits_for(params, {"shape.width": 0.5, "material.base_color": 2.0})
    k = cfg.defects.kinds["Crack"]
    assert edits["defects.kinds.Crack.shape.width"] == pytest.approx(tuple(0.5 * w for w in k.shape.width), rel=1e-3)
    assert edits["defects.kinds.Crack.material.base_color_max"] == pytest.approx(
        tuple(2.0 * c for c in k.material.base_color_max), rel=1e-3)
    fitted = save_config(TWIN, tmp_path / "fitted.yaml", edits)
    before = {f.path: f.value for f in editable_fields(cfg)}
    after = {f.path: f.value for f in editable_fields(fitted)}
    assert {p for p in before if before[p] != after[p]} == set(edits)
    assert (tmp_path / "fitted.yaml").read_text().count("#") == TWIN.read_text().count("#")  # comments kept


def _stand_in_render(cfg, kind, scenes, out, cache, seed=None):
    """A renderer stand-in: noisy grey images with one vertical line whose width (px) and
    darkness follow the kind's shape.width and base colour, as a render's would, written as a
    synthgen dataset (images/ and annotations/coco.json)."""
    from synthgen.annotate.coco import instance_annotations

    k = cfg.defects.kinds[kind]
    width = max(1, round(np.mean(k.shape.width) * 150))
    level = 120 * (1 - 0.8 * (1 - min(1.0, np.mean(k.material.base_color_max) * 15)))
    rng = np.random.default_rng(seed or 0)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(exist_ok=True)
    images, anns = [], []
    for i in range(scenes * 3):
        img = np.clip(120 + rng.normal(0, 4, (96, 96)), 0, 255)
        x = int(rng.integers(20, 70))
        img[10:86, x:x + width] = level + rng.normal(0, 2, (76, width))
        inst = np.zeros((96, 96), np.uint16)
        inst[10:86, x:x + width] = 1
        cv2.imwrite(str(out / "images" / f"{i:06d}_00.png"), img.astype(np.uint8))
        images.append({"id": i + 1, "file_name": f"{i:06d}_00.png", "width": 96, "height": 96})
        anns += instance_annotations(inst, i + 1, [{"instance": 1, "kind": kind}], {kind: 1})
    (out / "annotations" / "coco.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": 1, "name": kind}]}))
    return [it for it in read_side(out) if it.cls == kind]


def test_fit_recovers_a_planted_setting_with_a_stand_in_renderer(tmp_path, monkeypatch):
    monkeypatch.setattr(fit_mod, "render_kind", _stand_in_render)
    truth = yaml.safe_load(TWIN.read_text())
    for p in truth["parts"]:
        p["path"] = str((TWIN.parent / p["path"]).resolve())
    for m in truth["materials"]:
        if m.get("photo_texture"):
            m["photo_texture"]["images"] = str((TWIN.parent / m["photo_texture"]["images"]).resolve())
    t = truth["defects"]["kinds"]["Crack"]          # the planted look, whatever the bundled twin holds
    t["shape"]["width"] = [0.015, 0.03]
    t["material"]["base_color_min"], t["material"]["base_color_max"] = [0.003] * 3, [0.012] * 3
    wrong = json.loads(json.dumps(truth))
    k = wrong["defects"]["kinds"]["Crack"]
    k["shape"]["width"] = [w * 3 for w in k["shape"]["width"]]           # three times too wide
    k["material"]["base_color_min"] = [c / 3 for c in k["material"]["base_color_min"]]   # and too dark
    k["material"]["base_color_max"] = [c / 3 for c in k["material"]["base_color_max"]]
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(wrong))
    (tmp_path / "truth.yaml").write_text(yaml.safe_dump(truth))
    _stand_in_render(load_job_config(tmp_path / "truth.yaml"), "Crack", 4, tmp_path / "real", None, seed=9)
    real = tmp_path / "real"
    opts = FitOptions(params=["shape.width", "material.base_color"], features=["contrast", "rel_contrast", "width"],
                      scenes=4, trials=30, confirm_seeds=[])
    fitter = Fitter(tmp_path / "wrong.yaml", real, "Crack", tmp_path / "fit", opts)
    res = finish(fitter, fitter.run())
    assert res["distance_after"] < res["distance_before"]
    assert abs(math.log(res["best_factors"]["shape.width"] * 3)) < math.log(1.35)
    assert abs(math.log(res["best_factors"]["material.base_color"] / 3)) < math.log(1.35)
    for f in ("patch.yaml", "fitted.yaml", "report.md", "fit.json", "trace.png", "contact_sheet_after.png"):
        assert (tmp_path / "fit" / f).is_file(), f
    patch = yaml.safe_load((tmp_path / "fit" / "patch.yaml").read_text())
    assert set(patch["defects"]["kinds"]["Crack"]) == {"shape", "material"}
    assert sorted(p.name for p in (tmp_path / "fit" / "trials").iterdir()) == sorted(
        {"0000", f"{res['best_trial']:04d}"})                              # the others were removed
    again = Fitter(tmp_path / "wrong.yaml", real, "Crack", tmp_path / "fit", opts).run()
    assert len(again.trials) == len(json.loads((tmp_path / "fit" / "fit.json").read_text())["trials"])  # resumed


def test_a_fitted_camera_field_is_saved_too(tmp_path):
    from synthgen.config.edit import save_config

    cfg = save_config(TWIN, tmp_path / "fitted.yaml", {"render.sensor.blur.sigma_px": (0.2, 0.4)})
    assert cfg.render.sensor.blur.sigma_px == (0.2, 0.4)
