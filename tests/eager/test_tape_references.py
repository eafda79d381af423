"""A recorded op makes no reference cycle: its output holds the tape entry (grad_fn), and the
entry keeps the output's array and version counter, not the tensor (as PyTorch's
SavedVariable), so that dropping a result frees it by reference counting alone, without
the cyclic garbage collector."""
import gc
import weakref

import numpy as np
import pytest

import graphc
import graphc.nn.functional as NF
from graphc.eager import hooks


@pytest.fixture
def no_cyclic_gc():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _leaf(*shape):
    return graphc.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 7,
                         requires_grad=True)


# each makes a result that requires grad through one recording path of the dispatcher
CALLS = {
    "pair (add)": lambda a, b: a + b,
    "pair, saves the other input (mul)": lambda a, b: a * b,
    "one tensor, saves the output (sigmoid)": lambda a, b: graphc.sigmoid(a),
    "a number (a * 2)": lambda a, b: a * 2,
    "three tensors (linear)": lambda a, b: NF.linear(a, b, b[0]),
    "general path (a float64 input)": lambda a, b: a + b.double(),
    "two outputs (max over a dim)": lambda a, b: graphc.max(a, dim=0).values,
    "a view (reshape)": lambda a, b: a.reshape(-1),
    "in-place write": lambda a, b: (a * 1).mul_(b),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_result_is_freed_by_reference_counting(call, no_cyclic_gc):
    a, b = _leaf(3, 3), _leaf(3, 3)
    out = call(a, b)
    assert out.grad_fn is not None
    dead = weakref.ref(out), weakref.ref(out.grad_fn)
    del out
    assert dead[0]() is None and dead[1]() is None


def test_an_op_loop_leaves_no_garbage(no_cyclic_gc):
    a, b = _leaf(4), _leaf(4)
    for _ in range(200):
        (graphc.sigmoid(a + b) * b).sum()
    assert gc.collect() == 0


def test_backward_reads_outputs_nobody_holds():
    x = _leaf(2, 3)
    values = graphc.max(x, dim=0).values  # the indices (output 1) are dropped at once
    graphc.sigmoid(values).sum().backward()
    s = 1 / (1 + np.exp(-x.detach().numpy()[1]))
    want = np.zeros((2, 3), np.float32)
    want[1] = s * (1 - s)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_double_backward_through_a_rule_that_reads_its_output():
    x = _leaf(3)
    (g,) = graphc.autograd.grad(graphc.sigmoid(x).sum(), x, create_graph=True)
    g.sum().backward()  # d/dx s(1 - s) = s(1 - s)(1 - 2s)
    s = 1 / (1 + np.exp(-x.detach().numpy()))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s) * (1 - 2 * s), rtol=1e-5)


def test_a_saved_output_written_in_place_still_raises():
    y = graphc.sigmoid(_leaf(3))
    loss = y.sum()
    with graphc.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation: "
                                           r"\[float32 \[3\]\].*version 1; expected version 0"):
        loss.backward()


def test_retain_grad_follows_in_place_writes_and_forgets_dead_tensors():
    x = _leaf(3)
    y = x * 2
    y.retain_grad()
    y.mul_(3)  # y's grad is that of its latest version
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy(), rtol=1e-6)
    before = len(hooks._retaining)
    z = x * 2
    z.retain_grad()
    assert len(hooks._retaining) == before + 1
    del z
    assert len(hooks._retaining) == before
