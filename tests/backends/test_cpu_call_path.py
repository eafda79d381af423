"""The cheap call path of a compiled cpu step: repeated feeds are reused by identity, and
everything that can change behind an identity (values, shape, dtype, replaced variable
arrays) is still seen."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import FeedError

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)


def _step(target):
    rng = np.random.default_rng(1)
    w = gc.variable(rng.standard_normal((2, 1)).astype(np.float32), name="w")
    b = gc.variable(np.zeros(1, np.float32), name="b")
    x, y = gc.placeholder((None, 2), name="x"), gc.placeholder((None, 1), name="y")
    loss = ((gc.sigmoid(x @ w + b) - y) ** 2).mean()
    gw, gb = gc.grad(loss, [w, b])
    exe = gc.compile(loss, inputs=[x, y], updates={w: w - 0.5 * gw, b: b - 0.5 * gb},
                     target=target)
    return exe, w.node.attrs["storage"]


def _both(fn):
    """Run fn(exe, w_storage, x, y) on the reference and cpu targets; return both results."""
    return [fn(*_step(target), X.copy(), Y.copy()) for target in ("reference", "cpu")]


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_repeated_feeds_mutated_in_place_are_read_again():
    def run(exe, w, x, y):
        out = [exe(x, y).item()]
        x *= 2  # same array object, new values
        out.append(exe(x, y).item())
        y[:] = 1 - y
        out.append(exe(x, y).item())
        return out + list(w.numpy().ravel())
    _close(*_both(run))


def test_tensor_feeds_and_new_arrays_of_the_same_signature():
    def run(exe, w, x, y):
        tx, ty = gc.tensor(x), gc.tensor(y)
        out = [exe(tx, ty).item(), exe(tx, ty).item(), exe(x[::-1].copy(), y).item()]
        tx._data = x[::-1].copy()  # the tensor now holds another array
        return out + [exe(tx, ty).item()]
    _close(*_both(run))


def test_non_contiguous_feeds():
    def run(exe, w, x, y):
        big = np.zeros((4, 4), np.float32)
        big[:, ::2] = x
        view = big[:, ::2]
        out = [exe(view, y).item()]
        big[:, ::2] += 1  # the view sees it; a copied feed would not
        return out + [exe(view, y).item(), exe(view, y).item()]
    _close(*_both(run))


def test_shape_or_dtype_reassigned_in_place_is_checked():
    exe, _ = _step("cpu")
    x = X.copy()
    exe(x, Y)
    exe(x, Y)
    x.shape = (8, 1)  # the same object, another shape
    with pytest.raises(FeedError, match="expects shape"):
        exe(x, Y)
    x.shape = (4, 2)
    exe(x, Y)
    x.dtype = np.int32
    with pytest.raises(FeedError, match="expects dtype"):
        exe(x, Y)


def test_replaced_variable_arrays_are_used():
    def run(exe, w, x, y):
        out = [exe(x, y).item(), exe(x, y).item()]
        w._data = np.full((2, 1), 0.25, np.float32)  # e.g. load_state_dict
        out += [exe(x, y).item(), exe(x, y).item()]
        w._data = np.asfortranarray(np.full((2, 1), -0.5, np.float32))[::1]
        out += [exe(x, y).item()]
        return out + list(w.numpy().ravel())
    _close(*_both(run))


def test_version_counter_moves_on_every_call():
    exe, w = _step("cpu")
    before = w._vc[0]
    for _ in range(3):
        exe(X, Y)
    assert w._vc[0] == before + 3
