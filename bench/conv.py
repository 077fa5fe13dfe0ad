"""conv2d, conv1d and conv_transpose2d forward and forward+backward, cgrad against torch in one process.

    python bench/conv.py [--threads 1] [--runs 50]

Both libraries get the same inputs and thread count; their runs alternate, so
a busy machine slows both alike. Prints the median milliseconds of each.
"""
import argparse
import statistics
import time

import numpy as np

import cgrad
import torch

CASES = [  # (input shape, weight shape, keywords); output_padding marks a transposed one
    ((32, 3, 28, 28), (16, 3, 3, 3), dict(padding=1)),
    ((32, 16, 28, 28), (32, 16, 3, 3), dict(padding=1)),
    ((32, 32, 14, 14), (32, 1, 3, 3), dict(padding=1, groups=32)),
    ((64, 8, 128), (16, 8, 5), dict(stride=2)),
    ((32, 32, 14, 14), (32, 16, 4, 4), dict(stride=2, padding=1, output_padding=0)),
]


def make(lib, x, w, b, kw, input_grad):
    name = ("conv_transpose" if "output_padding" in kw else "conv") + ("2d" if w.ndim == 4 else "1d")
    conv = getattr(lib.nn.functional, name)
    X = lib.tensor(x, requires_grad=input_grad)
    W, B = lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)

    def forward():
        with lib.no_grad():
            conv(X, W, B, **kw)

    def step():
        conv(X, W, B, **kw).sum().backward()

    return {"forward": forward, "forward+backward": step}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cgrad.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    for xs, ws, kw in CASES:
        outs = ws[1] if "output_padding" in kw else ws[0]
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (outs,)))
        for input_grad in (False, True):
            fns = {lib.__name__: make(lib, x, w, b, kw, input_grad) for lib in (torch, cgrad)}
            for phase in ("forward", "forward+backward"):
                times = {name: [] for name in fns}
                for _ in range(5):
                    for f in fns.values():
                        f[phase]()
                for _ in range(args.runs):
                    for name, f in fns.items():
                        t0 = time.perf_counter()
                        f[phase]()
                        times[name].append(time.perf_counter() - t0)
                med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
                print(f"{str(xs):18} {str(ws):16} {str(kw):28} input grad {input_grad!s:5} {phase:17} "
                      f"torch {med['torch']:8.3f} ms  cgrad {med['cgrad']:8.3f} ms  ({med['torch'] / med['cgrad']:.2f}x)")


if __name__ == "__main__":
    main()
