"""Eager backward's NumPy gradient rules (graphc/eager/fast_vjp.py) give bit for bit what the
ops' shared rules (op.vjp, run with graphc ops, then summed to the input's shape) give, for
every rule, on broadcasting shapes, 0-d tensors, both float dtypes and every subset of
inputs needing a gradient; anything they do not cover falls back to op.vjp."""
import itertools

import numpy as np
import pytest

import graphc as gc
from graphc import autodiff
from graphc.eager import fast_vjp
from graphc.eager.tensor import Tensor
from graphc.ops import elementwise as E, linalg as L, reduce as R
from graphc.ops.registry import VJPContext

RNG = np.random.default_rng(14)


def _arr(shape, dtype, positive=False):
    a = RNG.standard_normal(shape).astype(dtype)
    return np.abs(a) + dtype(0.5) if positive else a


# (op, attrs, input shapes per case, inputs must be positive)
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((3,), ())]
CASES = [(op, {}, shapes, op is E.div) for op in (E.add, E.sub, E.mul, E.div)
         for shapes in BINARY_SHAPES]
CASES += [(op, {}, [shape], op is E.log) for op in (E.neg, E.square, E.sigmoid, E.tanh, E.exp,
                                                      E.log, E.relu)
          for shape in ((3, 4), ())]
CASES += [(op, {"dims": dims, "keepdim": keep}, [shape], False) for op in (R.sum, R.mean)
          for shape, dims in (((3, 4), None), ((3, 4), (0,)), ((2, 3, 4), (0, 2)), ((3,), ()),
                              ((), None))
          for keep in (False, True)]
CASES += [(L.matmul, {}, [(3, 4), (4, 2)], False),
          (L.linear, {}, [(5, 3), (2, 3), (2,)], False),
          (L.linear, {}, [(2, 5, 3), (2, 3), (2,)], False),
          (L.linear, {}, [(5, 3), (2, 3)], False)]


def _case_id(case):
    op, attrs, shapes, _ = case
    return f"{op.name}-{shapes}-{attrs}"


def _shared_rule(op, inputs, output, attrs, needs, g):
    """op.vjp's cotangents, as the sweep would use them (summed to the inputs' shapes)."""
    with gc.no_grad():
        grads = op.vjp(VJPContext(inputs, (output,), attrs, needs), g)
        return [None if gx is None or not need else autodiff.sum_to(gx, x.shape).numpy()
                for gx, x, need in zip(grads, inputs, needs)]


def _run_op(op, inputs, attrs):
    with gc.no_grad():
        return op(*inputs, **attrs)


def _taped(op, inputs, attrs):
    """The tape entry of op on leaves that require grad (normalized attributes and all)."""
    leaves = [Tensor._wrap(x._data).requires_grad_() for x in inputs]
    out = op(*leaves, **attrs)
    return out.grad_fn, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_fast_rule_matches_the_shared_rule_bit_for_bit(case, dtype):
    op, attrs, shapes, positive = case
    entry, output = _taped(op, [Tensor._wrap(_arr(s, dtype, positive)) for s in shapes], attrs)
    inputs, attrs = entry.inputs, entry.attrs
    g = Tensor._wrap(_arr(output.shape, dtype))
    for needs in itertools.product((True, False), repeat=len(inputs)):
        if True not in needs:
            continue
        got = fast_vjp.eager_vjp(entry, needs, [g])
        assert got is not None, "the rule fell back"
        want = _shared_rule(op, inputs, output, attrs, needs, g)
        for x, gx, w, need in zip(inputs, got, want, needs):
            if not need:
                assert gx is None or gx is g  # (add and sub pass g through, as op.vjp does)
                continue
            assert gx.shape == x.shape and gx.dtype is x.dtype
            np.testing.assert_array_equal(gx.numpy(), w)


def _entry(op, inputs, attrs=None):
    output = _run_op(op, inputs, attrs or {})
    entry = type("Entry", (), {})()  # (int tensors cannot require grad: a stand-in entry)
    entry.op, entry.inputs, entry.outs = op, tuple(inputs), ((output._data, output._vc),)
    entry.attrs = dict(op.defaults, **(attrs or {}))
    return entry, output


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_other_dtypes_fall_back(dtype):
    x = Tensor._wrap(np.ones((2, 3), dtype))
    entry, out = _entry(E.neg, [x])
    assert fast_vjp.eager_vjp(entry, (True,), [Tensor._wrap(np.ones((2, 3), dtype))]) is None


def test_a_cotangent_of_another_dtype_falls_back():
    x = Tensor._wrap(np.ones((2, 3), np.float32))
    entry, _ = _entry(E.sigmoid, [x])
    assert fast_vjp.eager_vjp(entry, (True,), [Tensor._wrap(np.ones((2, 3)))]) is None


def test_uncovered_ranks_fall_back():
    a, b = Tensor._wrap(np.ones((2, 3, 4), np.float32)), Tensor._wrap(np.ones((4, 5), np.float32))
    entry, out = _entry(L.matmul, [a, b])
    assert fast_vjp.eager_vjp(entry, (True, True), [Tensor._wrap(np.ones(out.shape, np.float32))]) \
        is None


def test_backward_agrees_with_the_shared_rules():
    """A whole MLP step: .grad from the fast rules (backward) equals autograd.grad with
    create_graph=True (which runs op.vjp: its results must stay differentiable)."""
    x = gc.tensor(RNG.standard_normal((6, 3)).astype(np.float32))
    w1 = gc.tensor(RNG.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    b1 = gc.tensor(RNG.standard_normal(4).astype(np.float32), requires_grad=True)
    w2 = gc.tensor(RNG.standard_normal((1, 4)).astype(np.float32), requires_grad=True)
    y = gc.tensor(RNG.standard_normal((6, 1)).astype(np.float32))

    def loss():
        h = gc.nn.functional.linear(x, w1, b1).tanh()
        h = h * gc.sigmoid(h) + h.relu() / 2 - h.exp().mean(0)
        return gc.nn.functional.mse_loss(gc.nn.functional.linear(h, w2), y) + \
            (w1.square().sum() - (w2 * 3).neg().sum(1)).mean()

    want = gc.autograd.grad(loss(), [w1, b1, w2], create_graph=True)
    loss().backward()
    for t, w in zip([w1, b1, w2], want):
        np.testing.assert_allclose(t.grad.numpy(), w.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_a_replaced_vjp_is_run(monkeypatch):
    """A rule stands for one op.vjp: replace the vjp and backward runs the new one."""
    monkeypatch.setattr(E.tanh, "vjp", lambda c, g: [E.mul(g, 3.0)])
    x = gc.tensor(np.array([0.5, -1.0], np.float32), requires_grad=True)
    x.tanh().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 3), (1100, 3), (1100, 20), (0, 3), (4, 0)])
def test_a_bias_gradient_is_sums_eager_bit_for_bit(shape):
    g = _arr(shape, np.float32)
    want = R.sum.eager(g, tuple(range(g.ndim - 1)), False)
    got = fast_vjp._column_sums(g)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)
