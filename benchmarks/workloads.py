"""Workloads W1-W6 and W9 (W7, compile time, is in compile_time.py; W9, the eager ResNet
block stack, in resnet_block.py) and the issue's targets.

Each workload function takes the Settings and returns a list of Measurements, one per
system it could run; frameworks that are not installed are simply absent.
"""
from __future__ import annotations

import numpy as np

from . import models as M
from .resnet_block import w9_resnet_blocks
from .harness import (COPY, EAGER, JAX, JIT, NUMPY, STATIC, STATIC_LOOP, TORCH, TORCH_COMPILE, Measurement,
                      Target, graphc_target, guarded, jax_module, measure, timed, torch_module)

TARGETS = [
    Target("W1", "static >= 50x faster than PyTorch eager", STATIC, TORCH, 50),
    Target("W1", "static >= 2x faster than JAX jit", STATIC, JAX, 2),
    Target("W1", "graphc eager no slower than PyTorch eager", EAGER, TORCH, 1),
    Target("W1", "static k-step loop < 0.5 µs a step", STATIC_LOOP, None, limit_s=0.5e-6),
    Target("W2", "static >= 3x faster than PyTorch eager", STATIC, TORCH, 3),
    Target("W2", "static >= 2x faster than JAX jit", STATIC, JAX, 2),
    Target("W3", "static within 1.25x of PyTorch eager", STATIC, TORCH, 1 / 1.25),
    Target("W3", "static >= 2x faster than JAX jit", STATIC, JAX, 2),
    Target("W4", "static no slower than PyTorch eager", STATIC, TORCH, 1),
    Target("W4", "static no slower than JAX jit", STATIC, JAX, 1),
    Target("W5", "static >= 1.5x faster than JAX jit", STATIC, JAX, 1.5, metric="chain"),
    Target("W5", "static >= 8x faster than NumPy", STATIC, NUMPY, 8, metric="chain"),
    Target("W6", "eager per-op overhead <= PyTorch's", EAGER, TORCH, 1, metric="op"),
    Target("W6", "eager per-op overhead <= PyTorch's, recording grad", EAGER + " (grad)",
           TORCH + " (grad)", 1, metric="op"),
    Target("W9", "eager ResNet block stack within 1.1x of PyTorch eager", EAGER, TORCH,
           1 / 1.1),
    Target("W7", "W4 step compiles cold < 1 s", STATIC, None, limit_s=1.0, metric="cold compile"),
    Target("W7", "W4 step warm start < 0.15 s", STATIC, None, limit_s=0.15,
           metric="warm compile"),
]


def _training_systems(name, kind, spec, weights, x, y, settings, jit=False, train=True):
    """Measure one model on every available system."""
    target = graphc_target()
    metric = "step" if train else "forward"
    out = []

    def add(system, build, sync=None):
        def run():
            step, compile_s = build()
            return measure(name, system, step, settings, metric, compile_s=compile_s, sync=sync)
        out.append(guarded(name, system, run, metric))

    add(STATIC, lambda: M.graphc_static(kind, spec, weights, x, y, target, train))
    if jit and train:
        add(JIT, lambda: M.graphc_jit(kind, spec, weights, x, y, target))
    add(EAGER, lambda: M.graphc_eager(kind, spec, weights, x, y, train))
    torch = torch_module(settings)
    if torch is not None:
        add(TORCH, lambda: M.torch_eager(torch, kind, spec, weights, x, y, train))
        if settings.torch_compile:
            add(TORCH_COMPILE, lambda: M.torch_compiled(torch, kind, spec, weights, x, y, train))
    jax = jax_module(settings)
    if jax is not None:
        add(JAX, lambda: M.jax_jit(jax, kind, spec, weights, x, y, train),
            sync=lambda r: r.block_until_ready())
    for m in out:
        m.extra["target"] = target
    return out


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], np.float32)


