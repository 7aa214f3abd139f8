"""Where the defects of each labelled source lie in the image, on the heat-map grid of a bilevel config.

    python benchmarks/defect_location_stats.py [--config configs/bilevel_magnetic_tile.yaml]
                                               [--sources real_limited real_val real_test]

For each source: the share of (image, cell) defect hits per cell of the `learn.grid` x `learn.grid`
map (a cell counts once per image when any defect pixel falls in it, at the network input size),
printed in percent, with the share on the border ring and in the bottom half against a uniform
spread. This is what a learned paste-location map could pick up from the outer validation set,
and whether the test set shares it.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from synthgen.config.loading import load_config
from synthgen.learn.bilevel.config import BilevelConfig
from synthgen.learn.common.data import build_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/bilevel_magnetic_tile.yaml")
    ap.add_argument("--sources", nargs="+", default=["real_limited", "real_val", "real_test"])
    a = ap.parse_args()
    cfg = load_config(a.config, BilevelConfig)
    G = cfg.learn.grid
    border = np.zeros((G, G), bool)
    border[0] = border[-1] = border[:, 0] = border[:, -1] = True
    for name in a.sources:
        ds = build_dataset([name], cfg.sources, cfg.data)
        hits = np.zeros((G, G))
        for i in range(len(ds)):
            lab = (ds[i].label > 0).astype(np.float32)
            hits += cv2.resize(lab, (G, G), interpolation=cv2.INTER_AREA) > 0
        p = hits / max(hits.sum(), 1)
        print(f"{name}: {len(ds)} images; border ring {p[border].sum():.3f} (uniform {border.mean():.3f}), "
              f"bottom half {p[G // 2:].sum():.3f} (uniform 0.500); percent per cell:")
        print(np.array2string(100 * p, precision=1, floatmode="fixed", max_line_width=200))


if __name__ == "__main__":
    main()
