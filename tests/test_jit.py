"""graphc.jit: tracing eager-style code (functions and whole training steps) into compiled graphs.

Most tests compile for the reference target (the tracing logic does not depend on the target);
one runs the default target (the CPU compiler when it is available).
"""
import numpy as np
import pytest

import graphc as gc
from graphc.eager.tensor import Tensor
from graphc.jit import TracingError

REF = "reference"


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_pure_function_matches_eager_and_retraces_per_signature():
    def f(x, y):
        return gc.sigmoid(x * y + 1.0) * gc.tanh(x)

    jf = gc.jit(f, target=REF)
    x, y = _rng().standard_normal((2, 3, 4))
    out = jf(x, y)
    np.testing.assert_allclose(out.numpy(), f(gc.tensor(x), gc.tensor(y)).numpy(), rtol=1e-12)
    jf(x + 1, y)                      # same signature: no new trace
    jf(gc.tensor(x), y)               # a tensor of the same shape and dtype: same signature
    np.testing.assert_allclose(jf(y, gc.tensor(x)).numpy(), f(gc.tensor(y), gc.tensor(x)).numpy())
    assert jf.retraces == 1
    jf(x[:2], y[:2])                  # new shape
    jf(x.astype(np.float32), y.astype(np.float32))  # new dtype
    assert jf.retraces == 3 and jf.signatures == 3


def test_python_numbers_are_static_arguments():
    jf = gc.jit(lambda x, k: x * k, target=REF)
    x = np.ones(3)
    assert jf(x, 2.0).numpy().tolist() == [2.0] * 3
    assert jf(x, 3.0).numpy().tolist() == [3.0] * 3
    assert jf(x, 3.0).numpy().tolist() == [3.0] * 3
    assert jf(x, np.float64(4.0)).numpy().tolist() == [4.0] * 3  # NumPy scalars too
    assert jf.retraces == 3


def test_nested_inputs_and_outputs_keep_their_structure():
    @gc.jit(target=REF)
    def f(pair, scale, *, extra):
        a, b = pair
        return {"sum": a + b, "parts": (a * scale, extra["c"] - b), "note": "static"}

    a, b, c = _rng().standard_normal((3, 2, 2))
    out = f((a, b), 2.0, extra={"c": c})
    assert set(out) == {"sum", "parts", "note"} and out["note"] == "static"
    np.testing.assert_allclose(out["sum"].numpy(), a + b)
    np.testing.assert_allclose(out["parts"][0].numpy(), 2 * a)
    np.testing.assert_allclose(out["parts"][1].numpy(), c - b)
    names = [p.name for p in f.graph((a, b), 2.0, extra={"c": c}).inputs]
    assert names == ["pair_0", "pair_1", "extra_c"]


def test_graph_and_executable_are_inspectable():
    w = gc.tensor(np.eye(2), requires_grad=True)
    jf = gc.jit(lambda x: x @ w, target=REF)
    with pytest.raises(gc.GraphcError, match="not been called"):
        jf.executable
    x = np.ones((3, 2))
    jf(x)
    assert isinstance(jf.executable, gc.Executable)
    ops = [n.op.name for n in jf.graph(x).nodes]
    assert ops == ["placeholder", "variable", "matmul"]
    assert jf.graph(x).variables[0].node.attrs["storage"] is w
    spec = jf.specialization(x)
    assert spec.trace_seconds > 0 and spec.compile_seconds > 0 and spec.first_run_seconds > 0


def test_parameters_are_read_live_not_frozen_at_trace_time():
    w = gc.tensor([1.0, 2.0], dtype=gc.float64, requires_grad=True)
    jf = gc.jit(lambda x: (x * w).sum(), target=REF)
    x = np.ones(2)
    assert jf(x).item() == 3.0
    with gc.no_grad():
        w.mul_(10)  # eager write after tracing: the compiled function sees it
    assert jf(x).item() == 30.0
    assert jf.retraces == 1


def _mlp_params(seed):
    rng = _rng(seed)
    w1 = gc.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b1 = gc.tensor(np.zeros(3), requires_grad=True)
    w2 = gc.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    return [w1, b1, w2]


def _loss(params, x, y):
    w1, b1, w2 = params
    return ((gc.sigmoid(x @ w1 + b1) @ w2 - y) ** 2).mean()


def _sgd_step(params, x, y, lr):
    for p in params:
        p.grad = None
    loss = _loss(params, x, y)
    loss.backward()
    with gc.no_grad():
        for p in params:
            p.sub_(lr * p.grad)
    return loss


