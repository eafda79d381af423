"""Every op against its NumPy reference and finite differences, in both modes."""
import numpy as np
import pytest
import scipy.special

import graphc as gc
from helpers import cotangent_like, eager_inputs, float_inputs, numeric_grad, placeholders
from op_table import CASES as BASE_CASES, by_id
from op_table_more import MORE_CASES

CASES = BASE_CASES + MORE_CASES


def _assert_same(actual, expected, case):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{case.name}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case.name}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=case.rtol, atol=case.atol)


def _static_outputs(case, with_grads=False):
    ps = placeholders(case.inputs)
    out = case.fn(*ps)
    outputs = [out]
    if with_grads:
        loss = (out * gc.constant(cotangent_like(out.shape))).sum()
        outputs += list(gc.grad(loss, [ps[i] for i in float_inputs(case)]))
    results = gc.compile(outputs, inputs=ps, target="reference")(*case.inputs)
    return [r.numpy() for r in results]


@pytest.mark.parametrize("case", **by_id(CASES))
def test_forward_eager(case):
    out = case.fn(*eager_inputs(case.inputs))
    _assert_same(out.numpy(), case.ref(*case.inputs), case)


@pytest.mark.parametrize("case", **by_id([c for c in CASES if c.static]))
def test_forward_static(case):
    _assert_same(_static_outputs(case)[0], case.ref(*case.inputs), case)


GRAD_CASES = [c for c in CASES if c.grad]


@pytest.mark.parametrize("case", **by_id(GRAD_CASES))
def test_gradient_eager_matches_finite_differences(case):
    wrt = float_inputs(case)
    xs = eager_inputs(case.inputs, requires_grad=wrt)
    out = case.fn(*xs)
    r = cotangent_like(out.shape)
    (out * gc.tensor(r)).sum().backward()
    for i in wrt:
        expected = numeric_grad(lambda *a: np.sum(case.ref(*a) * r), case.inputs, i)
        got = xs[i].grad.numpy() if xs[i].grad is not None else np.zeros_like(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{case.name}: gradient of input {i}")


@pytest.mark.parametrize("case", **by_id([c for c in GRAD_CASES if c.static]))
def test_gradient_static_equals_eager(case):
    wrt = float_inputs(case)
    xs = eager_inputs(case.inputs, requires_grad=wrt)
    out = case.fn(*xs)
    (out * gc.tensor(cotangent_like(out.shape))).sum().backward()
    static = _static_outputs(case, with_grads=True)
    np.testing.assert_allclose(static[0], out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for i, g in zip(wrt, static[1:]):
        eager = xs[i].grad.numpy() if xs[i].grad is not None else np.zeros_like(g)
        np.testing.assert_allclose(g, eager, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{case.name}: static vs eager gradient {i}")


def test_every_registered_op_is_in_the_table():
    covered = {c.op for c in CASES}
    # ops exercised through other ops' gradients or graph building, tested elsewhere
    indirect = {"placeholder", "constant", "variable", "expand_like", "shape_prod",
                "slice_backward", "index_backward", "index_put",
                "all_reduce", "broadcast"}  # communication: tests/distributed (never lowered)
    from nn_op_names import NN_OPS
    missing = set(gc.ops_registry) - covered - indirect - NN_OPS
    assert not missing, f"ops without a case in tests/op_table.py: {sorted(missing)}"


SECOND_ORDER = [
    ("tanh", lambda x: gc.tanh(x), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    ("sigmoid", lambda x: gc.sigmoid(x),
     lambda x: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(-x)))),
    ("cube", lambda x: x ** 3, lambda x: 6 * x),
    ("exp-mul", lambda x: gc.exp(x) * x, lambda x: np.exp(x) * (x + 2)),
    ("log_softmax-sum", lambda x: x.log_softmax(0)[0], None),
    ("lgamma", lambda x: gc.lgamma(x), lambda x: scipy.special.polygamma(1, x)),
    ("atan", lambda x: gc.atan(x), lambda x: -2 * x / (1 + x * x) ** 2),
    ("cumsum-square", lambda x: gc.cumsum(x * x, 0), lambda x: 2 * np.arange(5, 0, -1.0)),
    ("sort-cube", lambda x: gc.sort(x ** 3, descending=True).values[:3], None),
    ("prod", lambda x: gc.prod(x * x + x), None),
    ("cross_entropy", lambda x: gc.nn.functional.cross_entropy(
        gc.stack([x, x * x]), gc.tensor(np.array([2, 4]))), None),
]


@pytest.mark.parametrize("name,fn,d2", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_second_order_gradients_both_modes(name, fn, d2):
    x0 = np.linspace(-1.5, 1.3, 5)
    # eager: grad with create_graph, then backward again
    x = gc.tensor(x0, requires_grad=True)
    (g,) = gc.autograd.grad(fn(x).sum(), x, create_graph=True)
    g.sum().backward()
    eager_d2 = x.grad.numpy()
    # static: grad of grad
    p = gc.placeholder((5,), gc.float64)
    g1 = gc.grad(fn(p).sum(), p)
    g2 = gc.grad(g1.sum(), p)
    static_d2 = gc.compile(g2, [p], target="reference")(x0).numpy()
    np.testing.assert_allclose(static_d2, eager_d2, rtol=1e-10, atol=1e-12)
    if d2 is not None:
        np.testing.assert_allclose(eager_d2, d2(x0), rtol=1e-8, atol=1e-10)
    else:  # compare with finite differences of the first derivative
        first = gc.compile(g1, [p], target="reference")
        fd = numeric_grad(lambda a: first(a).numpy().sum(), [x0], 0)
        np.testing.assert_allclose(eager_d2, fd, rtol=1e-5, atol=1e-6)
