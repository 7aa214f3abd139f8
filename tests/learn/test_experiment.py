"""`seg experiment`: one row per training mix, one column per test set; missing optional sources skip."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner
from segtoy import blobs, toy_config  # noqa: F401 (fixture)

from synthgen.cli import cli


def test_experiment_table(blobs, tmp_path):  # noqa: F811 (fixture)
    cfg = toy_config(blobs, tmp_path / "exp", epochs=2)
    cfg["sources"]["synthetic"] = {"kind": "synthgen", "path": str(tmp_path / "not_rendered_yet"),
                                   "optional": True}
    cfg["sources"]["healthy"] = {"kind": "folder", "path": str(blobs / "test"), "limit": 4}
    del cfg["train"]["mix"]
    cfg["mixes"] = {"real": [{"source": "train"}],
                    "real+healthy": [{"source": "train"}, {"source": "healthy", "ratio": 0.25}],
                    "real+synthetic": [{"source": "train"}, {"source": "synthetic"}]}
    cfg["eval"]["test_sets"] = {"blobs": ["test"], "blobs_head": ["healthy"]}
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert list(res) == ["real", "real+healthy", "real+synthetic"]
    assert "not_rendered_yet" not in res["real+synthetic"]["skipped"] and "synthetic" in res["real+synthetic"]["skipped"]
    for mix in ("real", "real+healthy"):
        assert set(res[mix]["sets"]) == {"blobs", "blobs_head"}
        assert 0 <= res[mix]["sets"]["blobs"]["map"] <= 1
    md = (tmp_path / "exp" / "results.md").read_text()
    assert "| training mix | blobs | blobs_head |" in md
    row = next(line for line in md.splitlines() if line.startswith("| real+healthy |"))
    s = res["real+healthy"]["sets"]["blobs"]
    assert f"{s['map']:.3f} ({s['iou_dataset']:.3f})" in row
    # Re-running reuses the finished mixes (no retraining): the checkpoints are unchanged.
    mtime = (tmp_path / "exp" / "real" / "checkpoints" / "last.pt").stat().st_mtime_ns
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "exp" / "real" / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime


def test_experiment_over_seeds_reports_mean_and_std(blobs, tmp_path):  # noqa: F811 (fixture)
    cfg = toy_config(blobs, tmp_path / "exp", epochs=1)
    del cfg["train"]["mix"]
    cfg["mixes"] = {"real": [{"source": "train"}]}
    cfg["seeds"] = [0, 5]
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "exp" / "results.json").read_text())["real"]
    runs = [res["runs"][s]["sets"]["blobs"]["iou_dataset"] for s in ("0", "5")]
    assert (tmp_path / "exp" / "real" / "s5" / "checkpoints" / "best.pt").is_file()
    assert abs(res["sets"]["blobs"]["iou_dataset"] - sum(runs) / 2) < 1e-9
    assert abs(res["sets_std"]["blobs"]["iou_dataset"] - abs(runs[0] - runs[1]) / 2 ** 0.5) < 1e-9
    md = (tmp_path / "exp" / "results.md").read_text()
    assert "Mean ± std over 2 seeds" in md and " ± " in md.split("| real |")[1].splitlines()[0]


def test_only_trains_the_named_mixes_and_names_a_bad_one(blobs, tmp_path, capsys):  # noqa: F811 (fixture)
    import pytest

    from synthgen.cli import main

    cfg = toy_config(blobs, tmp_path / "exp", epochs=1)
    del cfg["train"]["mix"]
    cfg["mixes"] = {"a": [{"source": "train"}], "b": [{"source": "train", "ratio": 2}]}
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet", "--only", "b"])
    assert r.exit_code == 0, r.output
    assert list(json.loads((tmp_path / "exp" / "results.json").read_text())) == ["b"]
    assert not (tmp_path / "exp" / "a").exists()
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet", "--only", "a"])
    assert r.exit_code == 0, r.output
    assert list(json.loads((tmp_path / "exp" / "results.json").read_text())) == ["b", "a"], "--only adds its rows"
    assert "| b |" in (tmp_path / "exp" / "results.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["seg", "experiment", str(p), "--quiet", "--only", "c"])
    assert e.value.code != 0
    msg = capsys.readouterr().err.strip()
    assert "\n" not in msg and "--only c" in msg and "a, b" in msg and str(p) in msg


def test_per_class_table_is_mean_and_std_over_seeds():
    from synthgen.learn.seg.experiment import per_class_markdown

    def run(a, b):
        return {"sets": {"defective": {"per_class": {"Crack": {"iou_dataset": a}, "Fray": {"iou_dataset": b}}}}}

    table = {"real": {"runs": {"0": run(0.2, 0.5), "1": run(0.4, 0.5)}},
             "synthetic": {"skipped": "source(s) synthetic not found"}}
    md = per_class_markdown(table, ["defective", "all"])
    assert "| training mix | Crack | Fray |" in md and "on `defective`" in md
    row = next(line for line in md.splitlines() if line.startswith("| real |"))
    assert row == "| real | 0.300 ± 0.141 | 0.500 ± 0.000 |"
    assert "synthetic" not in md
    assert per_class_markdown({"real": {"runs": {"0": {"sets": {"all": {}}}}}}, ["all"]) == ""


def test_seeds_split_over_processes_give_the_table_of_one_run(blobs, tmp_path, capsys):  # noqa: F811 (fixture)
    """`--seed` trains a subset of the seeds in the full run's folders; a last run without it
    reuses every run and its test figures, and tabulates the same numbers as one run would."""
    import pytest

    from synthgen.cli import main

    cfg = toy_config(blobs, tmp_path / "exp", epochs=1)
    del cfg["train"]["mix"]
    cfg["mixes"] = {"real": [{"source": "train"}]}
    cfg["seeds"] = [0, 5]
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(cfg))
    for s, tabled in (("5", ["5"]), ("0", ["0", "5"])):
        r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet", "--seed", s])
        assert r.exit_code == 0, r.output
        row = json.loads((tmp_path / "exp" / "results.json").read_text())["real"]
        assert list(row["runs"]) == tabled and row["seeds"] == [int(x) for x in tabled], "--seed adds its runs"
    assert (tmp_path / "exp" / "real" / "s5" / "checkpoints" / "best.pt").is_file()
    metrics = tmp_path / "exp" / "real" / "s0" / "eval" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.output.count("test figures reused") == 2 and metrics.stat().st_mtime_ns == before
    res = json.loads((tmp_path / "exp" / "results.json").read_text())["real"]
    assert res["sets"] == row["sets"] and res["sets_std"] == row["sets_std"], "the partial runs' table is the full one"
    one = {s: res["runs"][s]["sets"]["blobs"]["iou_dataset"] for s in ("0", "5")}
    # a second process's figures equal a fresh evaluation of the same checkpoint
    (tmp_path / "exp" / "real" / "s5" / "eval" / "metrics.json").unlink()
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    res2 = json.loads((tmp_path / "exp" / "results.json").read_text())["real"]
    assert r.output.count("test figures reused") == 1
    assert {s: res2["runs"][s]["sets"]["blobs"]["iou_dataset"] for s in ("0", "5")} == one
    # changed test settings are evaluated again, not reused
    cfg["eval"]["threshold"] = 0.7
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(cli, ["seg", "experiment", str(p), "--quiet"])
    assert "test figures reused" not in r.output
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["seg", "experiment", str(p), "--quiet", "--seed", "3"])
    msg = capsys.readouterr().err.strip()
    assert e.value.code != 0 and "\n" not in msg and "--seed 3" in msg and "0, 5" in msg