def test_training_step_with_backward_and_inplace_updates_matches_eager():
    x = _rng(1).standard_normal((4, 2))
    y = _rng(2).standard_normal((4, 1))
    eager, static = _mlp_params(3), _mlp_params(3)
    step = gc.jit(lambda x, y: _sgd_step(static, x, y, 0.5), target=REF)
    for _ in range(3):
        le = _sgd_step(eager, gc.tensor(x), gc.tensor(y), 0.5)
        ls = step(x, y)
        np.testing.assert_allclose(ls.item(), le.item(), rtol=1e-12)
    for pe, ps in zip(eager, static):
        np.testing.assert_allclose(ps.detach().numpy(), pe.detach().numpy(), rtol=1e-12)
        assert ps.grad is None  # .grad is symbolic only inside the trace
    assert step.retraces == 1
    assert len(step.executable.updates) == 3


def test_optimizer_state_chains_inplace_writes_like_adam():
    """State read after an in-trace write sees the new value (m.mul_(b).add_(g) chains)."""
    def make():
        p = gc.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        m = gc.zeros(3, dtype=gc.float64)
        v = gc.zeros(3, dtype=gc.float64)
        return p, m, v

    def step(state, x):
        p, m, v = state
        loss = ((p * x) ** 2).sum()
        loss.backward()
        with gc.no_grad():
            m.mul_(0.9).add_(p.grad, alpha=0.1)
            v.mul_(0.99).addcmul_(p.grad, p.grad, value=0.01)
            p.addcdiv_(m, v.sqrt() + 1e-8, value=-0.1)
        p.grad = None
        return loss

    x = np.array([0.5, 1.0, -1.5])
    eager, static = make(), make()
    jstep = gc.jit(lambda x: step(static, x), target=REF)
    for _ in range(4):
        le = step(eager, gc.tensor(x))
        ls = jstep(x)
        np.testing.assert_allclose(ls.item(), le.item(), rtol=1e-12)
    for a, b in zip(eager, static):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12)


def test_backward_accumulates_into_existing_grads_and_keep_grads_exposes_them():
    w = gc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.grad = gc.tensor(np.array([10.0, 10.0]))

    def f(x):
        (w * x).sum().backward()  # no zero_grad: accumulates, as in eager mode
        return w.grad * 1.0

    jf = gc.jit(f, target=REF, keep_grads=True)
    x = np.array([3.0, 4.0])
    np.testing.assert_allclose(jf(x).numpy(), [13.0, 14.0])
    np.testing.assert_allclose(w.grad.numpy(), [13.0, 14.0])
    np.testing.assert_allclose(jf(x).numpy(), [16.0, 18.0])
    np.testing.assert_allclose(w.grad.numpy(), [16.0, 18.0])


def test_zero_grad_inside_the_step_is_part_of_the_step():
    w = gc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.grad = gc.tensor(np.array([5.0, 5.0]))

    def f(x):
        w.grad.zero_()
        (w * x).sum().backward()
        return w.grad + 0.0

    jf = gc.jit(f, target=REF)
    x = np.array([3.0, 4.0])
    np.testing.assert_allclose(jf(x).numpy(), [3.0, 4.0])
    np.testing.assert_allclose(jf(x).numpy(), [3.0, 4.0])
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 0.0])  # zeroed by each call, as eagerly


def test_control_flow_on_a_symbolic_value_names_the_line_and_the_fix():
    def f(x):
        if x.sum() > 0:  # the offending line
            return x
        return -x

    with pytest.raises(TracingError) as info:
        gc.jit(f, target=REF)(np.ones(3))
    msg = str(info.value)
    assert "test_jit.py" in msg and "if x.sum() > 0:" in msg
    assert "graphc.where" in msg and "static" in msg and "f" in msg
    assert Tensor._trace is None  # the failed trace left no state behind


@pytest.mark.parametrize("convert", [float, int, lambda v: v.item(), lambda v: v.numpy()])
def test_converting_a_symbolic_value_to_a_number_is_a_tracing_error(convert):
    with pytest.raises(TracingError, match="symbolic"):
        gc.jit(lambda x: convert(x.sum()), target=REF)(np.ones(3))


