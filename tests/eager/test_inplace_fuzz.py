"""Random programs of in-place writes (through views, with tensor operands, read before and
after the writes), run by graphc and by PyTorch: same values, same gradients."""
import numpy as np
import pytest

import graphc as gc

torch = pytest.importorskip("torch")

VIEWS = [
    ("whole", lambda y: y),
    ("row", lambda y: y[0]),
    ("cols", lambda y: y[:, 1:]),
    ("t_row", lambda y: y.t()[1]),
    ("flat_part", lambda y: y.reshape(6)[2:4]),
    ("elem", lambda y: y[1, 2]),
]


def _operand(lib, w, kind, shape):
    if kind == "scalar":
        return 0.75
    if kind == "0d":
        return w.sum() * 0.1
    n = shape[-1] if shape else 1
    return w[:n] * 0.5 if shape else w[0] * 0.5


OPS = ["add_", "sub_", "mul_", "div_", "clamp_", "addcmul_", "copy_", "fill_", "zero_",
       "set_int", "set_mask", "set_ellipsis"]


def _program(seed):
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(rng.integers(2, 6)):
        steps.append((int(rng.integers(len(VIEWS))), OPS[rng.integers(len(OPS))],
                      ["scalar", "0d", "vector"][rng.integers(3)], bool(rng.integers(2))))
    return steps


def _apply(lib, y, w, view, op, kind):
    v = VIEWS[view][1](y)
    shape = tuple(v.shape)
    t = _operand(lib, w, kind, shape)
    if op == "div_":
        t = t * t + 1 if not isinstance(t, float) else 2.0
        v.div_(t)
    elif op == "clamp_":
        v.clamp_(-1.0, 2.0)
    elif op == "addcmul_":
        v.addcmul_(t if not isinstance(t, float) else lib.tensor(t), lib.tensor(1.5), value=0.5)
    elif op == "copy_":
        v.copy_(t if not isinstance(t, float) else lib.tensor(t))
    elif op == "fill_":
        v.fill_(t if not hasattr(t, "shape") or t.ndim == 0 else 0.25)
    elif op == "zero_":
        v.zero_()
    elif op.startswith("set_"):
        if not shape:
            return
        value = t if not hasattr(t, "shape") or t.ndim == 0 else t[:1]
        if op == "set_int":
            v[lib.tensor([0])] = value
        elif op == "set_mask":
            v[v > 0.5] = value if not hasattr(value, "shape") else value.reshape(())
        else:
            v[..., 0] = value
    else:
        getattr(v, op)(t)


def _run(lib, steps):
    x = lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.3, requires_grad=True)
    w = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = x * 1.5
    loss = 0
    for view, op, kind, read_before in steps:
        if read_before:
            loss = loss + (y * lib.tensor([1.0, 2.0, 3.0])).sum()
        _apply(lib, y, w, view, op, kind)
    loss = loss + (y * y).sum()
    loss.backward()
    grads = [np.zeros(s) if t.grad is None else t.grad.numpy() for t, s in ((x, (2, 3)), (w, (3,)))]
    return [y.detach().numpy(), *grads]


@pytest.mark.parametrize("seed", range(60))
def test_random_inplace_program_matches_pytorch(seed):
    steps = _program(seed)
    for got, want in zip(_run(gc, steps), _run(torch, steps)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=str(steps))


def _run_jitted(steps):
    def step(x, w):
        y = x * 1.5
        loss = 0
        for view, op, kind, read_before in steps:
            if read_before:
                loss = loss + (y * gc.tensor([1.0, 2.0, 3.0])).sum()
            _apply(gc, y, w, view, op, kind)
        loss = loss + (y * y).sum()
        return (y, *gc.grad(loss, [x, w]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.3
    w = np.array([0.5, -1.5, 2.0], np.float32)
    return [np.asarray(r) for r in gc.jit(step, target="reference")(x, w)]


@pytest.mark.parametrize("seed", range(30))
def test_random_inplace_program_under_jit(seed):
    steps = _program(seed)
    for got, want in zip(_run_jitted(steps), _run(gc, steps)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=str(steps))
