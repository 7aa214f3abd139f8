"""The Blender add-on builds the same scene as the CLI plan, through the panel's operator."""

from __future__ import annotations

import sys

import pytest

from synthgen.config.job import load_job_config
from synthgen.plan.library import plan_scene

from conftest import REPO, requires_bpy

pytestmark = [requires_bpy, pytest.mark.blender]


def _quickstart_copy(tmp_path):
    """The quickstart config with absolute asset paths, written into ``tmp_path``; its dict too."""
    import yaml

    d = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    d["out"] = str(tmp_path / "out")
    for part in d["parts"]:
        part["path"] = str((REPO / "configs" / part["path"]).resolve())
    for light in d["lights"]:
        if light.get("ies"):
            light["ies"] = str((REPO / "configs" / light["ies"]).resolve())
    cfg_path = tmp_path / "qs.yaml"
    cfg_path.write_text(yaml.safe_dump(d))
    return cfg_path, d


@pytest.fixture
def built(tmp_path):
    """A fresh session holding some of the artist's own (unused) data, the add-on registered, and
    scene 1 of the quickstart built through the panel's operator. Yields (panel settings, the
    CLI's plan of that scene, the artist's data-blocks, the config dict)."""
    import bpy

    from synthgen.blender.build import start_session

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon

    cfg_path, d = _quickstart_copy(tmp_path)
    start_session()
    mine = (bpy.data.materials.new("artist_mat"), bpy.data.meshes.new("artist_mesh"),
            bpy.data.images.new("artist_img", 4, 4))
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path = str(cfg_path)
        s.scene_index = 1
        assert bpy.ops.synthgen.build_scene() == {"FINISHED"}
        plan = plan_scene(load_job_config(cfg_path), 1, cache_dir=tmp_path / "cli_cache")
        yield s, plan, mine, d
    finally:
        synthgen_addon.unregister()


def _defect_empties():
    import bpy

    return {o.name: o for o in bpy.data.objects if o.name.startswith("defect_")}


def test_build_makes_the_cli_plans_parts_cameras_and_defects(built):
    import bpy
    import numpy as np

    _s, plan, _mine, _d = built
    parts = sorted(o.name for o in bpy.data.objects if o.name.startswith("part_"))
    assert parts == sorted(f"part_{p.instance_id:02d}_{p.name}" for p in plan.parts)
    cams = [o for o in bpy.data.objects if o.type == "CAMERA"]
    assert len(cams) == len(plan.cameras) and bpy.context.scene.camera in cams
    # The defects of the CLI's plan: same kinds, same count, decals at the same places.
    empties = _defect_empties()
    assert len(plan.defects) >= 3
    assert sorted(empties) == sorted(f"defect_{d.defect_id:03d}_{d.kind}" for d in plan.defects)
    for dp in plan.defects:
        loc = np.array(empties[f"defect_{dp.defect_id:03d}_{dp.kind}"].matrix_world.translation)
        assert np.abs(loc - np.array(dp.position)).max() < 1e-6


def test_choosing_a_camera_in_the_list_makes_it_the_scene_camera_at_once(built):
    import bpy

    s = built[0]
    s.camera_id = 2
    assert bpy.context.scene.camera.name == "cam_02"


def test_show_labels_and_preview_draw_into_the_active_cameras_view(built):
    """Show labels: the labels the CLI writes for the active camera (compared pixel for pixel in a
    test below), as an overlay in its view; Preview: a render at the plan's resolution."""
    import bpy
    import numpy as np

    s, plan, _mine, _d = built
    s.camera_id = 2
    assert bpy.ops.synthgen.show_labels() == {"FINISHED"}
    img = bpy.data.images["synthgen_labels"]
    w, h = plan.render.resolution
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    assert (px.reshape(h, w, 4)[..., 3] > 0).sum() > 0
    assert bpy.context.scene.camera.data.background_images[0].image == img
    assert bpy.ops.synthgen.preview() == {"FINISHED"}
    assert tuple(bpy.data.images["synthgen_preview"].size) == (w, h)


def test_previous_and_next_rebuild_another_scene_and_come_back(built):
    import bpy

    s = built[0]
    empties = sorted(_defect_empties())
    assert bpy.ops.synthgen.step_scene(step=1) == {"FINISHED"} and s.scene_index == 2
    assert bpy.ops.synthgen.step_scene(step=-1) == {"FINISHED"} and s.scene_index == 1
    assert sorted(_defect_empties()) == empties


def test_clear_removes_synthgens_data_and_keeps_the_artists_own(built):
    import bpy

    _s, _plan, mine, _d = built
    assert bpy.ops.synthgen.show_labels() == {"FINISHED"} and bpy.ops.synthgen.preview() == {"FINISHED"}
    user = bpy.data.objects.new("artist_empty", None)
    bpy.context.scene.collection.objects.link(user)
    assert bpy.ops.synthgen.clear_scene() == {"FINISHED"}
    assert [o.name for o in bpy.data.objects] == ["artist_empty"]
    assert [b.name for b in mine] == ["artist_mat", "artist_mesh", "artist_img"]  # still valid
    assert {"artist_mat", "artist_mesh", "artist_img"} <= {b.name for c in (
        bpy.data.materials, bpy.data.meshes, bpy.data.images) for b in c}
    assert "synthgen_labels" not in bpy.data.images and "synthgen_preview" not in bpy.data.images


