"""The eager fast path (eager/fast_path.py fast_apply, a plan cached per op, attributes,
shapes and dtypes) gives exactly what the general path gives. Under
graphc.debug.check_numerics every op takes the general path, so each case runs both ways,
twice (a plan made, then reused), and compares values, dtypes, gradients and errors."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn


def _leaf(values, dtype=np.float32, grad=True):
    t = gc.tensor(np.asarray(values, dtype))
    return t.requires_grad_(True) if grad and np.dtype(dtype).kind == "f" else t


CASES = {
    "tensor + tensor": lambda a, b: a + b,
    "tensor * number": lambda a, b: a * 2 + 1,
    "number - tensor": lambda a, b: 3 - a / b,
    "int number into float": lambda a, b: (a * 2).sum(),
    "bool number": lambda a, b: a * True,
    "broadcast": lambda a, b: a.reshape(2, 1) * b.reshape(1, 2),
    "comparison": lambda a, b: (a > b).float() * a,
    "reductions with attrs": lambda a, b: a.sum(0) + a.mean(dim=0, keepdim=True).sum(),
    "views then write": lambda a, b: a.clone().t().reshape(-1)[1:] * b[0],
    "unary chain": lambda a, b: a.exp().tanh().relu() + b.sigmoid(),
    "matmul": lambda a, b: a.reshape(1, 2) @ b.reshape(2, 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_and_general_paths_agree(name):
    fn = CASES[name]
    results = []
    for general in (False, True, False, True):
        a, b = _leaf([1.5, -2.0]), _leaf([0.5, 3.0])
        if general:
            with gc.debug.check_numerics():
                out = fn(a, b)
                out.sum().backward()
        else:
            out = fn(a, b)
            out.sum().backward()
        results.append((out.detach().numpy().copy(), out.dtype, a.grad.numpy().copy(),
                        None if b.grad is None else b.grad.numpy().copy()))
    first = results[0]
    for other in results[1:]:
        np.testing.assert_array_equal(other[0], first[0])
        assert other[1] == first[1]
        np.testing.assert_array_equal(other[2], first[2])
        if first[3] is None:
            assert other[3] is None
        else:
            np.testing.assert_array_equal(other[3], first[3])


@pytest.mark.parametrize("dtypes", [(np.int32, np.float32), (np.float16, np.float32),
                                    (np.int64, np.int64), (np.bool_, np.int32),
                                    (np.float64, np.float32)])
def test_mixed_dtypes_follow_the_general_path(dtypes):
    a, b = gc.tensor(np.array([1, 2, 3], dtypes[0])), gc.tensor(np.array([3, 0, 1], dtypes[1]))
    for _ in range(2):
        fast = [a + b, a * 2, a + 1.5, b - a, a / 2]
        with gc.debug.check_numerics():
            general = [a + b, a * 2, a + 1.5, b - a, a / 2]
        for f, g in zip(fast, general):
            assert f.dtype == g.dtype
            np.testing.assert_array_equal(f.numpy(), g.numpy())


def test_parameters_take_the_fast_path_and_record():
    lin = nn.Linear(2, 1)
    x = gc.tensor([[1.0, 2.0]])
    grads = []
    for _ in range(2):
        lin.zero_grad()
        (lin.weight * x).sum().backward()
        grads.append(lin.weight.grad.numpy().copy())
    np.testing.assert_array_equal(grads[0], [[1.0, 2.0]])
    np.testing.assert_array_equal(grads[1], grads[0])


def test_errors_are_the_same_on_every_call():
    a, b = gc.tensor(np.ones(3, np.float32)), gc.tensor(np.ones(4, np.float32))
    messages = []
    for _ in range(3):
        with pytest.raises(gc.errors.ShapeError) as e:
            a + b
        messages.append(str(e.value).splitlines()[0])
    assert messages[0] == messages[1] == messages[2] and "add" in messages[0]


def test_no_grad_records_nothing_and_views_still_share_storage():
    a = _leaf([1.0, 2.0, 3.0, 4.0])
    with gc.no_grad():
        y = a * 2
        v = y.reshape(2, 2)
    assert y.grad_fn is None and not y.requires_grad
    v[0, 0] = 10.0
    assert y[0].item() == 10.0  # the reshape is a view of y, as in PyTorch


def test_write_through_a_view_then_read_it_again():
    """A view taken on the fast path keeps its base: writing the base re-derives the view's
    history (the gradient reaches the leaf through the write)."""
    w = _leaf([1.0, 2.0])
    for _ in range(2):
        y = w * 1
        v = y.reshape(2)
        y.mul_(3)
        (v * 1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape, dims, keepdim", [((4, 1), (0, 1), False), ((3, 5), (1,), True),
                                                  ((2, 3, 4), (0, 2), False), ((), (), False)])
def test_mean_kernel_is_numpys_mean_bit_for_bit(shape, dims, keepdim, dtype):
    from graphc.ops import reduce as R
    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    got, want = R.mean.eager(x, dims, keepdim), R.mean.reference(x, dims, keepdim)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(got, want)


def test_first_one_input_call_on_a_new_tensor_subclass_records_its_gradient(monkeypatch):
    """A Parameter first met by a one-input op (a slice) is learned as a tensor type and the
    call is recorded: its gradient flows (it once raised UnboundLocalError)."""
    from graphc.eager import fast_path
    monkeypatch.setattr(fast_path, "_TENSOR_TYPES", {gc.Tensor: True})
    monkeypatch.setattr(fast_path, "_plans", {})
    p = gc.nn.Parameter(gc.tensor(np.arange(6.0, dtype=np.float32)))
    (p[:4] * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2, 2, 2, 2, 0, 0])
    assert gc.nn.Parameter in fast_path._TENSOR_TYPES
