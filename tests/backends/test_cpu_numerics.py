"""The numerics policy (docs/numerics.md): fast float32 paths within their documented error
bounds, NaN and Inf propagating as in NumPy, and the strict switch."""
import functools

import numpy as np
import pytest
import scipy.special

import graphc as gc

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 100.0, -100.0, 3.0,
                    -3.0, 89.0, -89.0], np.float32)
UNARY = ["neg", "abs", "sign", "exp", "log", "log1p", "sqrt", "rsqrt", "square", "sin", "cos",
         "tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "softplus", "erf"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "ge"]


@functools.lru_cache(maxsize=None)
def special_results(strict):
    x = gc.placeholder(SPECIAL.shape, name="x")
    y = gc.placeholder(SPECIAL.shape, name="y")
    outs = [getattr(gc, n)(x) for n in UNARY] + [getattr(gc, n)(x, y) for n in BINARY]
    outs += [x.sum(), x.amax(), x.amin(), x.mean(), gc.softmax(x, 0), gc.log_softmax(x, 0),
             gc.logsumexp(x, 0)]
    ys = SPECIAL[::-1].copy()
    with np.errstate(all="ignore"):
        ref = gc.compile(outs, inputs=[x, y], target="reference")(SPECIAL, ys)
    cpu = gc.compile(outs, inputs=[x, y], target="cpu", strict=strict)(SPECIAL, ys)
    names = UNARY + BINARY + ["sum", "amax", "amin", "mean", "softmax", "log_softmax",
                              "logsumexp"]
    return {n: (c.numpy(), r.numpy()) for n, c, r in zip(names, cpu, ref)}


@pytest.mark.parametrize("strict", [False, True], ids=["fast", "strict"])
@pytest.mark.parametrize("name", UNARY + BINARY + ["sum", "amax", "amin", "mean", "softmax",
                                                   "log_softmax", "logsumexp"])
def test_nan_and_inf_propagate_like_numpy(name, strict):
    got, want = special_results(strict)[name]
    got, want = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=name)
    np.testing.assert_array_equal(np.sign(got[np.isinf(want)]), np.sign(want[np.isinf(want)]))
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=1e-37, err_msg=name)


@functools.lru_cache(maxsize=None)
def dense(strict):
    n = 200_001
    a = np.linspace(-30, 30, n).astype(np.float32)
    x = gc.placeholder((n,))
    got = gc.compile([gc.exp(x), gc.tanh(x), gc.sigmoid(x)], target="cpu", strict=strict)(a)
    return a.astype(np.float64), [g.numpy().astype(np.float64) for g in got]


@pytest.mark.parametrize("strict", [False, True], ids=["fast", "strict"])
def test_error_bounds_of_float32_transcendentals(strict):
    a, (e, t, s) = dense(strict)
    rel = lambda got, want: np.max(np.abs(got - want) / np.abs(want))  # noqa: E731
    assert rel(e, np.exp(a)) < 2.5e-7              # exp: < 2 ulp relative
    assert np.max(np.abs(t - np.tanh(a))) < 3e-7   # tanh: absolute (relative < 3e-7)
    assert rel(s, scipy.special.expit(a)) < 3e-7   # sigmoid: relative, tails included


def test_strict_mode_uses_libm_and_the_environment_switch(monkeypatch):
    x = gc.placeholder((4,))
    fast = gc.compile(gc.tanh(x), target="cpu")
    strict = gc.compile(gc.tanh(x), target="cpu", strict=True)
    monkeypatch.setenv("GRAPHC_STRICT", "1")
    from_env = gc.compile(gc.tanh(x), target="cpu")
    for f in (fast, strict, from_env):
        f(np.ones(4, np.float32))
    assert "fast_tanh" in fast.source and "fastmath={\"reassoc\"" in fast.source
    for f in (strict, from_env):
        assert "math.tanh" in f.source and "fast_tanh" not in f.source
        assert "fastmath=False" in f.source
