"""torch.nn.functional's in-place activations (relu_, elu_, ...): the input is overwritten,
its version counter moves, gradients flow through the write, and autograd's in-place checks
hold; against NumPy, the out-of-place forms, and PyTorch when installed; under graphc.jit."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn.functional as F
from graphc.errors import UnsupportedError

X = np.array([[-2.0, -0.75, -0.1], [0.0, 0.4, 1.5]])  # 0: PyTorch's gradient at the kink
XF = np.where(X == 0, 0.05, X)  # away from kinks, for finite differences
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _elu(x, a=1.0):
    return np.where(x > 0, x, a * np.expm1(x))


# name, extra arguments, NumPy reference of the result
CASES = [
    ("relu_", (), lambda x: np.maximum(x, 0)),
    ("elu_", (0.7,), lambda x: _elu(x, 0.7)),
    ("leaky_relu_", (0.2,), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("hardtanh_", (-0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0)),
    ("threshold_", (0.3, -7.0), lambda x: np.where(x > 0.3, x, -7.0)),
    ("celu_", (1.5,), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    ("selu_", (), lambda x: SELU_S * _elu(x, SELU_A)),
    ("rrelu_", (0.1, 0.3), lambda x: np.where(x >= 0, x, 0.2 * x)),  # eval: mean slope
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,args,ref", CASES, ids=IDS)
def test_overwrites_the_input_and_bumps_its_version(name, args, ref):
    x = gc.tensor(X)
    before = x._version
    out = getattr(F, name)(x, *args)
    assert out is x and x._version == before + 1
    np.testing.assert_allclose(x.numpy(), ref(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.numpy(), getattr(F, name[:-1])(gc.tensor(X), *args).numpy(),
                               rtol=0, atol=0)


@pytest.mark.parametrize("name,args,ref", CASES, ids=IDS)
def test_gradient_flows_through_the_write(name, args, ref):
    a = gc.tensor(XF, requires_grad=True)
    b = a * 1.5
    getattr(F, name)(b, *args)
    (b * gc.tensor(XF + 3.0)).sum().backward()
    # finite differences of sum(f(1.5 a) * (XF + 3))
    h, expected = 1e-6, np.zeros_like(XF)
    for i in np.ndindex(XF.shape):
        d = np.zeros_like(XF)
        d[i] = h
        expected[i] = ((ref(1.5 * (XF + d)) - ref(1.5 * (XF - d))) * (XF + 3.0)).sum() / (2 * h)
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,args,ref", CASES, ids=IDS)
def test_matches_pytorch(name, args, ref):
    torch = pytest.importorskip("torch")
    results = []
    for L in (torch, gc):
        a = L.tensor(X, requires_grad=True)
        b = a * 1.5
        out = getattr(L.nn.functional, name)(b, *args)
        assert out is b
        (b * L.tensor(X + 3.0)).sum().backward()
        results.append((b.detach().numpy(), a.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-15)


def test_autograd_in_place_checks_as_pytorch():
    leaf = gc.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu_(leaf)
    a = gc.tensor(X, requires_grad=True)
    b = a * 2
    saved = b * b  # mul saves b
    F.elu_(b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()
    with gc.no_grad():
        F.relu_(leaf)  # allowed without grad, as in PyTorch
    np.testing.assert_array_equal(leaf.detach().numpy(), np.maximum(X, 0))


def test_hardtanh_bounds_are_checked():
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh_(gc.tensor(X), 1.0, -1.0)


def test_under_jit_and_on_plain_symbolic_values():
    def f(x):
        y = x * 2.0
        F.leaky_relu_(y, 0.1)
        F.hardtanh_(y, -1.0, 2.0)
        return y
    traced = gc.jit(f, target="reference")
    expected = np.clip(np.where(2 * X > 0, 2 * X, 0.2 * X), -1.0, 2.0)
    np.testing.assert_allclose(np.asarray(traced(X)), expected, rtol=1e-12)
    np.testing.assert_allclose(f(gc.tensor(X)).numpy(), expected, rtol=1e-12)
    with pytest.raises(UnsupportedError, match="in-place"):
        F.relu_(gc.placeholder((2, 3), gc.float64, "x"))
