"""Module backward hooks (register_full_backward_hook / _pre_hook): what the hooks see, what
their return values replace, handles, and the refusal under graphc.jit / graphc.compile;
the same numbers as PyTorch when it is installed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
from graphc.errors import UnsupportedError

rng = np.random.default_rng(3)
X = rng.standard_normal((4, 3)).astype(np.float32)
W = rng.standard_normal((2, 3)).astype(np.float32)
B = rng.standard_normal(2).astype(np.float32)


class Scale(nn.Module):
    """Two inputs (one an int, not a tensor), two outputs: the packing of the tuples."""

    def forward(self, a, k, b):
        return a * k + b, a * b


def _linear(lib):
    fc = lib.nn.Linear(3, 2)
    with lib.no_grad():
        fc.weight.copy_(lib.tensor(W))
        fc.bias.copy_(lib.tensor(B))
    return fc


def _as_np(g):
    return None if g is None else g.detach().numpy()


def _run_linear(lib, replace_input=False, replace_output=False):
    """A Linear inside a Sequential, hooked: returns what the hooks saw and the grads."""
    fc = _linear(lib)
    net = lib.nn.Sequential(fc, lib.nn.Tanh())
    seen = []

    def pre(module, grad_output):
        seen.append(("pre", [_as_np(g) for g in grad_output]))
        return (grad_output[0] * 2,) if replace_output else None

    def full(module, grad_input, grad_output):
        seen.append(("full", [_as_np(g) for g in grad_input], [_as_np(g) for g in grad_output]))
        return (grad_input[0] + 1,) if replace_input else None

    fc.register_full_backward_pre_hook(pre)
    fc.register_full_backward_hook(full)
    x = lib.tensor(X, requires_grad=True)
    net(x).pow(2).sum().backward()
    return seen, x.grad.numpy(), fc.weight.grad.numpy()


@pytest.mark.parametrize("replace_input,replace_output", [(False, False), (True, False),
                                                          (False, True), (True, True)])
def test_hooks_see_and_replace_gradients(replace_input, replace_output):
    seen, gx, gw = _run_linear(gc, replace_input, replace_output)
    assert [s[0] for s in seen] == ["pre", "full"]
    y = np.tanh(X @ W.T + B)
    g_out = 2 * y * (1 - y * y)
    np.testing.assert_allclose(seen[0][1][0], g_out, rtol=1e-5)
    g_used = g_out * (2 if replace_output else 1)
    np.testing.assert_allclose(seen[1][2][0], g_used, rtol=1e-5)  # full sees the replaced
    np.testing.assert_allclose(seen[1][1][0], g_used @ W, rtol=1e-5)
    np.testing.assert_allclose(gx, g_used @ W + (1 if replace_input else 0), rtol=1e-5)
    np.testing.assert_allclose(gw, g_used.T @ X, rtol=1e-5)  # weights see grad_output's change


@pytest.mark.parametrize("replace_input,replace_output", [(False, False), (True, True)])
def test_hooks_match_pytorch(replace_input, replace_output):
    torch = pytest.importorskip("torch")
    ours = _run_linear(gc, replace_input, replace_output)
    theirs = _run_linear(torch, replace_input, replace_output)
    assert len(ours[0]) == len(theirs[0])
    for a, b in zip(ours[0], theirs[0]):
        assert a[0] == b[0]
        for xs, ys in zip(a[1:], b[1:]):
            for x, y in zip(xs, ys):
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)


def _tuples(lib):
    seen = []
    m = Scale() if lib is gc else _torch_scale(lib)()
    m.register_full_backward_hook(
        lambda mod, gi, go: seen.append(([None if g is None else _as_np(g) for g in gi],
                                         [None if g is None else _as_np(g) for g in go])))
    a = lib.tensor(X, requires_grad=True)
    b = lib.tensor(X[::-1].copy())  # no grad: None in grad_input
    u, v = m(a, 3, b)
    (u.sum() + (v * v).sum()).backward()
    return seen


def _torch_scale(torch):
    class TorchScale(torch.nn.Module):
        def forward(self, a, k, b):
            return a * k + b, a * b
    return TorchScale


def test_tuples_over_positional_arguments_and_outputs():
    (gi, go), = _tuples(gc)
    assert len(gi) == 3 and gi[1] is None and not gi[2].any()  # (b: no grad: zeros)
    b = X[::-1]
    np.testing.assert_allclose(go[0], np.ones_like(X))
    np.testing.assert_allclose(go[1], 2 * X * b, rtol=1e-6)
    np.testing.assert_allclose(gi[0], 3 + 2 * X * b * b, rtol=1e-5)
    torch = pytest.importorskip("torch")
    (tgi, tgo), = _tuples(torch)
    assert [g is None for g in tgi] == [g is None for g in gi]
    np.testing.assert_allclose(gi[0], tgi[0], rtol=1e-5)
    for x, y in zip(go, tgo):
        np.testing.assert_allclose(x, y, rtol=1e-5)


def test_no_input_requiring_grad_fires_at_the_outputs_with_a_warning():
    fc = _linear(gc)
    seen = []
    fc.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        fc(gc.tensor(X)).sum().backward()
    assert seen == [((None,), (4, 2))]
    fc.register_full_backward_hook(lambda m, gi, go: (gc.ones(4, 3),))
    with pytest.raises(RuntimeError, match="should always return None"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc(gc.tensor(X)).sum().backward()


def test_handles_order_prepend_and_wrong_lengths():
    fc = _linear(gc)
    order = []
    h1 = fc.register_full_backward_hook(lambda m, gi, go: order.append(1))
    fc.register_full_backward_hook(lambda m, gi, go: order.append(0), prepend=True)
    x = gc.tensor(X, requires_grad=True)
    fc(x).sum().backward()
    assert order == [0, 1]
    h1.remove()
    fc(x).sum().backward()
    assert order == [0, 1, 0]
    fc.register_full_backward_pre_hook(lambda m, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_output, got 2, but expected 1"):
        fc(x).sum().backward()
    with pytest.raises(UnsupportedError, match="register_full_backward_hook"):
        fc.register_backward_hook(lambda *a: None)


def test_no_grad_retained_graph_and_unused_outputs():
    fc = _linear(gc)
    calls = []
    fc.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with gc.no_grad():
        fc(gc.tensor(X, requires_grad=True))
    x = gc.tensor(X, requires_grad=True)
    loss = fc(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert calls == [1, 1]  # as PyTorch: each backward passes the outputs' hook again
    from graphc.eager.tape import _reads_memo
    before = len(_reads_memo)
    for _ in range(3):
        fc(x).sum().backward()
    assert len(_reads_memo) == before  # the tape's per-op memo does not grow per call
    m, seen = Scale(), []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(go))
    u, v = m(x, 2, gc.tensor(X))
    u.sum().backward()
    assert seen[0][1] is None and seen[0][0].shape == (4, 3)  # v unused: None, not zeros


@pytest.mark.parametrize("how", ["jit", "compile"])
def test_symbolic_calls_refuse_backward_hooks(how):
    fc = _linear(gc)
    handle = fc.register_full_backward_pre_hook(lambda m, go: None)
    net = nn.Sequential(fc, nn.Tanh())
    if how == "jit":
        call = gc.jit(lambda x: net(x).sum(), target="reference")
        with pytest.raises(UnsupportedError, match="Linear has module backward hooks"):
            call(gc.tensor(X))
    else:
        with pytest.raises(UnsupportedError, match="Linear has module backward hooks"):
            net(gc.placeholder((4, 3), gc.float32, "x"))
    handle.remove()
    assert net(gc.placeholder((4, 3), gc.float32, "x")).shape == (4, 2)