def test_a_missing_config_and_every_line_of_a_bad_one_are_reported(built, tmp_path):
    import bpy
    import yaml

    s, _plan, _mine, d = built
    s.config_path = str(REPO / "nope.yaml")
    with pytest.raises(RuntimeError, match="nope.yaml: file not found"):
        bpy.ops.synthgen.build_scene()
    d["cameras"]["ark"]["count"] = 0
    d["render"]["samples"] = "many"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(d))
    s.config_path = str(bad)
    with pytest.raises(RuntimeError) as err:
        bpy.ops.synthgen.build_scene()
    assert "cameras.ark.count" in str(err.value) and "render.samples" in str(err.value)


def test_the_manifest_passes_blenders_own_extension_validator():
    """Blender 4.5's extension CLI (bundled with the bpy wheel) accepts the add-on's manifest."""
    import subprocess
    from pathlib import Path

    import bpy

    cli = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    assert cli.is_file(), f"the bpy wheel has no extension CLI at {cli}"
    res = subprocess.run([sys.executable, str(cli), "validate", str(REPO / "blender_addon" / "synthgen_addon")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0 and "Success" in res.stdout, res.stdout + res.stderr


def test_render_n_scenes_runs_the_cli_pipeline_in_a_background_process(tmp_path):
    import time

    import bpy
    import yaml

    from synthgen.blender.build import start_session

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon
    from synthgen_addon.background import JOBS

    from conftest import smoke_dict

    cfg = tmp_path / "smoke.yaml"
    cfg.write_text(yaml.safe_dump(smoke_dict(tmp_path / "unused", num_scenes=2)))
    start_session()
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path, s.render_out = str(cfg), str(tmp_path / "ds")
        t0 = time.perf_counter()
        assert bpy.ops.synthgen.render_scenes(count=2) == {"FINISHED"}
        assert time.perf_counter() - t0 < 5, "the operator returns at once; the render runs in the background"
        job = JOBS["current"]
        assert s.render_status.startswith("rendering")
        assert job.process.wait(timeout=300) == 0, job.log.read_text()[-2000:]
        assert job.status() == f"done: 2 scenes -> {tmp_path / 'ds'}"
        assert len(list((tmp_path / "ds" / "images").glob("*.png"))) >= 1
        assert (tmp_path / "ds" / "annotations" / "coco.json").is_file()
    finally:
        synthgen_addon.unregister()


def test_fields_from_the_schema_edit_rebuild_and_save_with_comments(tmp_path):
    import bpy
    import yaml

    from synthgen.blender.build import start_session
    from synthgen.config.edit import editable_fields
    from synthgen.config.job import load_job_config

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon

    from conftest import smoke_dict

    d = smoke_dict(tmp_path / "unused")
    text = "# my smoke scene: keep this comment\n" + yaml.safe_dump(d, sort_keys=False)
    cfg = tmp_path / "smoke.yaml"
    cfg.write_text(text)
    start_session()
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path = str(cfg)
        assert bpy.ops.synthgen.load_fields() == {"FINISHED"}
        paths = [it.path for it in s.fields]
        assert paths == [f.path for f in editable_fields(load_job_config(cfg))]
        assert {"cameras.focal_length_mm", "lights[0].power", "lights[0].temperature", "materials[0].roughness",
                "materials[0].metallic", "materials[0].base_color.min", "defects.kinds.dent.size_mm",
                "defects.kinds.dent.count_per_part", "defects.kinds.dent.surface.max_angle_deg"} <= set(paths)
        assert bpy.ops.synthgen.build_scene() == {"FINISHED"}
        n_defects = len([o for o in bpy.data.objects if o.name.startswith("defect_")])
        assert n_defects == 3
        item = {it.path: it for it in s.fields}
        item["defects.kinds.dent.count_per_part"].ivalue = (0, 0, 0)  # an edit rebuilds the scene at once
        assert sorted(o.name.split("_", 2)[2] for o in bpy.data.objects if o.name.startswith("defect_")) == \
            ["burn", "hole"] and s.edit_error == ""
        item["lights[0].power"].fvalue = (2.5, 4.0, 0.0)
        s.save_path = str(tmp_path / "saved.yaml")
        assert bpy.ops.synthgen.save_config() == {"FINISHED"}
        saved = (tmp_path / "saved.yaml").read_text()
        assert saved.startswith("# my smoke scene: keep this comment")
        back = load_job_config(tmp_path / "saved.yaml")
        assert back.defects.kinds["dent"].count_per_part == (0, 0) and back.lights[0].power == (2.5, 4.0)
        assert s.config_path == str(tmp_path / "saved.yaml") and len(s.fields) == len(paths)
    finally:
        synthgen_addon.unregister()


def test_pointing_at_a_checkout_adds_it_and_its_venv_packages(tmp_path):
    sys.path.insert(0, str(REPO / "blender_addon"))
    from synthgen_addon.operators import checkout_paths

    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    assert checkout_paths(str(tmp_path)) == [str(tmp_path.resolve()), str(site.resolve())]


class _Layout:
    """Records what a panel draws; every prop it names must exist on its data."""

    def __init__(self, log):
        self.log, self.enabled = log, True

    def column(self, **kw):
        return _Layout(self.log)

    row = box = column

    def prop(self, data, name, **kw):
        assert hasattr(data, name), f"panel draws unknown property {name}"
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        import bpy

        group, op = idname.split(".")
        assert hasattr(getattr(bpy.ops, group), op), f"panel calls unknown operator {idname}"
        self.log.append(("op", idname))
        return type("Props", (), {})()

    def label(self, **kw):
        self.log.append(("label", kw.get("text")))


def test_the_panel_draws_every_control_with_fields_loaded(tmp_path):
    import bpy

    from synthgen.blender.build import start_session

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon

    start_session()
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path = str(REPO / "configs" / "smoke.yaml")
        assert bpy.ops.synthgen.load_fields() == {"FINISHED"}
        s.field_section = "lights"
        log = []
        panel = type("P", (), {"layout": _Layout(log)})()
        synthgen_addon.SYNTHGEN_PT_main.draw(panel, bpy.context)
        ops = {x for k, x in log if k == "op"}
        assert ops == {"synthgen.step_scene", "synthgen.build_scene", "synthgen.show_labels", "synthgen.preview",
                       "synthgen.clear_scene", "synthgen.load_fields", "synthgen.save_config",
                       "synthgen.render_scenes"}
        assert ("prop", "fvalue") in log and ("label", "power") in log
    finally:
        synthgen_addon.unregister()


@pytest.mark.parametrize("case", ["crop", "lens"])
def test_show_labels_draws_exactly_the_instance_masks_synthgen_render_writes(tmp_path, case):
    """Same config, scene and camera: the add-on's overlay is the CLI's label, contrast, crop and
    lens rules included (a region kind and a crop to the part, or barrel distortion)."""
    import json

    import bpy
    import numpy as np
    import yaml
    from PIL import Image

    from synthgen.blender.build import start_session
    from synthgen.cli import main

    sys.path.insert(0, str(REPO / "blender_addon"))
    import synthgen_addon

    from conftest import smoke_dict

    d = smoke_dict(tmp_path / "out")
    d["defects"]["kinds"]["burn"]["label"] = "region"
    if case == "crop":
        d["render"]["crop"] = {"inset_px": 1, "min_size": [16, 16]}
        d["render"]["resolution"], d["cameras"]["ark"]["radius"] = [128, 96], 0.18  # closer: crops big enough
    else:
        d["render"]["sensor"] = {"distortion": {"enabled": True, "k1": [-0.25, -0.2]}}
    cfg_path = tmp_path / "labels.yaml"
    cfg_path.write_text(yaml.safe_dump(d))
    with pytest.raises(SystemExit) as e:
        main(["render", str(cfg_path)])
    assert e.value.code == 0
    record = json.loads((tmp_path / "out" / "plans" / "000000.json").read_text())
    checks = {c["camera_id"]: c for c in record["camera_checks"]}
    start_session()
    synthgen_addon.register()
    try:
        s = bpy.context.scene.synthgen
        s.config_path, s.scene_index = str(cfg_path), 0
        assert bpy.ops.synthgen.build_scene() == {"FINISHED"}
        w, h = d["render"]["resolution"]
        compared = 0
        for cid, check in sorted(checks.items()):
            s.camera_id = cid
            assert bpy.ops.synthgen.show_labels() == {"FINISHED"}
            px = np.empty(w * h * 4, np.float32)
            bpy.data.images["synthgen_labels"].pixels.foreach_get(px)
            shown = px.reshape(h, w, 4)[::-1, :, 3] > 0
            want = np.zeros((h, w), np.uint16)
            f = tmp_path / "out" / "masks" / "instance" / f"{0:06d}_{cid:02d}.png"
            if f.is_file():
                x0, y0, x1, y1 = check.get("crop") or (0, 0, w, h)
                want[y0:y1, x0:x1] = np.asarray(Image.open(f))
                compared += 1
            assert np.array_equal(shown, want > 0), f"camera {cid}: {int((shown != (want > 0)).sum())} px differ"
            assert check["status"] != "accepted" or want.any()
        assert compared >= 1 and any(len(c.get("visible_defects", [])) for c in checks.values())
        if case == "crop":  # defects the raw ID pass shows but the CLI drops: the overlay leaves them out
            assert {r["reason"] for c in checks.values() for r in c.get("dropped_defects", [])} >= {"outside_crop"}
    finally:
        synthgen_addon.unregister()
