"""W8: compile time as models grow. Each measurement runs in a new process with an empty
cache directory (cold), and graphc also in WARM_RUNS more processes on that cache (warm: the
median is reported).

    python -m benchmarks.compile_scaling [--quick] [--models mlp,lstm,cnn] [--frameworks jax]

Models: a Linear(256,256)+ReLU stack of depth 2/4/8/16 (batch 32, cross-entropy, Adam), an
LSTM(16, 32) classifier at T = 4/16/64 (batch 8, Adam; JAX writes its loop with lax.scan) and
the MNIST CNN of W3. Reported per model: the first call (build + compile + one step) in wall
and CPU seconds (CPU time, graphc's compile helper process included, is the honest figure on
a shared machine), the step time, and the cost of one more identical layer (slope between the
two deepest MLPs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .harness import JAX, STATIC, Measurement, optional
from .compile_time import CACHE_ENV

MLP_DEPTHS, LSTM_STEPS = (2, 4, 8, 16), (4, 16, 64)
# warm starts: processes after the cold one (the median reported: one sample is at the
# mercy of a busy moment on a shared machine)
WARM_RUNS = 3
# (depth 1 has no hidden-to-hidden layer, whose backward needs one more kernel)
QUICK_DEPTHS, QUICK_STEPS = (2, 3), (2, 4)


# ---- the child process: build, compile, run ------------------------------------------------------
def _graphc_mlp(depth, width, batch):
    import graphc as gc
    from graphc import nn, optim
    import graphc.nn.functional as F
    gc.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    x = gc.placeholder((batch, width), gc.float32, name="x")
    y = gc.placeholder((batch,), gc.int64, name="y")
    loss = F.cross_entropy(model(x), y)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    exe = gc.compile(loss, [x, y], updates=opt.updates(loss), target="cpu")
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((batch, width)).astype(np.float32), np.arange(batch) % 10
    return (lambda: exe(xs, ys)), exe


def _graphc_lstm(steps, batch=8):
    import graphc as gc
    from graphc import nn, optim
    import graphc.nn.functional as F
    gc.manual_seed(0)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.fc = nn.LSTM(16, 32, batch_first=True), nn.Linear(32, 5)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])
    model = Classifier()
    x = gc.placeholder((batch, steps, 16), gc.float32, name="x")
    y = gc.placeholder((batch,), gc.int64, name="y")
    loss = F.cross_entropy(model(x), y)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    exe = gc.compile(loss, [x, y], updates=opt.updates(loss), target="cpu")
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((batch, steps, 16)).astype(np.float32), np.arange(batch) % 5
    return (lambda: exe(xs, ys)), exe


def _graphc_cnn(quick):
    from . import models as M
    spec = M.CNNSpec(image=12 if quick else 28)
    batch = 8 if quick else 64
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, spec.image, spec.image)).astype(np.float32)
    y = (np.arange(batch) % 10).astype(np.int64)
    step, _ = M.graphc_static("cnn", spec, M.cnn_weights(spec), x, y, "cpu")
    return step, step.executable


def _jax_mlp(jax, depth, width, batch):
    from . import models as M
    spec = M.MLPSpec((width,) * (depth + 1) + (10,), "relu", "cross_entropy", "adam", 1e-3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width)).astype(np.float32)
    y = (np.arange(batch) % 10).astype(np.int64)
    run, _ = M.jax_jit(jax, "mlp", spec, M.mlp_weights(spec), x, y)
    return lambda: run().block_until_ready()


def _jax_lstm(jax, steps, batch=8, hidden=32, features=16):
    jnp = jax.numpy
    rng = np.random.default_rng(0)
    bound = 1 / np.sqrt(hidden)
    params = {k: jnp.asarray(rng.uniform(-bound, bound, s).astype(np.float32)) for k, s in (
        ("wi", (4 * hidden, features)), ("wh", (4 * hidden, hidden)), ("b", (4 * hidden,)),
        ("fw", (5, hidden)), ("fb", (5,)))}
    x = jnp.asarray(rng.standard_normal((steps, batch, features)).astype(np.float32))
    y = jnp.asarray(np.arange(batch) % 5)

    def loss_fn(p):
        def cell(carry, xt):
            h, c = carry
            z = xt @ p["wi"].T + h @ p["wh"].T + p["b"]
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), None
        zeros = jnp.zeros((batch, hidden), jnp.float32)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), x)
        logits = h @ p["fw"].T + p["fb"]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(batch), y])

    @jax.jit
    def step(p, m, v, t):
        loss, g = jax.value_and_grad(loss_fn)(p)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        p = jax.tree_util.tree_map(lambda p, m, v: p - 1e-3 * (m / (1 - 0.9 ** t)) / (
            jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8), p, m, v)
        return p, m, v, t, loss
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = [params, zeros, zeros, 0]

    def run():
        *state[:4], loss = step(*state)
        return loss.block_until_ready()
    return run


def _cpu_time():
    """CPU seconds of this process and of the processes it waited for (graphc's compile
    helper: runtime/compile_worker.py), so a compile shared with a helper is not flattered."""
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _probe(system, model, size, quick):
    """In the child: build + compile + first step, then time steps; print one JSON line.
    The framework's import is measured apart."""
    wall, cpu = time.perf_counter(), time.process_time()
    if system == "graphc":
        import graphc  # noqa: F401
    else:
        optional("jax").numpy.zeros(1).block_until_ready()  # start XLA's CPU client
    import_s = time.perf_counter() - wall
    wall, cpu = time.perf_counter(), _cpu_time()
    width, batch = (32, 8) if quick else (256, 32)
    report = {}
    if system == "graphc":
        build = {"mlp": lambda: _graphc_mlp(size, width, batch),
                 "lstm": lambda: _graphc_lstm(size), "cnn": lambda: _graphc_cnn(quick)}[model]
        step, exe = build()
        if model != "cnn":  # (the CNN's builder ran its first step)
            step()
        report = exe.compile_report().as_dict()
    else:
        jax = optional("jax")
        step = {"mlp": lambda: _jax_mlp(jax, size, width, batch),
                "lstm": lambda: _jax_lstm(jax, size)}[model]()
        step()
    first_wall, first_cpu = time.perf_counter() - wall, _cpu_time() - cpu
    times = []
    for _ in range(3 if quick else 7):
        t = time.perf_counter()
        for _ in range(3):
            step()
        times.append((time.perf_counter() - t) / 3)
    print(json.dumps({"first_wall_s": first_wall, "first_cpu_s": first_cpu, "import_s": import_s,
                      "step_s": float(np.median(times)), "report": report}))


