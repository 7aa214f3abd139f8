"""U-Net inference throughput (images/s) on CPU: standard vs thin variants, 512x512 greyscale.

    python benchmarks/seg_throughput.py [--size 512] [--batch 1] [--iters 5] [--threads 2]

Prints one line per variant and memory layout (NCHW, channels-last as used by synthgen seg):
parameters, milliseconds per image, images per second.
"""

from __future__ import annotations

import argparse
import time

import torch

from synthgen.learn.common.unet import UNet, count_parameters

VARIANTS = [  # name, depth, width, thin
    ("standard d4 w32", 4, 32, False),
    ("standard d4 w16", 4, 16, False),
    ("thin d4 w32", 4, 32, True),
    ("thin d4 w16", 4, 16, True),
    ("thin d4 w8", 4, 8, True),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 1, a.size, a.size)
    print(f"torch {torch.__version__}, {a.threads} threads, input {a.batch}x1x{a.size}x{a.size}")
    for name, depth, width, thin in VARIANTS:
        for fmt in (torch.contiguous_format, torch.channels_last):
            net = UNet(1, 1, depth, width, thin=thin).eval().to(memory_format=fmt)
            xf = x.contiguous(memory_format=fmt)
            with torch.inference_mode():
                net(xf)  # warm-up
                t0 = time.perf_counter()
                for _ in range(a.iters):
                    net(xf)
                dt = (time.perf_counter() - t0) / (a.iters * a.batch)
            layout = "channels-last" if fmt is torch.channels_last else "NCHW"
            print(f"{name:18s} {layout:13s} {count_parameters(net) / 1e6:6.2f} M params  {dt * 1e3:8.1f} ms/img  "
                  f"{1 / dt:6.2f} img/s")


if __name__ == "__main__":
    main()
