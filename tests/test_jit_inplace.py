"""graphc.jit traces in-place code to its functional equivalent (issue 12 items 1 and 9):
the same function gives the same values and gradients eagerly and jitted, on every call."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import UnsupportedError

X = np.array([1.0, 2.0, 3.0], np.float32)
W = np.array([4.0, 5.0, 6.0], np.float32)


def clone_mul(x, w):
    return x.clone().mul_(2).sum()


def zero_then_use(x, w):
    y = x * 2
    y.zero_()
    return (y + x).sum()


def operand_gets_grad(x, w):
    return (x * 1).add_(w, alpha=2).sub_(x).mul_(w).div_(3).sum()


def operators(x, w):
    y = x * 1
    y += w
    y -= x * 0.5
    y *= w
    y /= 2
    return y.sum()


def clamp_addcmul_addcdiv(x, w):
    y = x * 1
    y.clamp_(1.5, 2.5).addcmul_(w, x, value=2).addcdiv_(w, x)
    return (y * y).sum()


def fill_copy(x, w):
    y = x * 2
    y.fill_(w[0])
    z = x * 1
    z.copy_(w[1:2] * x[0])
    return (y * z * gc.tensor([1.0, 2.0, 3.0])).sum()


def readers_keep_the_old_value(x, w):
    y = x * 2
    z = y + 0
    y.mul_(3)
    return (z + y * w).sum()


def write_through_views(x, w):
    y = x * 1
    y[0:2].mul_(2)
    y[1].mul_(w[2])
    c = y[:2]
    y[0].add_(w[0])
    return (c * c).sum() + y.sum()


def setitem_keys(x, w):
    y = x * w
    y[gc.tensor([0, 2])] = w[:2] * 3
    y[..., 1] = x[0]
    y[gc.tensor([True, False, False])] = 0.5
    return (y * y).sum()


def setitem_2d(x, w):
    m = gc.outer(x, w) if hasattr(gc, "outer") else x.unsqueeze(1) * w.unsqueeze(0)
    m[1, gc.tensor([0, 2])] = w[:2]
    m[gc.tensor([0, 2]), gc.tensor([1, 1])] = x[2]
    m[:, 0] *= 2
    return (m * m).sum()


CASES = [clone_mul, zero_then_use, operand_gets_grad, operators, clamp_addcmul_addcdiv, fill_copy,
         readers_keep_the_old_value, write_through_views, setitem_keys, setitem_2d]


def _eager(body):
    x, w = gc.tensor(X, requires_grad=True), gc.tensor(W, requires_grad=True)
    loss = body(x, w)
    loss.backward()
    return loss.item(), *(np.zeros(3) if t.grad is None else t.grad.numpy() for t in (x, w))


def _jitted(body, target="reference"):
    def step(x, w):
        loss = body(x, w)
        return (loss, *gc.grad(loss, [x, w]))
    return gc.jit(step, target=target)


@pytest.mark.parametrize("body", CASES, ids=lambda f: f.__name__)
def test_jit_matches_eager(body):
    want = _eager(body)
    step = _jitted(body)
    for _ in range(2):  # every call, not only the traced one
        got = step(X, W)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)


def test_jit_matches_eager_on_cpu():
    def body(x, w):
        return sum(case(x, w) for case in (operand_gets_grad, write_through_views, setitem_keys,
                                           clamp_addcmul_addcdiv))
    want = _eager(body)
    got = _jitted(body, target="cpu")(X, W)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-5)


def test_setitem_with_symbolic_indices():
    def f(x, i):
        y = x * 1
        y[i] = 0.0
        return y
    got = gc.jit(f, target="reference")(np.ones(4, np.float32), np.array([0, 2, 2]))
    np.testing.assert_allclose(np.asarray(got), [0, 1, 0, 1])


def test_setitem_with_symbolic_mask():
    def f(x):
        y = x.clone()
        y[y > 1] = 0
        return y
    np.testing.assert_allclose(np.asarray(gc.jit(f, target="reference")(
        np.arange(4, dtype=np.float32))), [0, 1, 0, 0])

    def g(x):
        y = x.clone()
        y[y > 1] = x[:2]   # as many values as selected elements: known only at run time
        return y
    with pytest.raises(UnsupportedError, match="symbolic boolean mask"):
        gc.jit(g, target="reference")(np.arange(4, dtype=np.float32))


# ---- item 9: state written with x[k] = v runs on every call --------------------------------------
def test_setitem_on_captured_tensor_runs_every_call():
    buf = gc.zeros(3)

    def write(x, k):
        buf[k] = x.sum()
        return buf * 1
    step = gc.jit(write, target="reference")
    np.testing.assert_allclose(np.asarray(step(np.ones(2, np.float32), 1)), [0, 2, 0])
    np.testing.assert_allclose(np.asarray(step(np.full(2, 5, np.float32), 1)), [0, 10, 0])
    assert buf.tolist() == [0.0, 10.0, 0.0]


def test_temporaries_made_while_tracing_start_fresh_each_call():
    def f(x):
        acc = gc.zeros(3)
        acc += x
        acc[gc.tensor([0, 2])] = x[:2] * 10
        return acc
    step = gc.jit(f, target="reference")
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(step(np.ones(3, np.float32))), [10, 1, 10])


def test_argument_written_in_place_is_written_back():
    def f(x):
        x.add_(1)
        return x * 2
    a = gc.ones(3)
    step = gc.jit(f, target="reference")
    np.testing.assert_allclose(np.asarray(step(a)), [4, 4, 4])
    np.testing.assert_allclose(np.asarray(step(a)), [6, 6, 6])
    assert a.tolist() == [3.0, 3.0, 3.0]


def test_inplace_on_symbolic_value_outside_jit():
    x = gc.placeholder((3,), gc.float32, name="x")
    y = x * 2
    y += 1          # a graph built by hand: the operator rebinds y to y + 1
    with pytest.raises(UnsupportedError, match="inside graphc.jit"):
        y.mul_(2)
    exe = gc.compile([y], [x], target="reference")
    np.testing.assert_allclose(np.asarray(exe(X)[0]), X * 2 + 1)


# ---- item 9: modes and .grad that the trace depended on --------------------------------------------
def test_jitted_lambda_respects_model_eval():
    gc.manual_seed(0)
    model = gc.nn.Sequential(gc.nn.Linear(4, 4), gc.nn.Dropout(0.5))
    f = gc.jit(lambda x: model(x), target="reference")
    x = np.ones((8, 4), np.float32)
    train_out = np.asarray(f(x))
    model.eval()
    with gc.no_grad():
        want = model(gc.tensor(x)).numpy()
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-6)
    assert (train_out == 0).any() and f.retraces == 2
    model.train()
    assert (np.asarray(f(x)) == 0).any() and f.retraces == 2  # the training trace again


def test_backward_with_keep_grads_accumulates_like_eager():
    model = gc.nn.Linear(3, 1)

    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss
    x = np.ones((2, 3), np.float32)
    jitted = gc.jit(step, keep_grads=True, target="reference")
    jitted(x)
    np.testing.assert_allclose(model.weight.grad.numpy(), [[2, 2, 2]])
    jitted(x)   # .grad is there now: backward adds to it, as eager backward does
    np.testing.assert_allclose(model.weight.grad.numpy(), [[4, 4, 4]])
    model.zero_grad()
    jitted(x)
    np.testing.assert_allclose(model.weight.grad.numpy(), [[2, 2, 2]])


# ---- item 9: arguments used only for their shape or dtype; iteration ---------------------------------
@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_shape_and_dtype_only_arguments(target):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b64 = a.astype(np.float64)
    f = gc.jit(lambda x, like: (x.reshape(-1).view_as(like) * 2, x[:1].expand_as(like) + 1,
                                x.type_as(like), x.to(like)), target=target)
    v, e, t, o = f(a, b64)
    np.testing.assert_allclose(np.asarray(v), a * 2)
    np.testing.assert_allclose(np.asarray(e), np.broadcast_to(a[:1] + 1, (2, 3)))
    assert t.dtype is gc.float64 and o.dtype is gc.float64


def test_iterating_a_symbolic_value():
    f = gc.jit(lambda x: sum(list(x)), target="reference")
    np.testing.assert_allclose(np.asarray(f(np.arange(6, dtype=np.float32).reshape(2, 3))),
                               [3, 5, 7])
    v = gc.placeholder((None, 3), gc.float32)
    with pytest.raises(UnsupportedError, match="dim 0 is symbolic"):
        list(v)
    with pytest.raises(TypeError, match="0-d"):
        iter(gc.placeholder((), gc.float32))


@pytest.mark.parametrize("set_to_none", [True, False])
def test_training_steps_with_zero_grad_match_eager_and_trace_once(set_to_none):
    def make():
        gc.manual_seed(0)
        model = gc.nn.Linear(3, 2)
        return model, gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def stepper(model, opt):
        def step(x):
            model.zero_grad(set_to_none=set_to_none)
            loss = model(x).pow(2).sum()
            loss.backward()
            opt.step()
            return loss
        return step
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    eager_model, eager_opt = make()
    eager = stepper(eager_model, eager_opt)
    jit_model, jit_opt = make()
    jitted = gc.jit(stepper(jit_model, jit_opt), keep_grads=True, target="reference")
    for _ in range(4):
        np.testing.assert_allclose(np.asarray(jitted(x)), eager(gc.tensor(x)).item(), rtol=1e-5)
        np.testing.assert_allclose(jit_model.weight.grad.numpy(), eager_model.weight.grad.numpy(),
                                   rtol=1e-5)
    np.testing.assert_allclose(jit_model.weight.detach().numpy(),
                               eager_model.weight.detach().numpy(), rtol=1e-5)
    assert jitted.retraces == (1 if set_to_none else 2)  # (.grad appears after the first call)


@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_state_overwritten_without_being_read(target):
    buf = gc.zeros(3)
    buf._persistent = True   # state, like a buffer: its variable is updated but never read

    def f(x):
        buf._assign(x * 3)
        return x + 1
    step = gc.jit(f, target=target)
    step(np.ones(3, np.float32))
    assert buf.tolist() == [3.0, 3.0, 3.0]
    step(np.full(3, 2, np.float32))
    assert buf.tolist() == [6.0, 6.0, 6.0]


def test_writes_through_data_and_detach_update_the_parameter():
    model = gc.nn.Linear(2, 1)
    ema = gc.nn.Linear(2, 1)

    def step(x):
        for p, q in zip(ema.parameters(), model.parameters()):
            p.data.mul_(0.5).add_(q.detach() * 0.5)
        q0 = next(iter(model.parameters()))
        q0.detach().add_(1.0)
        return ema(x).sum()
    w0, e0 = model.weight.detach().numpy().copy(), ema.weight.detach().numpy().copy()
    jitted = gc.jit(step, target="reference")
    x = np.ones((1, 2), np.float32)
    jitted(x)
    np.testing.assert_allclose(ema.weight.detach().numpy(), 0.5 * e0 + 0.5 * w0, rtol=1e-6)
    np.testing.assert_allclose(model.weight.detach().numpy(), w0 + 1, rtol=1e-6)
    jitted(x)
    np.testing.assert_allclose(model.weight.detach().numpy(), w0 + 2, rtol=1e-6)