def w1_xor(settings):
    spec = M.MLPSpec((2, 3, 1), "sigmoid", "mse", "sgd", 0.5, sigmoid_output=True)
    weights = M.mlp_weights(spec, seed=1)
    out = _training_systems("W1", "mlp", spec, weights, XOR_X, XOR_Y, settings, jit=True)
    out.insert(1, _k_step_loop(spec, weights, settings))
    out += _xor_full_run(spec, weights, out, 1_000 if settings.quick else 100_000)
    return out


def _k_step_loop(spec, weights, settings, k=1000):
    """graphc static with k steps in one compiled call (feeds unchanged), per step."""
    def run():
        step, compile_s = M.graphc_static("mlp", spec, weights, XOR_X, XOR_Y, graphc_target())
        exe = step.executable
        m = measure("W1", STATIC_LOOP, lambda: exe.run_steps(k, XOR_X, XOR_Y), settings,
                    compile_s=compile_s, note=f"{k} steps per call; time per step")
        m.median_s, m.low_s, m.high_s, m.best_s = (v / k for v in (m.median_s, m.low_s,
                                                                   m.high_s, m.best_s))
        return m
    return guarded("W1", STATIC_LOOP, run)


def _xor_full_run(spec, weights, steps_measured, n):
    """The tutorial's whole run: graphc static measured end to end (one Python call a step,
    and all n steps in one compiled call); the others estimated from their step medians."""
    target = graphc_target()
    metric = f"{n:,}-step run"

    def run(loop):
        step, _ = M.graphc_static("mlp", spec, weights, XOR_X, XOR_Y, target)
        if loop:
            loss, seconds = timed(lambda: step.executable.run_steps(n, XOR_X, XOR_Y))
        else:
            loss, seconds = timed(lambda: [step() for _ in range(n)][-1])
        return Measurement("W1", STATIC_LOOP if loop else STATIC, metric, seconds / n,
                           samples=1, calls_per_sample=n,
                           note=f"measured: total {seconds:.3g} s, final loss "
                                f"{float(loss.item()):.4g}", extra={"total_s": seconds})
    rows = [guarded("W1", STATIC, lambda: run(False), metric),
            guarded("W1", STATIC_LOOP, lambda: run(True), metric)]
    for m in steps_measured:
        if m.system not in (STATIC, STATIC_LOOP) and m.metric == "step" \
                and m.median_s == m.median_s:
            rows.append(Measurement("W1", m.system, metric, m.median_s,
                                    note=f"estimated: {n:,} x step median = "
                                         f"{n * m.median_s:.3g} s",
                                    extra={"total_s": n * m.median_s}))
    return rows


def w2_regression(settings):
    side = 21 if settings.quick else 201
    grid = np.linspace(-2, 2, side, dtype=np.float32)
    x = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    y = (np.sin(x[:, :1]) * np.cos(x[:, 1:])).astype(np.float32)
    spec = M.MLPSpec((2, 3, 1), "tanh", "mse", "sgd", 0.1)
    return _training_systems("W2", "mlp", spec, M.mlp_weights(spec, seed=2), x, y, settings)


