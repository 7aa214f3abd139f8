"""Bad render configs give one clear line per problem naming the field, exit 2, no traceback."""

from __future__ import annotations

import json

from conftest import REPO, run_cli, smoke_dict


def _check_error(res, *needles):
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln]
    assert lines, "no error printed"
    for needle in needles:
        assert any(needle in ln for ln in lines), f"{needle!r} not in {lines}"
    return lines


def test_bundled_configs_validate():
    for name in ("quickstart", "smoke", "production"):
        res = run_cli("validate", str(REPO / "configs" / f"{name}.yaml"))
        assert res.returncode == 0, res.stderr
        assert "ok" in res.stdout


def test_unknown_key_is_named(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["cameras"]["ark"]["radious"] = 0.3
    p = write_config(d)
    lines = _check_error(run_cli("validate", str(p)), f"{p}: cameras.ark.radious: unknown key")
    assert len(lines) == 1


def test_out_of_range_matches_documented_format(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["cameras"]["ark"]["count"] = 0
    p = write_config(d)
    _check_error(run_cli("validate", str(p)),
                 f"{p}: cameras.ark.count: Input should be greater than or equal to 1 (got 0)")


def test_wrong_type_and_list_index(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["render"]["samples"] = "many"
    d["lights"][0]["power"] = [10, 5]
    p = write_config(d)
    lines = _check_error(run_cli("validate", str(p)), "render.samples: Input should be a valid integer",
                         "lights[0].power:")
    assert len(lines) == 2  # one line per problem


def test_missing_cad_file_names_part(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["parts"][0]["path"] = "nope/missing_part.stl"
    p = write_config(d)
    _check_error(run_cli("validate", str(p)), "parts[0].path:", "missing_part.stl")


def test_missing_units_is_required(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    del d["parts"][0]["units"]
    p = write_config(d)
    _check_error(run_cli("validate", str(p)), "parts[0].units: Field required")


def test_missing_config_file_and_bad_yaml(tmp_path):
    _check_error(run_cli("validate", str(tmp_path / "absent.yaml")), "absent.yaml: file not found")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    _check_error(run_cli("validate", str(bad)), "bad.yaml: line")


def test_render_with_bad_config_writes_nothing(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["render"]["device"] = "GPU9000"
    p = write_config(d)
    _check_error(run_cli("render", str(p)), "render.device:")
    assert not (tmp_path / "out").exists()


def test_schema_has_descriptions(tmp_path):
    res = run_cli("schema", "--out", str(tmp_path / "s.json"))
    assert res.returncode == 0, res.stderr
    schema = json.loads((tmp_path / "s.json").read_text())
    ark = schema["$defs"]["ArkConfig"]["properties"]
    assert "radius" in ark and "(m)" in ark["radius"]["description"]
    assert schema["$defs"]["LightConfig"]["properties"]["temperature"]["description"].endswith("(K)")


def test_cross_field_errors_name_their_field(write_config, tmp_path):
    d = smoke_dict(tmp_path / "out")
    d["defects"]["kinds"]["dent"]["count_per_part"] = [1, 600]
    p = write_config(d)
    _check_error(run_cli("validate", str(p)), f"{p}: defects.kinds: up to")
    d["defects"]["kinds"]["dent"]["count_per_part"] = [1, 1]
    d["parts"][0]["materials"] = ["unobtainium"]
    p = write_config(d)
    _check_error(run_cli("validate", str(p)), f"{p}: parts: part 'bracket' uses unknown material preset")


def test_validate_on_a_learning_config_is_a_config_error_exit_2():
    res = run_cli("validate", str(REPO / "configs" / "seg_magnetic_tile_cpu.yaml"))
    assert res.returncode == 2 and "not a render config" in res.stderr and "seg train" in res.stderr
