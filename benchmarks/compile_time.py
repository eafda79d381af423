"""W7: compile time of the W4 training step, cold (fresh cache) and warm (second process).

Each measurement is a fresh Python process (`python -m benchmarks.compile_time --probe`), so
nothing compiled earlier in the benchmark run is reused: cold uses a new, empty cache
directory; warm runs a second process on the cache the cold one filled.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from .harness import JAX, STATIC, TORCH_COMPILE, Measurement

# Environment variables that point graphc's and Numba's on-disk caches at one directory.
CACHE_ENV = ("GRAPHC_CACHE_DIR", "NUMBA_CACHE_DIR")


def _probe(quick):
    """In the child process: import graphc, build and compile the W4 step, run it once."""
    start = time.perf_counter()
    import graphc  # noqa: F401
    imported = time.perf_counter()
    from . import models as M
    from .harness import graphc_target
    from .workloads import w4_mlp  # noqa: F401  (same model as W4)
    import numpy as np
    sizes, batch = ((32, 16, 16, 10), 8) if quick else ((784, 256, 256, 10), 128)
    spec = M.MLPSpec(sizes, "relu", "cross_entropy", "adam", 1e-3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    target = graphc_target()
    _, seconds = M.graphc_static("mlp", spec, M.mlp_weights(spec, 4), x, y, target)
    print(json.dumps({"import_s": imported - start, "compile_s": seconds, "target": target}))


def _run_probe(cache_dir, quick):
    env = dict(os.environ)
    for key in CACHE_ENV:
        env[key] = cache_dir
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.compile_time", "--probe"] + (["--quick"] if quick
                                                                          else [])
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "Error" in line] or \
            done.stderr.strip().splitlines()[-1:]
        raise RuntimeError(f"compile probe failed: {lines[-1].strip() if lines else ''}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def w7_compile(settings, earlier=()):
    """Cold and warm compile of the W4 step; torch.compile / JAX from W4's first calls."""
    out = []
    with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
        try:
            cold = _run_probe(cache, settings.quick)
            warm = _run_probe(cache, settings.quick)
        except Exception as e:
            return [Measurement("W7", STATIC, "cold compile", float("nan"),
                                note=f"failed: {e}")]
    for kind, probe in (("cold compile", cold), ("warm compile", warm)):
        out.append(Measurement("W7", STATIC, kind, probe["compile_s"], samples=1,
                               note=f"new process; import graphc {probe['import_s']:.2f} s "
                                    f"apart; target {probe['target']}",
                               extra={"import_s": probe["import_s"]}))
    for m in earlier:  # the other frameworks' first-call cost of the same step (W4)
        if m.workload == "W4" and m.system in (TORCH_COMPILE, JAX) and m.compile_s is not None:
            out.append(Measurement("W7", m.system, "cold compile", m.compile_s, samples=1,
                                   note="first call of the W4 step in the benchmark process"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.probe:
        _probe(args.quick)
