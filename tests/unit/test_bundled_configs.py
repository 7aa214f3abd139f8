"""Every config shipped in configs/ loads with the schema of its command (a bundled example that
does not validate is the first thing a new user would hit)."""

from __future__ import annotations

import pytest
import yaml

from synthgen.config.job import load_job_config
from synthgen.config.loading import load_config

from conftest import REPO, SHARED_DATA, requires_magnetic_tile

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def _schema(path):
    from synthgen.learn.bilevel.config import BilevelConfig
    from synthgen.learn.seg.config import ExperimentConfig, SegConfig
    from synthgen.learn.vqgen.config import VQGenConfig

    keys = set(yaml.safe_load(path.read_text()))
    if keys <= {"seed", "defects"}:
        return "defects"
    if "mixes" in keys:
        return ExperimentConfig
    if "synthesis" in keys:
        return BilevelConfig
    if "vqvae" in keys:
        return VQGenConfig
    if "sources" in keys:
        return SegConfig
    return None


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_bundled_config_validates(path):
    if "shared/data/" in path.read_text() and not SHARED_DATA.is_dir():
        pytest.skip(f"{path.name} reads the real data, not found at {SHARED_DATA}")
    schema = _schema(path)
    if schema is None:
        cfg = load_job_config(path)
        assert cfg.num_scenes >= 1 and cfg.parts
    elif schema == "defects":  # a standalone defects: section (synthgen defects generate)
        from synthgen.textures.cli import load_defects_section

        cfg, _seed = load_defects_section(path)
        assert cfg.kinds
    else:
        pytest.importorskip("torch", reason="learning configs need the learn extra")
        load_config(path, schema)


@requires_magnetic_tile
def test_twin_config_is_greyscale_cropped_with_the_five_real_classes():
    cfg = load_job_config(REPO / "configs" / "twin_magnetic_tile.yaml")
    assert cfg.render.color_mode == "BW" and cfg.render.crop is not None
    assert sorted(cfg.defects.kinds) == ["Blowhole", "Break", "Crack", "Fray", "Uneven"]
    for kind in ("Break", "Fray"):
        assert cfg.defects.kinds[kind].surface.max_edge_distance_mm is not None
    assert cfg.verification.render_without_defects
