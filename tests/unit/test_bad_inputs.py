"""The bad-input corpus: every command, driven as a user would (a subprocess), on input that is
wrong. Each case must give a non-zero exit, exactly one stderr line naming the file and the
field or value at fault, no traceback, and leave its output folder as it was: nothing created,
nothing partial. The cases run two at a time in one fixture; each test checks one case.

A case is (id, arguments, substrings its one line must hold, output folder). In the arguments,
``{ws}`` is the workspace folder and ``{repo}`` the checkout.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import REPO, run_cli, smoke_dict

R = "render"
CASES = [
    # --- validate: the config itself -----------------------------------------------------------
    ("validate-missing-config", ["validate", "{ws}/nope.yaml"], ["nope.yaml", "file not found"], None),
    ("validate-config-is-a-folder", ["validate", "{ws}/folder"], ["'CONFIG'", "folder", "is a directory"], None),
    ("validate-yaml-syntax", ["validate", "{ws}/syntax.yaml"], ["syntax.yaml", "line 4", "YAML syntax"], None),
    ("validate-yaml-list", ["validate", "{ws}/list.yaml"], ["list.yaml", "<root>", "mapping"], None),
    ("validate-not-utf8", ["validate", "{ws}/binary.yaml"], ["binary.yaml", "cannot read"], None),
    ("validate-unknown-root-key", ["validate", "{ws}/c_rootkey.yaml"], ["c_rootkey.yaml", "camras", "unknown key"], None),
    ("validate-unknown-nested-key", ["validate", "{ws}/c_nested.yaml"], ["c_nested.yaml", "cameras.ark.cout"], None),
    ("validate-samples-type", ["validate", "{ws}/c_samples.yaml"], ["c_samples.yaml", "render.samples"], None),
    ("validate-num-scenes-zero", ["validate", "{ws}/c_scenes.yaml"], ["c_scenes.yaml", "num_scenes"], None),
    ("validate-resolution-tiny", ["validate", "{ws}/c_res.yaml"], ["c_res.yaml", "render.resolution[0]", "got 4"], None),
    ("validate-device-tpu", ["validate", "{ws}/c_dev.yaml"], ["c_dev.yaml", "render.device", "TPU"], None),
    ("validate-units-furlong", ["validate", "{ws}/c_units.yaml"], ["c_units.yaml", "parts[0].units"], None),
    ("validate-count-reversed", ["validate", "{ws}/c_count.yaml"], ["c_count.yaml", "parts[0].count"], None),
    ("validate-unknown-material", ["validate", "{ws}/c_mat.yaml"], ["c_mat.yaml", "parts", "chrome"], None),
    ("validate-duplicate-parts", ["validate", "{ws}/c_dup.yaml"], ["c_dup.yaml", "parts", "duplicate"], None),
    ("validate-no-parts", ["validate", "{ws}/c_noparts.yaml"], ["c_noparts.yaml", "parts"], None),
    ("validate-temperature", ["validate", "{ws}/c_temp.yaml"], ["c_temp.yaml", "lights[0].temperature"], None),
    ("validate-too-many-defects", ["validate", "{ws}/c_many.yaml"], ["c_many.yaml", "defects.kinds"], None),
    ("validate-defect-size-reversed", ["validate", "{ws}/c_dsize.yaml"], ["c_dsize.yaml", "defects.kinds.dent"], None),
    ("validate-edge-direction-alone", ["validate", "{ws}/c_edgedir.yaml"],
     ["c_edgedir.yaml", "defects.kinds.dent.surface", "max_edge_distance_mm"], None),
    ("validate-healthy-share-unrendered", ["validate", "{ws}/c_healthy.yaml"],
     ["c_healthy.yaml", "defects.healthy_share", "render_without_defects"], None),
    ("validate-seg-config", ["validate", "{repo}/configs/seg_magnetic_tile_cpu.yaml"],
     ["seg_magnetic_tile_cpu.yaml", "not a render config", "seg train"], None),
    # --- validate: the files it references -----------------------------------------------------
    ("validate-garbage-stl", ["validate", "{ws}/c_garbage.yaml"], ["c_garbage.yaml", "parts[0].path", "garbage.stl"], None),
    ("validate-empty-stl", ["validate", "{ws}/c_empty.yaml"], ["c_empty.yaml", "parts[0].path", "empty.stl", "empty"], None),
    ("validate-missing-stl", ["validate", "{ws}/c_missing.yaml"], ["c_missing.yaml", "parts[0].path", "not found"], None),
    ("validate-text-step", ["validate", "{ws}/c_step.yaml"], ["c_step.yaml", "parts[0].path", "text.step", "STEP"], None),
    ("validate-garbage-dae", ["validate", "{ws}/c_dae.yaml"], ["c_dae.yaml", "parts[0].path", "garbage.dae"], None),
    ("validate-unsupported-format", ["validate", "{ws}/c_fmt.yaml"], ["c_fmt.yaml", "parts[0].path", "'.xyz'"], None),
    ("validate-units-1000x", ["validate", "{ws}/c_huge.yaml"], ["c_huge.yaml", "parts[0].path", "parts[0].units"], None),
    ("validate-bad-ies", ["validate", "{ws}/c_ies.yaml"], ["c_ies.yaml", "lights[0].ies", "bad.ies"], None),
    ("validate-missing-ies", ["validate", "{ws}/c_noies.yaml"], ["c_noies.yaml", "lights[0].ies"], None),
    ("validate-missing-library", ["validate", "{ws}/c_nolib.yaml"], ["c_nolib.yaml", "defects.library", "not found"], None),
    ("validate-library-lacks-kind", ["validate", "{ws}/c_libkind.yaml"], ["c_libkind.yaml", "defects.library", "'hole'"], None),
    # --- render: nothing is written before every input is known to be usable -------------------
    ("render-garbage-stl", [R, "{ws}/c_garbage.yaml", "--out", "{ws}/o_r1"], ["c_garbage.yaml", "parts[0].path"], "o_r1"),
    ("render-empty-stl", [R, "{ws}/c_empty.yaml", "--out", "{ws}/o_r2"], ["c_empty.yaml", "parts[0].path"], "o_r2"),
    ("render-text-step", [R, "{ws}/c_step.yaml", "--out", "{ws}/o_r3"], ["c_step.yaml", "parts[0].path"], "o_r3"),
    ("render-units-1000x", [R, "{ws}/c_huge.yaml", "--out", "{ws}/o_r4"], ["c_huge.yaml", "parts[0].units"], "o_r4"),
    ("render-bad-ies", [R, "{ws}/c_ies.yaml", "--out", "{ws}/o_r5"], ["c_ies.yaml", "lights[0].ies"], "o_r5"),
    ("render-library-lacks-kind", [R, "{ws}/c_libkind.yaml", "--out", "{ws}/o_r6"], ["c_libkind.yaml", "defects.library"],
     "o_r6"),
    ("render-device-cuda-flag", [R, "{ws}/good.yaml", "--device", "CUDA", "--out", "{ws}/o_r7"],
     ["good.yaml", "render.device", "CUDA"], "o_r7"),
    ("render-device-optix-config", [R, "{ws}/c_optix.yaml", "--out", "{ws}/o_r8"], ["c_optix.yaml", "render.device", "OPTIX"],
     "o_r8"),
    ("render-num-scenes-negative", [R, "{ws}/good.yaml", "--num-scenes", "-1", "--out", "{ws}/o_r9"], ["--num-scenes", "-1"],
     "o_r9"),
    ("render-seed-negative", [R, "{ws}/good.yaml", "--seed", "-3", "--out", "{ws}/o_r10"], ["--seed", "-3"], "o_r10"),
    ("render-device-tpu", [R, "{ws}/good.yaml", "--device", "TPU", "--out", "{ws}/o_r11"], ["--device", "TPU"], "o_r11"),
    ("render-config-is-a-folder", [R, "{ws}/folder", "--out", "{ws}/o_r12"], ["'CONFIG'", "is a directory"], "o_r12"),
    ("render-shard-out-of-range", [R, "{ws}/good.yaml", "--shard", "3/2", "--out", "{ws}/o_r13"], ["shard", "3/2"], "o_r13"),
    ("render-shard-not-numbers", [R, "{ws}/good.yaml", "--shard", "a/b", "--out", "{ws}/o_r14"], ["--shard", "'a/b'"], "o_r14"),
    ("render-out-is-a-file", [R, "{ws}/good.yaml", "--out", "{ws}/afile.txt"], ["--out", "afile.txt", "is a file"], "afile.txt"),
    ("render-out-of-another-job", [R, "{ws}/good.yaml", "--out", "{ws}/other_job"], ["other_job", "another job"], "other_job"),
    ("render-out-not-empty", [R, "{ws}/good.yaml", "--out", "{ws}/not_empty"], ["not_empty", "not empty"], "not_empty"),
    ("render-unknown-option", [R, "{ws}/good.yaml", "--samples", "4"], ["--samples"], None),
    ("render-from-plan-missing", [R, "{ws}/good.yaml", "--from-plan", "{ws}/nope.json", "--out", "{ws}/o_r15"],
     ["--from-plan", "nope.json", "not found"], "o_r15"),
    ("render-from-plan-not-json", [R, "{ws}/good.yaml", "--from-plan", "{ws}/syntax.yaml", "--out", "{ws}/o_r16"],
     ["--from-plan", "syntax.yaml", "JSON"], "o_r16"),
    ("render-from-plan-not-a-plan", [R, "{ws}/good.yaml", "--from-plan", "{ws}/other_job/job.json", "--out", "{ws}/o_r17"],
     ["--from-plan", "job.json", "not a synthgen plan"], "o_r17"),
    ("render-from-plan-incomplete", [R, "{ws}/good.yaml", "--from-plan", "{ws}/partial_plan.json", "--out", "{ws}/o_r18"],
     ["--from-plan", "partial_plan.json", "not a complete synthgen plan"], "o_r18"),
    ("render-from-plan-no-out", [R, "{ws}/good.yaml", "--from-plan", "{ws}/plan.json"], ["--from-plan", "--out"], None),
    # --- plan ----------------------------------------------------------------------------------
    ("plan-scene-negative", ["plan", "{ws}/good.yaml", "--scene", "-1"], ["--scene", "-1"], None),
    ("plan-garbage-stl", ["plan", "{ws}/c_garbage.yaml"], ["c_garbage.yaml", "parts[0].path"], None),
    ("plan-units-1000x", ["plan", "{ws}/c_huge.yaml"], ["c_huge.yaml", "parts[0].units"], None),
    ("plan-unplaceable", ["plan", "{ws}/c_crowded.yaml"], ["c_crowded.yaml", "scene 0", "placement.area"], None),
    # --- merge ---------------------------------------------------------------------------------
    ("merge-missing-folder", ["merge", "{ws}/nope_ds", "--out", "{ws}/o_m1"], ["nope_ds", "not found"], "o_m1"),
    ("merge-not-a-dataset", ["merge", "{ws}/folder", "--out", "{ws}/o_m2"], ["folder", "not a synthgen dataset"], "o_m2"),
    ("merge-two-jobs", ["merge", "{ws}/other_job", "{ws}/third_job", "--out", "{ws}/o_m3"], ["third_job", "another job"],
     "o_m3"),
    ("merge-no-out", ["merge", "{ws}/other_job"], ["--out"], None),
    ("merge-out-not-empty", ["merge", "{ws}/other_job", "--out", "{ws}/not_empty"], ["not_empty", "not empty"], "not_empty"),
    # --- preview -------------------------------------------------------------------------------
    ("preview-no-images", ["preview", "{ws}/folder", "--out", "{ws}/sheet.png"], ["folder", "no images"], "sheet.png"),
    ("preview-out-not-png", ["preview", "{ws}/other_job", "--out", "{ws}/sheet.jpg"], ["sheet.jpg", ".png"], "sheet.jpg"),
    ("preview-max-images-zero", ["preview", "{ws}/other_job", "--out", "{ws}/sheet.png", "--max-images", "0"],
     ["--max-images", "0"], "sheet.png"),
    # --- export ------------------------------------------------------------------------------
    ("export-not-a-dataset", ["export", "{ws}/folder", "--format", "yolo-seg", "--out", "{ws}/o_x1"],
     ["folder", "not a synthgen dataset"], "o_x1"),
    ("export-bad-format", ["export", "{ws}/folder", "--format", "voc", "--out", "{ws}/o_x2"], ["--format", "voc"],
     "o_x2"),
    ("export-out-not-empty", ["export", "{ws}/folder", "--format", "yolo-seg", "--out", "{ws}/not_empty"],
     ["not a synthgen dataset"], "not_empty"),
    # --- defects generate ----------------------------------------------------------------------
    ("defects-missing-config", ["defects", "generate", "{ws}/nope.yaml", "--out", "{ws}/o_d1"], ["nope.yaml", "not found"],
     "o_d1"),
    ("defects-unknown-key", ["defects", "generate", "{ws}/d_key.yaml", "--out", "{ws}/o_d2"],
     ["d_key.yaml", "defects.kinds.dent.sise_mm"], "o_d2"),
    ("defects-size-reversed", ["defects", "generate", "{ws}/d_size.yaml", "--out", "{ws}/o_d3"],
     ["d_size.yaml", "defects.kinds.dent"], "o_d3"),
    ("defects-unknown-kind-flag", ["defects", "generate", "{ws}/d_ok.yaml", "--out", "{ws}/o_d4", "--kinds", "wart"],
     ["wart"], "o_d4"),
    ("defects-variants-zero", ["defects", "generate", "{ws}/d_ok.yaml", "--out", "{ws}/o_d5", "--variants", "0"],
     ["--variants", "0"], "o_d5"),
    # --- seg -----------------------------------------------------------------------------------
    ("seg-train-missing-config", ["seg", "train", "{ws}/nope.yaml"], ["nope.yaml", "not found"], None),
    ("seg-train-unknown-key", ["seg", "train", "{ws}/s_key.yaml"], ["s_key.yaml", "trian"], "o_s"),
    ("seg-train-epochs-negative", ["seg", "train", "{ws}/s_epochs.yaml"], ["s_epochs.yaml", "train.epochs"], "o_s"),
    ("seg-train-source-missing", ["seg", "train", "{ws}/s_src.yaml"], ["s_src.yaml", "sources.real_train.path"], "o_s"),
    ("seg-train-epochs-flag-zero", ["seg", "train", "{ws}/s_ok.yaml", "--epochs", "0"], ["--epochs", "0"], "o_s"),
    ("seg-eval-bilevel-config", ["seg", "eval", "{repo}/configs/bilevel_magnetic_tile.yaml"],
     ["bilevel_magnetic_tile.yaml", "not a seg config", "bilevel train"], None),
    ("seg-eval-no-checkpoint", ["seg", "eval", "{ws}/s_ok.yaml", "--checkpoint", "{ws}/none.pt"], ["none.pt"], "o_s"),
    ("seg-experiment-unknown-mix", ["seg", "experiment", "{ws}/e_ok.yaml", "--only", "nonsense"], ["nonsense"], "o_e"),
    ("seg-predict-missing-input", ["seg", "predict", "{ws}/none.pt", "{ws}/nope.png", "--out", "{ws}/o_p"],
     ["none.pt"], "o_p"),
    # --- bilevel -------------------------------------------------------------------------------
    ("bilevel-train-unknown-key", ["bilevel", "train", "{ws}/b_key.yaml"], ["b_key.yaml", "synthesis.pastes"], "o_b"),
    ("bilevel-train-bad-run", ["bilevel", "train", "{ws}/b_run.yaml"], ["b_run.yaml", "runs", "sideways"], "o_b"),
    # --- vqgen ---------------------------------------------------------------------------------
    ("vqgen-train-bad-value", ["vqgen", "train", "{ws}/v_val.yaml"], ["v_val.yaml", "vqvae.codebook_size"], "o_v"),
    ("vqgen-train-missing-data", ["vqgen", "train", "{ws}/v_data.yaml"], ["v_data.yaml", "data.path"], "o_v"),
    # --- realism and fit ------------------------------------------------------------------------
    ("realism-missing-real", ["realism", "{ws}/nope_dir", "{ws}/real_folder", "--out", "{ws}/o_q1"],
     ["nope_dir", "not found"], "o_q1"),
    ("realism-class-on-one-side", ["realism", "{ws}/real_folder", "{ws}/real_folder", "--class", "Crack",
                                   "--no-classifier", "--out", "{ws}/o_q2"], ["--class", "Crack"], "o_q2"),
    ("realism-seeds-not-numbers", ["realism", "{ws}/real_folder", "{ws}/real_folder", "--seeds", "a,b",
                                   "--out", "{ws}/o_q3"], ["--seeds", "a,b"], "o_q3"),
    ("realism-keys-on-a-folder", ["realism", "{ws}/real_folder", "{ws}/real_folder", "--keys", "defective.train",
                                  "--no-classifier", "--out", "{ws}/o_q4"], ["--keys", "real_folder"], "o_q4"),
    ("fit-unknown-kind", ["fit", "{ws}/good.yaml", "{ws}/real_folder", "--kind", "wart", "--out", "{ws}/o_f1"],
     ["good.yaml", "defects.kinds.wart"], "o_f1"),
    ("fit-real-lacks-class", ["fit", "{ws}/good.yaml", "{ws}/real_folder", "--kind", "dent", "--out", "{ws}/o_f2"],
     ["real_folder", "'dent'"], "o_f2"),
    ("fit-undeclared-range", ["fit", "{ws}/good.yaml", "{ws}/real_folder", "--kind", "dent", "--real-class", "defect",
                              "--param", "depth_mm", "--out", "{ws}/o_f3"], ["good.yaml", "defects.kinds.dent.depth_mm"],
     "o_f3"),
    ("fit-unknown-param", ["fit", "{ws}/good.yaml", "{ws}/real_folder", "--kind", "dent", "--real-class", "defect",
                           "--param", "shape.wdth", "--out", "{ws}/o_f4"], ["good.yaml", "defects.kinds.dent.shape.wdth"],
     "o_f4"),
    ("hybrid-no-pairs", ["hybrid", "{ws}/other_job", "{ws}/real_folder", "--out", "{ws}/o_h1"],
     ["other_job", "save_pairs"], "o_h1"),
    ("hybrid-out-not-empty", ["hybrid", "{ws}/other_job", "{ws}/real_folder", "--out", "{ws}/not_empty"],
     ["not_empty", "not empty"], "not_empty"),
    ("hybrid-scale-reversed", ["hybrid", "{ws}/other_job", "{ws}/real_folder", "--scale", "2", "1", "--out",
                               "{ws}/o_h2"], ["--scale"], "o_h2"),
    ("vqgen-sample-no-checkpoint", ["vqgen", "sample", "{ws}/none.pt", "--out", "{ws}/o_vs", "--num", "2"],
     ["none.pt"], "o_vs"),
]


def _yaml(path: Path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _render_configs(ws: Path) -> None:
    base = smoke_dict(ws / "unused_out")
    base["parts"][0]["path"] = "bracket.stl"
    shutil.copy(REPO / "assets" / "parts" / "bracket.stl", ws / "bracket.stl")

    def variant(name, edit):
        d = json.loads(json.dumps(base))
        edit(d)
        _yaml(ws / name, d)

    def part(path, units="mm"):
        return lambda d: d["parts"][0].update(path=path, units=units)

    variant("good.yaml", lambda d: None)
    variant("c_rootkey.yaml", lambda d: d.update(camras={}))
    variant("c_nested.yaml", lambda d: d["cameras"]["ark"].update(cout=3))
    variant("c_samples.yaml", lambda d: d["render"].update(samples="many"))
    variant("c_scenes.yaml", lambda d: d.update(num_scenes=0))
    variant("c_res.yaml", lambda d: d["render"].update(resolution=[4, 100]))
    variant("c_dev.yaml", lambda d: d["render"].update(device="TPU"))
    variant("c_optix.yaml", lambda d: d["render"].update(device="OPTIX"))
    variant("c_units.yaml", lambda d: d["parts"][0].update(units="furlong"))
    variant("c_count.yaml", lambda d: d["parts"][0].update(count=[3, 1]))
    variant("c_mat.yaml", lambda d: d["parts"][0].update(materials=["chrome"]))
    variant("c_dup.yaml", lambda d: d["parts"].append(dict(d["parts"][0])))
    variant("c_noparts.yaml", lambda d: d.update(parts=[]))
    variant("c_temp.yaml", lambda d: d["lights"][0].update(temperature=[100, 200]))
    variant("c_many.yaml", lambda d: d["defects"]["kinds"]["dent"].update(count_per_part=[1, 600]))
    variant("c_dsize.yaml", lambda d: d["defects"]["kinds"]["dent"].update(size_mm=[25, 15]))
    variant("c_edgedir.yaml", lambda d: d["defects"]["kinds"]["dent"]["surface"].update(edge_direction=[1, 0, 0]))
    variant("c_healthy.yaml", lambda d: d["defects"].update(healthy_share=0.3))
    variant("c_garbage.yaml", part("garbage.stl"))
    variant("c_empty.yaml", part("empty.stl"))
    variant("c_missing.yaml", part("missing.stl"))
    variant("c_step.yaml", part("text.step", "m"))
    variant("c_dae.yaml", part("garbage.dae"))
    variant("c_fmt.yaml", part("part.xyz"))
    variant("c_huge.yaml", part("bracket.stl", "m"))
    variant("c_ies.yaml", lambda d: d["lights"][0].update(type="spot", ies="bad.ies"))
    variant("c_noies.yaml", lambda d: d["lights"][0].update(type="spot", ies="missing.ies"))
    variant("c_nolib.yaml", lambda d: d["defects"].update(library="no_library"))
    variant("c_libkind.yaml", lambda d: d["defects"].update(library="lib"))
    variant("c_crowded.yaml", lambda d: d.update(parts_per_scene=[6, 6], placement={"area": [0.05, 0.05], "max_attempts": 5})
            or d["parts"][0].update(count=[6, 6]))
    (ws / "garbage.stl").write_text("this is not a mesh\n")
    (ws / "empty.stl").write_bytes(b"")
    (ws / "text.step").write_text("hello, I am not STEP\n")
    (ws / "garbage.dae").write_text("<xml>nonsense")
    (ws / "part.xyz").write_text("1 2 3\n")
    (ws / "bad.ies").write_text("IESNA:LM-63-2002\nTILT=NONE\n1 2 x\n")
    # A library with two of the three kinds the smoke config uses.
    from PIL import Image

    for kind in ("dent", "burn"):
        (ws / "lib" / kind / "000").mkdir(parents=True)
        Image.new("L", (8, 8)).save(ws / "lib" / kind / "000" / "height.png")


def _learn_configs(ws: Path) -> None:
    seg = yaml.safe_load((REPO / "configs" / "seg_magnetic_tile_cpu.yaml").read_text())
    shared = (REPO / "configs").resolve()
    for s in seg["sources"].values():
        s["path"] = str((shared / s["path"]).resolve())
    seg["out"] = str(ws / "o_s")
    _yaml(ws / "s_ok.yaml", seg)
    _yaml(ws / "s_key.yaml", {**seg, "trian": {}})
    _yaml(ws / "s_epochs.yaml", {**seg, "train": {**seg["train"], "epochs": -1}})
    _yaml(ws / "s_src.yaml", {**seg, "sources": {**seg["sources"], "real_train": {
        **seg["sources"]["real_train"], "path": str(ws / "no_split.json")}}})
    exp = yaml.safe_load((REPO / "configs" / "seg_experiment_magnetic_tile.yaml").read_text())
    for s in exp["sources"].values():
        s["path"] = str((shared / s["path"]).resolve())
    exp["out"] = str(ws / "o_e")
    _yaml(ws / "e_ok.yaml", exp)
    bil = yaml.safe_load((REPO / "configs" / "bilevel_magnetic_tile.yaml").read_text())
    for s in bil["sources"].values():
        s["path"] = str((shared / s["path"]).resolve())
    bil["out"] = str(ws / "o_b")
    _yaml(ws / "b_key.yaml", {**bil, "synthesis": {**bil["synthesis"], "pastes": 3}})
    _yaml(ws / "b_run.yaml", {**bil, "runs": ["random", "sideways"]})
    vq = yaml.safe_load((REPO / "configs" / "vqgen_magnetic_tile.yaml").read_text())
    vq["data"]["path"] = str((shared / vq["data"]["path"]).resolve())
    vq["out"] = str(ws / "o_v")
    _yaml(ws / "v_val.yaml", {**vq, "vqvae": {**vq["vqvae"], "codebook_size": -4}})
    _yaml(ws / "v_data.yaml", {**vq, "data": {**vq["data"], "path": str(ws / "no_split.json")}})
    d = {"seed": 0, "defects": {"variants_per_kind": 1, "kinds": {"dent": {"size_mm": [10, 20]}}}}
    _yaml(ws / "d_ok.yaml", d)
    _yaml(ws / "d_key.yaml", {"defects": {"kinds": {"dent": {"sise_mm": [10, 20]}}}})
    _yaml(ws / "d_size.yaml", {"defects": {"kinds": {"dent": {"size_mm": [20, 10]}}}})


def _folders(ws: Path) -> None:
    (ws / "folder").mkdir()
    (ws / "real_folder").mkdir()
    img = np.full((80, 80), 120, np.uint8)
    img[30:40, 30:40] = 40
    cv2.imwrite(str(ws / "real_folder" / "a.jpg"), img)
    cv2.imwrite(str(ws / "real_folder" / "a.png"), (img < 80).astype(np.uint8) * 255)
    cv2.imwrite(str(ws / "real_folder" / "b.jpg"), np.full((80, 80), 120, np.uint8))  # healthy: no mask
    (ws / "syntax.yaml").write_text("seed: 1\nrender:\n  samples: [1, 2\n")
    (ws / "list.yaml").write_text("- 1\n- 2\n")
    (ws / "binary.yaml").write_bytes(b"\xff\xfe\x00junk\x81")
    (ws / "afile.txt").write_text("a file\n")
    for name, h in (("other_job", "0" * 16), ("third_job", "1" * 16)):
        (ws / name).mkdir()
        (ws / name / "job.json").write_text(json.dumps({"config_hash": h, "seed": 1, "shard": [0, 1]}))
    (ws / "not_empty").mkdir()
    (ws / "not_empty" / "notes.txt").write_text("mine\n")
    (ws / "plan.json").write_text("{}")
    from synthgen.plan.types import PLAN_FORMAT

    (ws / "partial_plan.json").write_text(json.dumps({"format": PLAN_FORMAT, "seed": 1, "scene_index": 0,
                                                       "parts": [{"path": "bracket.stl"}], "cameras": []}))


def _tree(ws: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(ws)): (p.stat().st_size, p.stat().st_mtime_ns) for p in ws.rglob("*")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    ws = tmp_path_factory.mktemp("bad_inputs")
    _folders(ws)
    _render_configs(ws)
    _learn_configs(ws)
    before = _tree(ws)

    def run(case):
        cid, args, _, _ = case
        argv = [a.format(ws=ws, repo=REPO) for a in args]
        return cid, run_cli(*argv, cwd=ws, timeout=300)

    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, CASES))
    return ws, before, _tree(ws), results


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)
    firsts = {" ".join(c[1][:2]) if c[1][0] in ("defects", "seg", "bilevel", "vqgen") else c[1][0] for c in CASES}
    assert {"validate", "render", "plan", "merge", "preview", "defects generate", "seg train", "bilevel train",
            "vqgen train", "realism", "fit", "hybrid"} <= firsts


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_naming_the_problem_and_writes_nothing(case, corpus):
    _, before, after, results = corpus
    cid, _, must, out = case
    res = results[cid]
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0, f"exit 0 on bad input; stderr: {res.stderr[-600:]}"
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert len(lines) == 1, f"{len(lines)} stderr lines:\n{res.stderr[-1500:]}"
    for s in must:
        assert s in lines[0], f"{s!r} not named in: {lines[0]}"
    if out is not None:
        mine = {k: v for k, v in after.items() if k == out or k.startswith(out + "/")}
        was = {k: v for k, v in before.items() if k == out or k.startswith(out + "/")}
        assert mine == was, f"{out} changed: {sorted(set(mine) ^ set(was))}"


def test_the_whole_corpus_left_the_workspace_untouched(corpus):
    _, before, after, _ = corpus
    assert after == before, sorted(set(after) ^ set(before))