def w3_cnn(settings):
    spec = M.CNNSpec(image=12 if settings.quick else 28)
    weights = M.cnn_weights(spec, seed=3)
    rng = np.random.default_rng(3)
    batch, infer = (4, 8) if settings.quick else (64, 1000)
    x = rng.random((batch, 1, spec.image, spec.image), np.float32)
    y = rng.integers(0, spec.classes, batch).astype(np.int64)
    out = _training_systems("W3", "cnn", spec, weights, x, y, settings)
    xi = rng.random((infer, 1, spec.image, spec.image), np.float32)
    out += _training_systems("W3", "cnn", spec, weights, xi, None, settings, train=False)
    for m in out[len(out) // 2:]:
        m.metric = f"inference b{infer}"
    return out


def w4_mlp(settings):
    sizes, batch = ((32, 16, 16, 10), 8) if settings.quick else ((784, 256, 256, 10), 128)
    spec = M.MLPSpec(sizes, "relu", "cross_entropy", "adam", 1e-3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return _training_systems("W4", "mlp", spec, M.mlp_weights(spec, seed=4), x, y, settings,
                             jit=True)


def w5_fused(settings):
    """sigmoid(a*b + c) * tanh(a) on 4,194,304 float32; GB/s counts 3 reads + 1 write."""
    import graphc as gc
    n = 4096 if settings.quick else 4_194_304
    rng = np.random.default_rng(5)
    a, b, c = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    nbytes = 4 * n * 4
    out = []

    def add(system, build, sync=None):
        def run():
            step, compile_s = build()
            m = measure("W5", system, step, settings, "chain", compile_s=compile_s, sync=sync)
            m.extra["GB/s"] = nbytes / m.median_s / 1e9
            return m
        out.append(guarded("W5", system, run, "chain"))

    def static():
        def build():
            ps = [gc.placeholder((n,), gc.float32, name=k) for k in "abc"]
            exe = gc.compile(gc.sigmoid(ps[0] * ps[1] + ps[2]) * gc.tanh(ps[0]), inputs=ps,
                             target=graphc_target())
            exe(a, b, c)
            return lambda: exe(a, b, c)
        return timed(build)
    add(STATIC, static)
    ta, tb, tc = gc.from_numpy(a), gc.from_numpy(b), gc.from_numpy(c)
    add(EAGER, lambda: (lambda: gc.sigmoid(ta * tb + tc) * gc.tanh(ta), 0.0))

    def numpy_chain():
        return 1 / (1 + np.exp(-(a * b + c))) * np.tanh(a)
    add(NUMPY, lambda: (numpy_chain, 0.0))
    src, dst = np.concatenate([a, b]), np.empty(2 * n, np.float32)
    add(COPY, lambda: (lambda: np.copyto(dst, src), 0.0))
    torch = torch_module(settings)
    if torch is not None:
        xa, xb, xc = (torch.from_numpy(v) for v in (a, b, c))

        def chain(a, b, c):
            return torch.sigmoid(a * b + c) * torch.tanh(a)
        add(TORCH, lambda: ((lambda: chain(xa, xb, xc)), 0.0))
        if settings.torch_compile:
            def compiled():
                f = torch.compile(chain)
                _, seconds = timed(lambda: f(xa, xb, xc))
                return (lambda: f(xa, xb, xc)), seconds
            add(TORCH_COMPILE, compiled)
    jax = jax_module(settings)
    if jax is not None:
        jnp = jax.numpy
        ja, jb, jc = (jnp.asarray(v) for v in (a, b, c))

        def jitted():
            f = jax.jit(lambda a, b, c: jax.nn.sigmoid(a * b + c) * jnp.tanh(a))
            _, seconds = timed(lambda: f(ja, jb, jc).block_until_ready())
            return (lambda: f(ja, jb, jc)), seconds
        add(JAX, jitted, sync=lambda r: r.block_until_ready())
    return out


def w6_overhead(settings):
    """Eager cost of one op on 4-element tensors: a + b (mean with a * b), with and without
    a tape entry."""
    import graphc as gc
    out = []
    for grad in (False, True):
        suffix = " (grad)" if grad else ""
        a = gc.tensor(np.arange(4, dtype=np.float32), requires_grad=grad)
        b = gc.tensor(np.ones(4, np.float32))
        out.append(guarded("W6", EAGER + suffix, lambda: measure(
            "W6", EAGER + suffix, lambda: (a + b, a * b), settings, "op"), "op"))
        torch = torch_module(settings)
        if torch is not None:
            ta = torch.arange(4, dtype=torch.float32).requires_grad_(grad)
            tb = torch.ones(4)
            out.append(guarded("W6", TORCH + suffix, lambda: measure(
                "W6", TORCH + suffix, lambda: (ta + tb, ta * tb), settings, "op"), "op"))
    for m in out:  # each call above runs two ops
        if m.median_s == m.median_s:
            m.median_s, m.low_s, m.high_s, m.best_s = (v / 2 for v in (m.median_s, m.low_s,
                                                                       m.high_s, m.best_s))
    return out


WORKLOADS = {"W1": w1_xor, "W2": w2_regression, "W3": w3_cnn, "W4": w4_mlp, "W5": w5_fused,
             "W6": w6_overhead, "W9": w9_resnet_blocks}
