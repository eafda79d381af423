"""Timing, results and the optional frameworks the benchmarks compare against.

A workload builds one `step()` closure per system (graphc static, graphc eager, PyTorch
eager, torch.compile, JAX jit, ...), each bound to its data. `measure` warms it up, then
times batches of calls (enough calls per sample that the timer's resolution does not
matter) and reports the median time per call and the spread of the samples.
"""
from __future__ import annotations

import importlib
import statistics
import time
from dataclasses import dataclass, field

# System names, in table order.
STATIC, EAGER, JIT = "graphc static", "graphc eager", "graphc jit"
STATIC_LOOP = "graphc static k-step loop"
TORCH, TORCH_COMPILE, JAX = "torch eager", "torch.compile", "jax jit"
NUMPY, COPY = "numpy", "memcpy (same bytes)"


@dataclass
class Measurement:
    workload: str
    system: str
    metric: str                 # what one call is: "step", "forward", "op", "compile", ...
    median_s: float
    low_s: float = 0.0          # 25th / 75th percentile of the samples (per call)
    high_s: float = 0.0
    samples: int = 0
    calls_per_sample: int = 0
    compile_s: float | None = None   # build + first call (trace/compile/JIT), apart from steps
    best_s: float | None = None      # fastest sample: the least disturbed by other processes
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Target:
    """A ratio the issue asks for: `faster` is at least `ratio` x faster than `slower`
    (time of slower / time of faster), or an absolute bound on one time (slower=None)."""
    workload: str
    text: str
    faster: str
    slower: str | None
    ratio: float | None = None
    limit_s: float | None = None
    metric: str = "step"


class Settings:
    def __init__(self, quick=False, repeat=7, min_sample_s=0.02, frameworks=("torch", "jax"),
                 torch_compile=True, threads=None):
        self.quick = quick
        self.threads = threads  # None: each framework's default (all cores)
        self.repeat = 3 if quick else repeat
        self.min_sample_s = 0.0005 if quick else min_sample_s
        self.frameworks = set(frameworks)
        self.torch_compile = torch_compile and not quick


def optional(name):
    """Import an optional framework, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def limit_threads(n):
    """Use n threads everywhere: graphc's compiled loops, BLAS (threadpoolctl), PyTorch and
    XLA. On a loaded 2-core machine, thread pools waiting for a busy core stall badly."""
    import os
    import sys
    if "numba" not in sys.modules:  # Numba sizes its pool at import; later only per call
        os.environ["NUMBA_NUM_THREADS"] = str(n)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}")
    from runtime import threads
    threads.set_num_threads(n)
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is not None:
        limit_threads.blas = threadpoolctl.threadpool_limits(n)  # kept for the whole run


def use_fresh_caches():
    """Point graphc's, Numba's and TorchInductor's on-disk caches at a new directory, so that
    the compile column shows cold compiles for every system."""
    import os
    import sys
    import tempfile
    root = tempfile.mkdtemp(prefix="graphc-bench-")
    os.environ["GRAPHC_CACHE_DIR"] = os.path.join(root, "graphc")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(root, "inductor")
    if "numba" not in sys.modules:
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(root, "numba")
    return root


def torch_module(settings):
    torch = optional("torch") if "torch" in settings.frameworks else None
    if torch is not None and settings.threads:
        torch.set_num_threads(settings.threads)
    return torch


def jax_module(settings):
    if "jax" not in settings.frameworks:
        return None
    jax = optional("jax")
    if jax is not None:
        jax.config.update("jax_platforms", "cpu")
    return jax


SLOW_CALL_S = 0.25


def measure(workload, system, step, settings, metric="step", warmup=3, compile_s=None,
            note="", sync=None):
    """Median and quartiles of the time per call of `step()` (after `warmup` calls).

    sync(result) waits for asynchronous work (JAX's block_until_ready)."""
    sync = sync or (lambda r: r)
    repeat = settings.repeat
    for i in range(warmup + 1):
        start = time.perf_counter()
        sync(step())
        once = max(time.perf_counter() - start, 1e-7)
        if once > SLOW_CALL_S and i >= 1:  # slow steps: fewer samples keep the run short
            repeat = max(3, repeat // 2)
            break
    calls = max(1, int(settings.min_sample_s / once))
    per_call = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            result = step()
        sync(result)
        per_call.append((time.perf_counter() - start) / calls)
    q = statistics.quantiles(per_call, n=4) if len(per_call) > 1 else per_call * 3
    return Measurement(workload, system, metric, statistics.median(per_call), q[0], q[2],
                       len(per_call), calls, compile_s, min(per_call), note)


def timed(fn):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def graphc_target():
    """The CPU compiler when it is available, else the NumPy reference target."""
    from graphc.backends import get_target
    try:
        get_target("cpu")
        return "cpu"
    except (ValueError, ImportError):
        return "reference"


def skipped(workload, system, reason, metric="step"):
    return Measurement(workload, system, metric, float("nan"), note=f"skipped: {reason}")


def guarded(workload, system, fn, metric="step"):
    """Run one system's measurement; a failure becomes a row naming the error, so one
    broken system does not hide the others."""
    try:
        return fn()
    except Exception as e:  # reported in the table, not swallowed
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return Measurement(workload, system, metric, float("nan"),
                           note=f"failed: {type(e).__name__}: {message[:120]}")
