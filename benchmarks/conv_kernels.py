"""Speed of graphc's conv2d kernels (forward, input gradient, weight gradient) on the MNIST CNN
layer shapes, against the NumPy reference and PyTorch (when installed). Prints medians and ratios.

    python benchmarks/conv_kernels.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from graphc.ops import nn_reference as ref
from runtime.kernels import conv as K

LAYERS = {  # name: (input shape, weight shape), stride 1, no padding
    "conv1 64x1x28x28 -> 32 3x3": ((64, 1, 28, 28), (32, 1, 3, 3)),
    "conv2 64x32x26x26 -> 64 3x3": ((64, 32, 26, 26), (64, 32, 3, 3)),
}
GEOMETRY = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)


def median_ms(fn, repeat):
    fn()  # warm up (and compile)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def graphc_fns(x, w, gy):
    b = np.zeros(0, x.dtype)
    out = np.empty(gy.shape, x.dtype)
    gx = np.empty(x.shape, x.dtype)
    gw = np.empty(w.shape, x.dtype)
    return {
        "forward": lambda: K.conv2d(x, w, b, out, 1, 1, 0, 0, 1, 1, 1),
        "input grad": lambda: K.conv_transpose2d(gy, w, b, gx, 1, 1, 0, 0, 1, 1, 1),
        "weight grad": lambda: K.conv2d_weight_grad(x, gy, gw, 1, 1, 0, 0, 1, 1, 1),
    }


def numpy_fns(x, w, gy):
    return {
        "forward": lambda: ref.conv2d(x, w, **GEOMETRY),
        "input grad": lambda: ref.conv_transpose2d(gy, w, output_padding=(0, 0), **GEOMETRY),
        "weight grad": lambda: ref.conv2d_weight_grad(x, gy, kernel_size=w.shape[2:], **GEOMETRY),
    }


def torch_fns(x, w, gy):
    try:
        import torch
    except ImportError:
        return None
    tx, tw, tgy = (torch.from_numpy(a) for a in (x, w, gy))
    grad = torch.nn.grad
    return {
        "forward": lambda: torch.nn.functional.conv2d(tx, tw),
        "input grad": lambda: grad.conv2d_input(tx.shape, tw, tgy),
        "weight grad": lambda: grad.conv2d_weight(tx, tw.shape, tgy),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'layer':30s} {'pass':12s} {'graphc ms':>10s} {'numpy ms':>10s} {'torch ms':>10s} "
          f"{'numpy/graphc':>13s} {'torch/graphc':>13s}")
    for name, (xs, ws) in LAYERS.items():
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        ys = (xs[0], ws[0], xs[2] - ws[2] + 1, xs[3] - ws[3] + 1)
        gy = rng.standard_normal(ys).astype(np.float32)
        ours, theirs, torch_ = graphc_fns(x, w, gy), numpy_fns(x, w, gy), torch_fns(x, w, gy)
        for what in ours:
            g = median_ms(ours[what], args.repeat)
            n = median_ms(theirs[what], max(3, args.repeat // 4))
            t = median_ms(torch_[what], args.repeat) if torch_ else float("nan")
            print(f"{name:30s} {what:12s} {g:10.2f} {n:10.2f} {t:10.2f} {n / g:13.2f} {t / g:13.2f}")


if __name__ == "__main__":
    main()
