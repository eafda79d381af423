"""The eager call path of modules (Module.__call__ decides an eager positional call inline,
Module.__getattr__, F.linear's fast path, activations without arguments, a loss's mean):
each shortcut gives what the general path gives, and steps aside where it does not apply."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from graphc.errors import DTypeError
from graphc.nn import module_hooks

rng = np.random.default_rng(7)
X = rng.standard_normal((4, 3)).astype(np.float32)


def test_a_module_whose_hooks_were_removed_calls_forward_and_new_hooks_run():
    lin = nn.Linear(3, 2)
    x = gc.tensor(X)
    seen = []
    handles = [lin.register_forward_pre_hook(lambda m, args: seen.append("pre")),
               lin.register_forward_hook(lambda m, args, out: seen.append("post"))]
    want = lin(x).detach().numpy()
    assert seen == ["pre", "post"]
    for h in handles:
        h.remove()
    np.testing.assert_array_equal(lin(x).detach().numpy(), want)
    assert seen == ["pre", "post"]  # (empty tables: no hook runs)
    lin.register_forward_hook(lambda m, args, out: out * 2)
    np.testing.assert_array_equal(lin(x).detach().numpy(), want * 2)


def test_a_global_hook_reaches_a_module_without_hooks_of_its_own():
    lin = nn.Linear(3, 2)
    assert "_hooks" not in lin.__dict__
    seen = []
    handle = module_hooks.register_module_forward_hook(
        lambda m, args, out: seen.append(type(m).__name__))
    try:
        nn.Sequential(lin, nn.Sigmoid())(gc.tensor(X))
    finally:
        handle.remove()
    assert seen == ["Linear", "Sigmoid", "Sequential"]


def test_attribute_lookup_reads_parameters_buffers_submodules_in_pytorchs_order():
    m = nn.Module()
    m.w = nn.Parameter(gc.ones(2))
    m.register_buffer("b", gc.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.register_parameter("none", None)
    assert m.w is m._parameters["w"] and m.b is m._buffers["b"] and m.sub is m._modules["sub"]
    assert m.none is None
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        m.missing
    bare = nn.Module.__new__(nn.Module)  # (no tables yet: as graphc.load makes modules)
    with pytest.raises(AttributeError, match="no attribute 'w'"):
        bare.w


def test_linear_steps_aside_where_it_cannot_fuse():
    w = nn.Parameter(gc.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
    b = nn.Parameter(gc.tensor(rng.standard_normal(2).astype(np.float32)))
    x64 = gc.tensor(X.astype(np.float64))  # another dtype: matmul + add, whose error it is
    with pytest.raises(DTypeError, match="matmul: expected both inputs to have the same dtype"):
        F.linear(x64, w, b)
    np.testing.assert_array_equal(F.linear(gc.tensor(X), w).detach().numpy(),
                                  gc.matmul(gc.tensor(X), w.t()).detach().numpy())
    for x in (gc.tensor(X[:, :2]), gc.placeholder((None, 2), name="x")):
        with pytest.raises(ValueError, match=r"linear: input has 2 features \(shape .*\) but "
                                             r"the weight expects 3"):
            F.linear(x, w, b)


def test_activations_with_and_without_arguments_call_their_function():
    x = gc.tensor(X)
    for module, want in ((nn.Sigmoid(), F.sigmoid(x)), (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)),
                         (nn.Softmax(dim=0), F.softmax(x, 0))):
        np.testing.assert_array_equal(module(x).numpy(), want.numpy())

def test_a_mean_or_sum_with_default_arguments_is_the_same_node():
    x = gc.placeholder((4, 3), name="x")
    for fn in (gc.mean, gc.sum):
        default, spelled = fn(x), fn(x, (0, 1), False)  # (the latter keeps its attributes)
        assert default.node.op is spelled.node.op
        assert dict(default.node.attrs) == dict(spelled.node.attrs)
    loss = F.mse_loss(x, gc.placeholder((4, 3), name="y"), reduction="sum")
    assert loss.node.op.name == "sum"
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(gc.tensor(X), gc.tensor(X), reduction="average")
