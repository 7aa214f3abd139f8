"""Defect map generation speed: milliseconds per variant per built-in kind at 256 and 512 px.

    python benchmarks/textures_speed.py [--variants 10] [--res 256 512]

Times generate_variant only (maps + normals + mask, in memory), median over variants, plus the
time to write one variant's PNGs + meta.json (write_variant) at each resolution.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from synthgen.rng import stream
from synthgen.textures.generate import generate_variant
from synthgen.textures.kinds import builtin_recipes
from synthgen.textures.library import write_variant


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=10)
    ap.add_argument("--res", type=int, nargs="+", default=[256, 512])
    args = ap.parse_args()
    recipes = builtin_recipes()
    print(f"| kind | {' | '.join(f'{r} px ms (median)' for r in args.res)} | "
          f"{' | '.join(f'{r} px write ms' for r in args.res)} |")
    print("|---" * (1 + 2 * len(args.res)) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, recipe in recipes.items():
            gen_ms, write_ms = [], []
            for res in args.res:
                r = recipe.model_copy(update={"resolution": res})
                times = []
                maps = None
                for v in range(args.variants):
                    rng = stream(0, "bench", kind, v)
                    t0 = time.perf_counter()
                    maps = generate_variant(r, rng, kind=kind)
                    times.append((time.perf_counter() - t0) * 1000)
                gen_ms.append(statistics.median(times))
                t0 = time.perf_counter()
                write_variant(maps, Path(tmp) / kind / f"{res}")
                write_ms.append((time.perf_counter() - t0) * 1000)
            print(f"| {kind} | {' | '.join(f'{t:.1f}' for t in gen_ms)} | {' | '.join(f'{t:.1f}' for t in write_ms)} |")


if __name__ == "__main__":
    main()
