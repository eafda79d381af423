"""Compile time of a recurrent classifier step against the sequence length T (issue 11 item 2).

An nn.LSTM(16, 32) + Linear(32, 4) classifier (batch 8, cross-entropy, Adam) traced by
graphc.jit on target "cpu", with the time loop as one graphc.scan node ("scan", what nn.LSTM
does on symbolic input) or unrolled ("unrolled", the loop written out T times). Each
measurement is a new process with a new, empty cache directory:

    PYTHONPATH=. python -m benchmarks.scan_compile --lengths 4 16 64 --modes scan unrolled
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _probe(mode, steps, calls):
    import numpy as np

    import graphc as gc
    from graphc import nn
    from graphc.nn import functional as F
    from graphc.nn import rnn
    if mode == "unrolled":  # the layer's eager branch (a Python loop) on symbolic values too
        class _Never:
            pass
        rnn.Value = _Never
    gc.manual_seed(0)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(16, 32)
            self.fc = nn.Linear(32, 4)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[-1])

    model = Classifier()
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)

    @gc.jit(target="cpu")
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    rng = np.random.default_rng(0)
    x = gc.tensor(rng.standard_normal((steps, 8, 16)).astype(np.float32))
    y = gc.tensor(rng.integers(0, 4, 8).astype(np.int64))
    wall, cpu = time.perf_counter(), time.process_time()
    step(x, y)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - start)
    nodes = len(step.executable.graph.nodes) if hasattr(step, "executable") else None
    print(json.dumps({"mode": mode, "T": steps, "compile_wall_s": wall, "compile_cpu_s": cpu,
                      "step_ms": 1e3 * float(np.median(times)),
                      "step_min_ms": 1e3 * float(np.min(times)), "nodes": nodes}))


def measure(mode, steps, calls=30):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="graphc-scan-bench-") as cache:
        env["GRAPHC_CACHE_DIR"] = env["NUMBA_CACHE_DIR"] = cache
        env.setdefault("GRAPHC_NUM_THREADS", "1")  # steady step times on a shared machine
        done = subprocess.run([sys.executable, "-m", "benchmarks.scan_compile", "--probe", mode,
                               str(steps), str(calls)], env=env, cwd=root, capture_output=True,
                              text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", nargs=3, metavar=("MODE", "T", "CALLS"))
    parser.add_argument("--lengths", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--modes", nargs="+", default=["scan", "unrolled"])
    args = parser.parse_args(argv)
    if args.probe:
        mode, steps, calls = args.probe
        return _probe(mode, int(steps), int(calls))
    print("| mode | T | nodes | compile wall s | compile CPU s | step ms (median) | "
          "step ms (min) |")
    print("|---|---|---|---|---|---|---|")
    for mode in args.modes:
        for steps in args.lengths:
            r = measure(mode, steps)
            print(f"| {mode} | {steps} | {r['nodes']} | {r['compile_wall_s']:.2f} | "
                  f"{r['compile_cpu_s']:.2f} | {r['step_ms']:.3f} | {r['step_min_ms']:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
