"""Memory of a training run: graphc's memory plan, and resident memory against PyTorch.

    python -m benchmarks.memory            # MNIST CNN (batch 64, Adadelta), MLP (batch 128, Adam)
    python -m benchmarks.memory --quick    # tiny models, a smoke test

For each model it prints
- the plan of the compiled step (target "cpu"): bytes of its buffers against one buffer per
  value (what running the same fused graph without a plan would allocate), and peak live bytes;
- the resident memory a short training run adds: each system runs in its own process and
  reports its peak resident size (ru_maxrss; on Linux VmHWM, reset when the baseline is
  taken) minus the resident size after imports, model and data creation (the
  framework's own footprint, "baseline", is shown apart: Numba's start counts in graphc's;
  "peak RSS" is what `top` shows).
  "graphc static" loads its compiled step from a warm on-disk cache (the compiler's own
  memory is a one-off, shown apart as "graphc static, cold compile"); "graphc eager" also
  reports the bytes its tensors held at peak (graphc.debug.track_memory).
Steps run on one thread in every system (memory, not speed, is measured here).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

from . import models as M

SYSTEMS = ["graphc static, cold compile", "graphc static", "graphc eager", "torch eager"]


def workload(model, quick):
    """(model kind, spec, weights, x, y): the same data in every process (fixed seeds)."""
    rng = np.random.default_rng(8)
    if model == "cnn":
        spec, batch = M.CNNSpec(image=10 if quick else 28), 8 if quick else 64
        x = rng.random((batch, 1, spec.image, spec.image), np.float32)
        weights = M.cnn_weights(spec, seed=8)
    else:
        sizes, batch = ((32, 16, 16, 10), 8) if quick else ((784, 256, 256, 10), 128)
        spec = M.MLPSpec(sizes, "relu", "cross_entropy", "adam", 1e-3)
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        weights = M.mlp_weights(spec, seed=8)
    y = rng.integers(0, 10, len(x)).astype(np.int64)
    return spec, weights, x, y


def _rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _baseline_kb():
    """The resident size now; the peak is reset to it where Linux allows (ru_maxrss keeps
    start-up peaks, e.g. while libraries load, that would hide the training run's)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _rss_kb()


def _peak_kb():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _start_graphc(gc):
    """Numba, LLVM and graphc's runtime start lazily (~130 MB) at the first compiled call:
    a tiny program started here counts them in graphc's baseline, as PyTorch's libraries
    count in its import."""
    x = gc.placeholder((2,), name="x")
    gc.compile(gc.tanh(x) * 2.0, [x], target="cpu")(np.ones(2, np.float32))
    w = gc.ones(2, 2, requires_grad=True)
    (w @ w).sum().backward()


def child(system, model, steps, quick):
    """Run in a fresh process: build, note the baseline, train `steps` steps, report."""
    spec, weights, x, y = workload(model, quick)
    from .harness import limit_threads
    limit_threads(1)
    result = {}
    if system.startswith("graphc"):
        import graphc as gc
        _start_graphc(gc)
        if system == "graphc eager":
            model_, step = M._graphc_eager_step(model, spec, weights)
            xt, yt = gc.from_numpy(x), gc.from_numpy(y)
            baseline = _baseline_kb()
            with gc.debug.track_memory() as tracked:
                for _ in range(steps):
                    step(xt, yt).item()
            result["tensor_peak_bytes"] = tracked.peak_bytes
        else:
            import graphc.nn  # noqa: F401  (imports before the baseline, like the others)
            baseline = _baseline_kb()
            run, _ = M.graphc_static(model, spec, weights, x, y, "cpu")  # first step inside
            for _ in range(steps - 1):
                run()
            result["plan"] = run.executable.memory_report()
    else:
        import torch
        torch.set_num_threads(1)
        _, step = M._torch_step(torch, model, spec, weights)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        baseline = _baseline_kb()
        for _ in range(steps):
            step(xt, yt).item()
    peak = _peak_kb()
    result.update(system=system, model=model, baseline_kb=baseline, peak_kb=peak,
                  added_kb=peak - baseline)
    print(json.dumps(result))


def measure(system, model, steps, quick, cache_dir):
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache_dir)
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", system, model,
           "--steps", str(steps)] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if out.returncode != 0:
        return {"system": system, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(kb):
    return f"{kb / 1024:8.1f} MB"


def report(model, results, quick=False):
    title = {"cnn": "MNIST CNN step (batch 64, Adadelta)",
             "mlp": "MLP 784-256-256-10 step (batch 128, Adam)"}[model]
    print(f"\n## {title}" + (" -- quick: tiny shapes" if quick else ""))
    plan = next((r["plan"] for r in results if "plan" in r), None)
    if plan:
        ratio = plan["planned_bytes"] / plan["unplanned_bytes"]
        print(f"planned buffers     {plan['planned_bytes'] / 2**20:8.2f} MB "
              f"({plan['arena_bytes'] / 2**20:.2f} MB arena + outputs; "
              f"{plan['inplace_updates']} in-place updates)")
        print(f"one buffer a value  {plan['unplanned_bytes'] / 2**20:8.2f} MB   "
              f"planned/unplanned = {ratio:.1%} (target <= 50%)")
        print(f"peak live values    {plan['peak_live_bytes'] / 2**20:8.2f} MB")
    print(f"{'system':30s} {'added RSS':>11s} {'baseline':>11s} {'peak RSS':>11s}  note")
    torch_kb = next((r["added_kb"] for r in results if r.get("system") == "torch eager"
                     and "added_kb" in r), None)
    for r in results:
        if "error" in r:
            print(f"{r['system']:30s} failed: {r['error']}")
            continue
        note = ""
        if "tensor_peak_bytes" in r:
            note = f"tensors held at peak: {r['tensor_peak_bytes'] / 2**20:.1f} MB"
        if torch_kb and r["system"] != "torch eager":
            note += f"{'; ' if note else ''}{r['added_kb'] / max(torch_kb, 1):.2f}x torch"
        print(f"{r['system']:30s} {_mb(r['added_kb'])} {_mb(r['baseline_kb'])} "
              f"{_mb(r['peak_kb'])}  {note}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny models, 3 steps")
    p.add_argument("--steps", type=int, default=None, help="training steps per system")
    p.add_argument("--models", nargs="+", default=["cnn", "mlp"], choices=["cnn", "mlp"])
    p.add_argument("--child", nargs=2, metavar=("SYSTEM", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps = args.steps or (3 if args.quick else 10)
    if args.child:
        return child(args.child[0], args.child[1], steps, args.quick)
    try:
        import torch  # noqa: F401
        systems = SYSTEMS
    except ImportError:
        print("(PyTorch is not installed: pip install torch==2.13.0)")
        systems = SYSTEMS[:-1]
    for model in args.models:
        with tempfile.TemporaryDirectory(prefix="graphc-memory-") as cache_dir:
            results = [measure(s, model, steps, args.quick, cache_dir) for s in systems]
        report(model, results, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
