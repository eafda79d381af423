"""Timing on the GPU for the CUDA benchmarks: medians of synchronized samples.

A GPU runs kernels asynchronously, so every sample ends with a synchronize of each system
that ran (numba's context, and PyTorch's when it is used); compile time is measured apart
(build + first call). Nothing here asserts a speed: the scripts print ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time


def parse(argv, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="toy sizes, one sample (a smoke run; works in the simulator)")
    parser.add_argument("--repeat", type=int, default=9, help="samples per system (median)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--only", default="", help="run the workloads whose name contains this")
    parser.add_argument("--systems", default="", help="run the systems whose name contains this")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
    return args


def torch_cuda(args):
    """PyTorch when it is installed with a usable CUDA device (and not excluded), else None."""
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def synchronizer(torch=None):
    from runtime.cuda import synchronize

    def sync():
        synchronize()
        if torch is not None:
            torch.cuda.synchronize()
    return sync


def timed(fn, sync):
    """(result, seconds) of one synchronized call."""
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - start


def median_call_s(fn, sync, repeat, min_sample_s=0.05):
    """Median seconds per call over `repeat` samples of enough calls to last min_sample_s."""
    if repeat == 1:  # --quick: one call (a smoke run, not a measurement)
        return timed(fn, sync)[1]
    _, once = timed(fn, sync)  # a warm-up call that also sizes the samples
    calls = max(1, min(1000, int(min_sample_s / max(once, 1e-7))))
    samples = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