def _run_probe(system, model, size, quick, cache_dir):
    env = dict(os.environ)
    for key in CACHE_ENV:
        env[key] = cache_dir
    env.setdefault("GRAPHC_NUM_THREADS", "1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.compile_scaling", "--probe", system, model,
           str(size)] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{system} {model} {size}: " + done.stderr.strip()[-500:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the parent: every (system, model, size) cold, graphc also warm ---------------------------------
def measure(models=("mlp", "lstm", "cnn"), frameworks=("jax",), quick=False):
    sizes = {"mlp": QUICK_DEPTHS if quick else MLP_DEPTHS,
             "lstm": QUICK_STEPS if quick else LSTM_STEPS, "cnn": (1,)}
    systems = ["graphc"] + [f for f in frameworks if f == "jax" and optional("jax")]
    out = []
    for model in models:
        for size in sizes[model]:
            for system in systems:
                if system == "jax" and model == "cnn":
                    continue  # W3 reports JAX's CNN compile
                label = f"{model} {'depth' if model == 'mlp' else 'T'}={size}" \
                    if model != "cnn" else "digits CNN"
                name = STATIC if system == "graphc" else JAX
                with tempfile.TemporaryDirectory(prefix="graphc-w8-") as cache:
                    try:
                        cold = _run_probe(system, model, size, quick, cache)
                        warms = [_run_probe(system, model, size, quick, cache)
                                 for _ in range(WARM_RUNS if system == "graphc" else 0)]
                    except Exception as e:
                        out.append(Measurement("W8", name, label, float("nan"),
                                               note=f"failed: {e}"))
                        continue
                rep = cold["report"]
                note = (f"cold; CPU {cold['first_cpu_s']:.2f} s; step "
                        f"{cold['step_s'] * 1e3:.2f} ms")
                if rep:
                    note += (f"; {rep['layout']} layout, {rep['functions']} kernels for "
                             f"{rep['calls']} calls, passes {rep['passes_s']:.2f} s")
                out.append(Measurement("W8", name, label, cold["first_wall_s"], samples=1,
                                       note=note, extra={"cold": cold, "warm": warms}))
                if warms:  # the process of the median start, and the range
                    starts = sorted(w["first_wall_s"] - w["step_s"] for w in warms)
                    warm = sorted(warms, key=lambda w: w["first_wall_s"] - w["step_s"])[
                        len(warms) // 2]
                    start = warm["first_wall_s"] - warm["step_s"]
                    out.append(Measurement("W8", name, label + " warm", warm["first_wall_s"],
                                           samples=len(warms), note=f"median of {len(warms)} "
                                           f"more processes, same cache; start {start:.3f} s "
                                           f"(first call less one step; {starts[0]:.3f}-"
                                           f"{starts[-1]:.3f} s); CPU "
                                           f"{warm['first_cpu_s']:.2f} s; import "
                                           f"{warm['import_s']:.2f} s apart" + (
                                               "; program loaded whole" if warm["report"].get(
                                                   "program_cached") else ""),
                                           extra={"step_s": warm["step_s"]}))
    return out


def table(results):
    lines = ["| model | system | first call, wall | first call, CPU | step | notes |",
             "|---|---|---:|---:|---:|---|"]
    for m in results:
        cold = m.extra.get("cold") or {}
        cpu = f"{cold['first_cpu_s']:.2f} s" if cold else ""
        step = f"{cold['step_s'] * 1e3:.2f} ms" if cold else ""
        lines.append(f"| {m.metric} | {m.system} | {m.median_s:.2f} s | {cpu} | {step} | "
                     f"{m.note} |")
    warm = [m for m in results if m.metric.endswith(" warm")]
    if warm:
        starts = {m.metric[:-5]: m.median_s - m.extra["step_s"] for m in warm}
        worst = max(starts, key=starts.get)
        lines.append(f"\nWarm starts after import, first call less one step (target < 0.15 s): "
                     f"at most {starts[worst]:.3f} s ({worst})")
    deep = [m for m in results if m.system == STATIC and m.metric.startswith("mlp depth=")
            and m.extra.get("cold")]
    if len(deep) >= 2:
        (a, b) = deep[-2], deep[-1]
        da, db = (int(m.metric.split("=")[1]) for m in (a, b))
        per_layer = (b.extra["cold"]["first_cpu_s"] - a.extra["cold"]["first_cpu_s"]) / (db - da)
        lines.append(f"\nOne more identical layer (depth {da} -> {db}, CPU time): "
                     f"{per_layer * 1e3:.0f} ms")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.compile_scaling",
                                description="W8: cold compile time as models grow")
    p.add_argument("--quick", action="store_true", help="toy sizes (CI smoke run)")
    p.add_argument("--models", default="mlp,lstm,cnn")
    p.add_argument("--frameworks", default="jax", help="'' for graphc alone")
    p.add_argument("--probe", nargs=3, metavar=("SYSTEM", "MODEL", "SIZE"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        system, model, size = args.probe
        return _probe(system, model, int(size), args.quick)
    results = measure([m for m in args.models.split(",") if m],
                      [f for f in args.frameworks.split(",") if f], args.quick)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
