"""graphc eager vs PyTorch eager, step by step in one process: ratios that a busy machine
does not wash out.

    python -m benchmarks.eager_pairs [--threads 1] [--steps 15] [--only W1,W9] [--clock cpu|wall]

The suite (`benchmarks.run`) measures each system's samples one after the other, with wall
clocks: on a shared 2-core machine whose load swings between 1 and 10 that moves ratios by 2x
between runs. Here both systems are built from the same weights and data as in the suite,
and each sample times one graphc step, then one PyTorch step, alternating, so that both see
the same load; `--clock cpu` (the default) times the process's CPU time, which a neighbour's
work disturbs far less than wall time when every library runs on one thread (with more
threads, CPU time also counts threads that spin waiting, so use `--clock wall` there).
Prints per workload the medians and the ratio graphc / PyTorch (< 1: graphc is faster).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

WORKLOADS = ("W1", "W2", "W3", "W4", "W9")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="threads for graphc, BLAS, torch")
    p.add_argument("--steps", type=int, default=15, help="timed samples per system")
    p.add_argument("--only", default=",".join(WORKLOADS))
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    return p.parse_args(argv)


def _pairs(torch, name):
    """(graphc step, torch step, calls per sample) of one workload, as the suite builds them."""
    from . import models as M, resnet_block as R, workloads as W
    if name == "W9":
        size = dict(batch=64, image=32, channels=16, blocks=2)
        rng = np.random.default_rng(9)
        x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, 64).astype(np.int64)
        import graphc as gc
        weights = R._weights(R._build(gc.nn, 16, 2), seed=9)
        return R._graphc_step(size, weights, x, y), R._torch_step(torch, size, weights, x, y), 1
    if name == "W1":
        spec = M.MLPSpec((2, 3, 1), "sigmoid", "mse", "sgd", 0.5, sigmoid_output=True)
        kind, weights, x, y, calls = "mlp", M.mlp_weights(spec, seed=1), W.XOR_X, W.XOR_Y, 100
    elif name == "W2":
        grid = np.linspace(-2, 2, 201, dtype=np.float32)
        x = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
        y = (np.sin(x[:, :1]) * np.cos(x[:, 1:])).astype(np.float32)
        spec = M.MLPSpec((2, 3, 1), "tanh", "mse", "sgd", 0.1)
        kind, weights, calls = "mlp", M.mlp_weights(spec, seed=2), 10
    elif name == "W3":
        spec = M.CNNSpec(image=28)
        rng = np.random.default_rng(3)
        x = rng.random((64, 1, 28, 28), np.float32)
        y = rng.integers(0, spec.classes, 64).astype(np.int64)
        kind, weights, calls = "cnn", M.cnn_weights(spec, seed=3), 1
    else:  # W4
        spec = M.MLPSpec((784, 256, 256, 10), "relu", "cross_entropy", "adam", 1e-3)
        rng = np.random.default_rng(4)
        x = rng.standard_normal((128, 784)).astype(np.float32)
        y = rng.integers(0, 10, 128).astype(np.int64)
        kind, weights, calls = "mlp", M.mlp_weights(spec, seed=4), 10
    g, _ = M.graphc_eager(kind, spec, weights, x, y)
    t, _ = M.torch_eager(torch, kind, spec, weights, x, y)
    return g, t, calls


def measure(steps, clock, g, t, calls):
    """Medians (seconds a call) of graphc and torch, sampled alternately."""
    for _ in range(2):
        g(), t()
    gs, ts = [], []
    for _ in range(steps):
        for fn, out in ((g, gs), (t, ts)):
            start = clock()
            for _ in range(calls):
                fn()
            out.append((clock() - start) / calls)
    return statistics.median(gs), statistics.median(ts)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        from .harness import limit_threads
        limit_threads(args.threads)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    load = os.getloadavg()[0]
    print(f"graphc eager vs torch eager, {args.clock} clock, threads: "
          f"{args.threads or 'framework defaults'}, load at start {load:.2f}")
    print("| workload | graphc eager | torch eager | graphc / torch |\n|---|---:|---:|---:|")
    for name in [w.strip().upper() for w in args.only.split(",") if w.strip()]:
        gm, tm = measure(args.steps, clock, *_pairs(torch, name))
        print(f"| {name} | {_fmt(gm)} | {_fmt(tm)} | {gm / tm:.2f}x |", flush=True)
    print(f"load at end {os.getloadavg()[0]:.2f}")


def _fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


if __name__ == "__main__":
    main()