def test_failed_trace_restores_grads_and_nothing_is_written():
    w = gc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    before = w.detach().numpy().copy()

    def f(x):
        (w * x).sum().backward()
        with gc.no_grad():
            w.sub_(w.grad)
        raise RuntimeError("user bug")

    with pytest.raises(RuntimeError, match="user bug"):
        gc.jit(f, target=REF)(np.ones(2))
    assert w.grad is None and Tensor._trace is None
    np.testing.assert_array_equal(w.detach().numpy(), before)


def test_backward_outside_jit_and_on_a_loss_without_parameters_is_explained():
    loss = gc.placeholder((3,)).sum()
    with pytest.raises(gc.UnsupportedError, match="graphc.grad"):
        loss.backward()
    with pytest.raises(gc.GraphcError, match="requires_grad"):
        gc.jit(lambda x: x.sum().backward(), target=REF)(np.ones(3))


def test_default_target_training_step():
    """The same jitted step on the default target (the CPU compiler when present)."""
    x = _rng(1).standard_normal((4, 2)).astype(np.float32)
    y = _rng(2).standard_normal((4, 1)).astype(np.float32)
    eager = [gc.tensor(p.detach().numpy().astype(np.float32), requires_grad=True)
             for p in _mlp_params(5)]
    static = [gc.tensor(p.detach().numpy(), requires_grad=True) for p in eager]
    step = gc.jit(lambda x, y: _sgd_step(static, x, y, 0.5))
    for _ in range(3):
        le = _sgd_step(eager, gc.tensor(x), gc.tensor(y), 0.5)
        ls = step(x, y)
        np.testing.assert_allclose(ls.item(), le.item(), rtol=1e-5)
    for pe, ps in zip(eager, static):
        np.testing.assert_allclose(ps.detach().numpy(), pe.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_jit_rejects_non_functions_and_unhashable_static_arguments():
    with pytest.raises(TypeError, match="function"):
        gc.jit(3)
    with pytest.raises(TypeError, match="hashable"):
        gc.jit(lambda x, s: x, target=REF)(np.ones(1), {1, 2})


def test_eager_loop_with_graphc_optim_compiles_unchanged():
    from graphc import nn, optim

    def make():
        gc.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
        return model, optim.Adam(model.parameters(), lr=0.1)

    def train_step(model, opt, x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    x = _rng(1).standard_normal((4, 2)).astype(np.float32)
    y = _rng(2).standard_normal((4, 1)).astype(np.float32)
    (m_e, o_e), (m_s, o_s) = make(), make()
    step = gc.jit(lambda x, y: train_step(m_s, o_s, x, y), target=REF)
    for _ in range(3):
        le = train_step(m_e, o_e, gc.tensor(x), gc.tensor(y))
        np.testing.assert_allclose(step(x, y).item(), le.item(), rtol=1e-6)
    for pe, ps in zip(m_e.parameters(), m_s.parameters()):
        np.testing.assert_allclose(ps.detach().numpy(), pe.detach().numpy(), rtol=1e-6)
    assert step.retraces == 1


def test_module_buffer_updates_are_part_of_the_jitted_step():
    from graphc import nn
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5))
    step = gc.jit(lambda x: model(x), target=REF)
    x = np.ones((2, 4), np.float32)
    first, second = step(x).numpy().copy(), step(x).numpy().copy()
    assert not np.array_equal(first, second)  # a fresh mask at every call, as eagerly


def test_type_and_view_with_a_dtype_under_jit():
    """x.type(dtype) traces to a cast (a symbolic value's .type is also the method); x.view
    with another dtype to the `bitcast` op."""
    x = gc.tensor([1.5, -2.5])
    f = gc.jit(lambda x: x.type(gc.int32) * 2 + x.type(gc.float64), target="reference")
    out = f(x)
    assert out.dtype is gc.float64 and out.tolist() == [3.5, -6.5]
    names = gc.jit(lambda x: (x.type(), x.type("torch.LongTensor") + 1), target="reference")
    assert names(x)[1].tolist() == [2, -1]
    seen = []
    gc.jit(lambda x: seen.append(x.type()) or x, target="reference")(x)
    assert seen == ["torch.FloatTensor"]
    same = gc.jit(lambda x: x.view(gc.float32) * 2, target="reference")(x)
    assert same.tolist() == [3.0, -5.0]
    bits = gc.jit(lambda x: x.view(gc.int32), target="reference")(x)
    np.testing.assert_array_equal(bits.numpy(), x.numpy().view(np.int32))
    halves = gc.jit(lambda x: x.view(gc.int16))(x)  # (graphc.jit's default target: cpu)
    np.testing.assert_array_equal(halves.numpy(), x.numpy().view(np.int16))
