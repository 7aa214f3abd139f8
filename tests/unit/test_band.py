"""The band generator (a region of different finish across the part, the magnetic tile's Uneven
class) and the tint material (the surface's own texture brightened, not covered)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage

from synthgen.textures.generate import generate_variant, margin_px
from synthgen.textures.recipes import DefectRecipe

RES = 128


def _band(seed: int, **shape):
    r = DefectRecipe.model_validate({"generator": "band", "types": ["encrustation"], "size_mm": [20, 40],
                                     "resolution": RES, "shape": shape, "material": {"tint": [1.3, 1.8]}})
    return generate_variant(r, np.random.default_rng(seed), kind="Uneven")


@pytest.mark.parametrize("seed,streaks", [(0, 0.5), (1, 0.5), (2, 1.0), (3, 1.0)])
def test_a_band_spans_the_map_in_one_piece_at_its_drawn_width(seed, streaks):
    """However streaky, the band's label is one solid piece (its streaks are in the
    encrustation's strength, never holes in the mask)."""
    m = _band(seed, width=(0.3, 0.3), offset=(0.0, 0.0), raggedness=0.02, streaks=streaks)
    k = margin_px(RES) * 2  # inside the border window's fade
    cols = m.mask[:, k:-k]
    assert cols.any(axis=0).all()  # every column: the band runs from one side of the map to the other
    _lab, n = ndimage.label(m.mask)
    assert n == 1
    assert not (ndimage.binary_fill_holes(m.mask) & ~m.mask).any(), "no holes in the band's label"
    assert (np.diff(cols.astype(np.int8), axis=0) != 0).sum(axis=0).max() <= 2, "one run per column: no gaps"
    height = cols.sum(axis=0)
    assert abs(float(np.median(height)) - 0.3 * RES) < 0.08 * RES
    rows = np.nonzero(cols.any(axis=1))[0]
    assert abs((rows[0] + rows[-1]) / 2 - RES / 2) < 0.1 * RES  # centred at offset 0


def test_band_streaks_run_across_the_band():
    m = _band(0, width=(0.4, 0.4), offset=(0.0, 0.0), streaks=1.0)
    inside = m.mask[:, 10:-10]
    enc = np.where(inside, m.encrustation[:, 10:-10], np.nan)
    core = enc[int(RES * 0.45):int(RES * 0.55)]
    assert np.nanstd(np.nanmean(core, axis=0)) > 0.05  # varies from column to column
    assert np.nanmax(np.nanstd(core, axis=0)) < 0.05  # hardly along a column


def test_a_tint_is_drawn_only_when_asked_for_and_its_range_is_checked():
    assert 1.3 <= _band(1).material["tint"] <= 1.8
    plain = DefectRecipe.model_validate({"generator": "mark", "types": ["encrustation"], "resolution": RES})
    assert "tint" not in generate_variant(plain, np.random.default_rng(1)).material
    for bad in ([1.5, 1.2], [0.0, 1.4], [-1.0, 0.0]):
        with pytest.raises(ValidationError, match="tint"):
            DefectRecipe.model_validate({"generator": "band", "material": {"tint": bad}})
