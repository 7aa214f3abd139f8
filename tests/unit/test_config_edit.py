"""Config fields edited one by one (the add-on's tweak panel): generated from the schema, applied
with validation, saved as YAML that keeps its comments and reloads to the edited values."""

from __future__ import annotations

import pytest

from synthgen.config.edit import apply_edits, editable_fields, save_config
from synthgen.config.job import load_job_config
from synthgen.errors import ConfigError

from conftest import REPO


def test_fields_come_from_the_schema_with_descriptions():
    cfg = load_job_config(REPO / "configs" / "quickstart.yaml")
    fields = {f.path: f for f in editable_fields(cfg)}
    assert fields["cameras.focal_length_mm"].value == (40.0, 50.0)
    assert fields["cameras.ark.count"].is_int and fields["cameras.ark.count"].value == (9,)
    assert "(W)" in fields["lights[0].power"].description
    assert fields["defects.kinds.dent.size_mm"].value == (12.0, 25.0)
    assert not any(p.startswith(("render", "parts", "placement")) for p in fields)


def test_an_invalid_edit_names_its_field():
    cfg = load_job_config(REPO / "configs" / "smoke.yaml")
    with pytest.raises(ConfigError, match=r"lights\[0\].power"):
        apply_edits(cfg, {"lights[0].power": (9.0, 1.0)})
    assert apply_edits(cfg, {"cameras.aim_jitter_deg": (4.0,)}).cameras.aim_jitter_deg == 4.0


def test_save_keeps_comments_and_reloads_to_the_edited_values(tmp_path):
    src = tmp_path / "quickstart.yaml"
    text = (REPO / "configs" / "quickstart.yaml").read_text()
    src.write_text(text.replace("../assets", str(REPO / "assets")))
    edits = {"lights[1].power": (2.0, 9.0), "cameras.focus.fstop": (4.0, 8.0), "cameras.roll_jitter_deg": (5.0,)}
    cfg = save_config(src, tmp_path / "out.yaml", edits)
    saved = (tmp_path / "out.yaml").read_text()
    comments = [ln for ln in src.read_text().splitlines() if ln.lstrip().startswith("#")]
    assert comments and all(c in saved for c in comments)
    assert cfg.lights[1].power == (2.0, 9.0) and cfg.cameras.focus.fstop == (4.0, 8.0)
    assert load_job_config(tmp_path / "out.yaml").cameras.roll_jitter_deg == 5.0
    assert not list(tmp_path.glob(".check_*"))


def test_save_as_into_another_folder_keeps_pointing_at_the_same_files(tmp_path):
    src = tmp_path / "a" / "smoke.yaml"
    src.parent.mkdir()
    src.write_text((REPO / "configs" / "smoke.yaml").read_text().replace("../assets", str(REPO / "assets"))
                   .replace("path: " + str(REPO / "assets/parts/bracket.stl"), "path: ../bracket.stl"))
    (tmp_path / "bracket.stl").write_bytes((REPO / "assets" / "parts" / "bracket.stl").read_bytes())
    before = load_job_config(src)
    cfg = save_config(src, tmp_path / "b" / "c" / "saved.yaml", {"cameras.aim_jitter_deg": (1.0,)})
    assert cfg.parts[0].path == before.parts[0].path and cfg.out == before.out
    assert "path: ../../bracket.stl" in (tmp_path / "b" / "c" / "saved.yaml").read_text()
