"""Speed of graphc's conv2d kernels (forward, input gradient, weight gradient) on the MNIST CNN
(W3) and ResNet block (W9) layer shapes (batch 64, float32), against the NumPy reference and
PyTorch (when installed). Columns: the @njit kernels (compiled programs' Numba target), the
eager path (graphc dispatch over conv_numpy.py: direct 3x3 kernels where they apply), the
im2col + GEMM drivers (kernel-layout programs), the NumPy reference and PyTorch.

    python benchmarks/conv_kernels.py [--threads 1] [--repeat 20] [--clock cpu|wall]

--threads caps BLAS and PyTorch threads (set before NumPy loads). --clock cpu measures the
process's CPU time: with --threads 1 it is robust to other work on a shared machine, which
makes wall-clock numbers of threaded code swing by 10x. Prints min and median milliseconds
and the ratios of the medians of graphc's eager path and of its im2col drivers to PyTorch
(< 1: graphc is faster).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS/torch threads")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.threads:  # must happen before NumPy/SciPy load their BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.ops import nn as N, nn_reference as ref  # noqa: E402
from runtime import threads  # noqa: E402
from runtime.kernels import conv as K, conv_numpy  # noqa: E402

if ARGS.threads:  # `import graphc` set every BLAS library to graphc's thread count
    threads.set_num_threads(ARGS.threads)

LAYERS = {  # name: (input shape, weight shape, padding), stride 1
    "conv1 1->32 3x3 on 28x28": ((64, 1, 28, 28), (32, 1, 3, 3), 0),
    "conv2 32->64 3x3 on 26x26": ((64, 32, 26, 26), (64, 32, 3, 3), 0),
    "W9 16->16 3x3 pad 1 32x32": ((64, 16, 32, 32), (16, 16, 3, 3), 1),
}
CLOCK = time.process_time if ARGS.clock == "cpu" else time.perf_counter


def measure(fn, repeat):
    """(min, median) milliseconds over `repeat` calls after one warm-up call (which compiles)."""
    fn()
    times = []
    for _ in range(repeat):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return 1e3 * min(times), 1e3 * statistics.median(times)


def _geometry(p):
    return dict(stride=(1, 1), padding=(p, p, p, p), dilation=(1, 1), groups=1)


def graphc_kernels(x, w, gy, p, kernels=K):
    b = np.zeros(0, x.dtype)
    out, gx, gw = np.empty(gy.shape, x.dtype), np.empty(x.shape, x.dtype), np.empty(w.shape, x.dtype)
    suffix = "_im2col" if kernels is conv_numpy else ""
    conv2d, transpose, weight_grad = (getattr(kernels, name + suffix) for name in
                                      ("conv2d", "conv_transpose2d", "conv2d_weight_grad"))
    return {
        "forward": lambda: conv2d(x, w, b, out, 1, 1, p, p, 1, 1, 1),
        "input grad": lambda: transpose(gy, w, b, gx, 1, 1, p, p, 1, 1, 1),
        "weight grad": lambda: weight_grad(x, gy, gw, 1, 1, p, p, 1, 1, 1),
    }


def graphc_eager(x, w, gy, p):
    """The same passes through graphc's eager dispatch (allocation, checks, tape-free)."""
    tx, tw, tgy = gc.tensor(x), gc.tensor(w), gc.tensor(gy)
    return {
        "forward": lambda: N.conv2d(tx, tw, padding=p),
        "input grad": lambda: N.conv_transpose2d_op(tgy, tw, padding=p),
        "weight grad": lambda: N.conv2d_weight_grad(tx, tgy, kernel_size=(3, 3), padding=p),
    }


def numpy_reference(x, w, gy, p):
    return {
        "forward": lambda: ref.conv2d(x, w, **_geometry(p)),
        "input grad": lambda: ref.conv_transpose2d(gy, w, output_padding=(0, 0), **_geometry(p)),
        "weight grad": lambda: ref.conv2d_weight_grad(x, gy, kernel_size=w.shape[2:],
                                                      **_geometry(p)),
    }


def pytorch(x, w, gy, p):
    try:
        import torch
    except ImportError:
        return None
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    tx, tw, tgy = (torch.from_numpy(a) for a in (x, w, gy))
    return {
        "forward": lambda: torch.nn.functional.conv2d(tx, tw, padding=p),
        "input grad": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tgy, padding=p),
        "weight grad": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tgy, padding=p),
    }


def main():
    rng = np.random.default_rng(0)
    print(f"clock={ARGS.clock} threads={ARGS.threads or 'default'} repeat={ARGS.repeat}; "
          f"milliseconds as min/median")
    header = ["layer", "pass", "kernel", "eager", "im2col", "numpy", "torch", "eager/torch",
              "im2col/torch"]
    print(f"{header[0]:27s} {header[1]:12s}" + "".join(f"{h:>13s}" for h in header[2:]))
    for name, (xs, ws, p) in LAYERS.items():
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        size = xs[2] + 2 * p - 2
        gy = rng.standard_normal((xs[0], ws[0], size, size)).astype(np.float32)
        runs = [graphc_kernels(x, w, gy, p), graphc_eager(x, w, gy, p),
                graphc_kernels(x, w, gy, p, conv_numpy), numpy_reference(x, w, gy, p),
                pytorch(x, w, gy, p)]
        for what in runs[0]:
            cells, medians = [], []
            for i, fns in enumerate(runs):
                if fns is None:
                    cells.append("-")
                    medians.append(float("nan"))
                    continue
                lo, med = measure(fns[what], ARGS.repeat if i != 3 else max(3, ARGS.repeat // 4))
                cells.append(f"{lo:.2f}/{med:.2f}")
                medians.append(med)
            ratios = [f"{medians[1] / medians[4]:.2f}", f"{medians[2] / medians[4]:.2f}"]
            print(f"{name:27s} {what:12s}" + "".join(f"{c:>13s}" for c in cells + ratios),
                  flush=True)


if __name__ == "__main__":
    main()
