"""Motion blur in the plan and its label rule (pure): the belt speed and exposure are drawn per
scene and recorded, plans without blur are unchanged, and a pixel is labelled where its defect
shows for more than half the exposure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthgen.annotate.motion import majority, union
from synthgen.config.job import JobConfig
from synthgen.plan import make_plan

from conftest import smoke_dict


def test_a_pixel_is_labelled_where_its_defect_shows_half_the_exposure():
    maps = [np.array([[3, 3, 0, 5]]), np.array([[3, 0, 0, 5]]), np.array([[3, 0, 4, 2]]), np.array([[0, 0, 0, 2]])]
    assert majority(maps).tolist() == [[3, 0, 0, 0]]  # 3/4 kept; 1/4, 1/4 and 2/4 are not more than half
    assert majority(maps[:3]).tolist() == [[3, 0, 0, 5]]  # 2/3 is
    assert union(maps).tolist() == [[3, 3, 4, 5]]
    assert majority(maps[:1]).tolist() == [[3, 3, 0, 5]]


def test_motion_blur_is_planned_recorded_and_absent_when_off(tmp_path):
    d = smoke_dict(tmp_path / "out")
    off = make_plan(JobConfig.model_validate(d), 0)
    assert off.render.motion_blur is None
    assert "motion_blur" not in json.loads(off.to_json())["render"], "plans without blur stay as they were"
    d["render"]["motion_blur"] = {"enabled": True, "belt_speed_m_s": [0.2, 0.4], "exposure_ms": [1, 3], "id_steps": 6}
    cfg = JobConfig.model_validate(d)
    plans = [make_plan(cfg, i) for i in range(4)]
    for p in plans:
        speed, exposure, steps = p.render.motion_blur
        assert 0.2 <= speed <= 0.4 and 0.001 <= exposure <= 0.003 and steps == 6
        assert json.loads(p.to_json())["render"]["motion_blur"] == pytest.approx([speed, exposure, 6], rel=1e-11)
    assert len({p.render.motion_blur for p in plans}) == 4, "drawn per scene"
    assert make_plan(cfg, 2).to_json() == plans[2].to_json(), "the same seed gives the same plan"
    blurless = [make_plan(JobConfig.model_validate({**d, "render": {**d["render"], "motion_blur": {"enabled": False}}}), i)
                for i in range(4)]
    assert [b.parts for b in blurless] == [p.parts for p in plans], "blur draws from its own stream"
