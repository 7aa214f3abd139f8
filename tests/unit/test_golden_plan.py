"""A golden plan: the smoke config's scene 0 (seed 1), as ``synthgen plan`` prints it, compared
exactly with the stored copy in tests/unit/golden/.

Every draw of the planner shows up here. A commit that changes the draws on purpose regenerates
the file (command below) and says why in its message; any other difference is a regression.

    synthgen plan configs/smoke.yaml --scene 0 | python -c "import json,sys; d=json.load(sys.stdin); \
d.pop('synthgen_version'); print(json.dumps(d, sort_keys=True, indent=1))" > tests/unit/golden/plan_smoke_scene0.json
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli

GOLDEN = Path(__file__).parent / "golden" / "plan_smoke_scene0.json"


def test_smoke_scene_0_plan_equals_the_golden_plan(tmp_path):
    res = run_cli("plan", str(REPO / "configs" / "smoke.yaml"), "--scene", "0", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan.pop("synthgen_version")
    got = json.dumps(plan, sort_keys=True, indent=1) + "\n"
    assert got == GOLDEN.read_text(), "the smoke plan changed; if on purpose, regenerate the golden file"
    assert not list(tmp_path.iterdir()), "synthgen plan writes nothing"
    assert plan["parts"][0]["path"] == "../assets/parts/bracket.stl"
    assert sorted(d["variant_dir"].split("/")[0] for d in plan["defects"]) == ["burn", "dent", "hole"]


def test_plan_writes_nothing_into_the_output_folder_unless_asked(tmp_path, write_config):
    from conftest import smoke_dict

    cfg = write_config(smoke_dict(tmp_path / "out"))
    res = run_cli("plan", str(cfg), "--scene", "0")
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "out").exists()
    res2 = run_cli("plan", str(cfg), "--scene", "0", "--cache", str(tmp_path / "out" / ".cache"))
    assert res2.returncode == 0 and res2.stdout == res.stdout, res2.stderr
    assert list((tmp_path / "out" / ".cache").glob("poses/*.json")), "--cache keeps the resting poses"
