"""A generated defect library is reused across runs and output folders when SYNTHGEN_CACHE is
set, keyed by its recipe and seed; without it each output keeps its own."""

from __future__ import annotations

from pathlib import Path

from synthgen.config.job import JobConfig
from synthgen.plan.library import library_root, resolve_library

from conftest import smoke_dict


def test_the_shared_cache_keeps_one_library_per_recipe(tmp_path, monkeypatch):
    cfg = JobConfig.model_validate(smoke_dict(tmp_path / "out"))
    own = library_root(cfg, cfg.seed, tmp_path / "out" / ".cache")
    assert own.is_relative_to(tmp_path / "out" / ".cache")
    monkeypatch.setenv("SYNTHGEN_CACHE", str(tmp_path / "shared"))
    a = library_root(cfg, cfg.seed, tmp_path / "run_a" / ".cache")
    b = library_root(cfg, cfg.seed, tmp_path / "run_b" / ".cache")
    assert a == b and a.is_relative_to(tmp_path / "shared")
    assert library_root(cfg, cfg.seed + 1, tmp_path / "run_a" / ".cache") != a, "another seed, another library"
    first = resolve_library(cfg, cfg.seed, tmp_path / "run_a" / ".cache")
    stamp = {p: p.stat().st_mtime_ns for p in Path(a).rglob("*.png")}
    assert stamp, "the library was generated in the shared cache"
    assert resolve_library(cfg, cfg.seed, tmp_path / "run_b" / ".cache") == first
    assert {p: p.stat().st_mtime_ns for p in Path(a).rglob("*.png")} == stamp, "the second run reuses it"
    assert not (tmp_path / "run_b").exists()
