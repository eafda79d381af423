"""x[key] = value for every kind of key, with and without gradients: graphc eager against
PyTorch (when installed), and graphc.jit against graphc eager."""
import numpy as np
import pytest

import graphc as gc

KEYS = {
    "int": lambda L: (1,),
    "slice_int": lambda L: (slice(None), 1),
    "ellipsis_int": lambda L: (Ellipsis, 1),
    "int_ellipsis_int": lambda L: (0, Ellipsis, 1),
    "int_tensor": lambda L: (L.tensor([0, 2]),),
    "int_tensor_int": lambda L: (L.tensor([0, 2]), 1),
    "slice_int_tensor": lambda L: (slice(1, None), L.tensor([0, 3])),
    "broadcast_tensors": lambda L: (L.tensor([[0], [2]]), L.tensor([1, 3])),
    "split_advanced": lambda L: (L.tensor([0, 1]), slice(None), L.tensor([1, 0])),
    "bool_mask": lambda L: (L.tensor([True, False, True]),),
    "new_axis": lambda L: (None, 1),
    "strided_slices": lambda L: (slice(None, None, 2), slice(1, 3)),
    "negative": lambda L: (-1, -2),
    "lists": lambda L: ([0, 2], [1, 1]),
    "0d_tensor": lambda L: (L.tensor(1),),
}
def _np_lib():
    class NumpyKeys:
        @staticmethod
        def tensor(v):
            return np.asarray(v)
    return NumpyKeys


def _selection_shape(key):
    return tuple(np.zeros((3, 4, 2))[key(_np_lib())].shape)


def _value(L, w, kind, shape):
    if kind == "scalar":
        return 5.0
    if kind == "tensor_0d":
        return w[0] * 3
    return w.sum() * L.ones(shape[-1:]) if shape else w[1]


def _eager(L, name, kind, grad):
    x = L.tensor(np.arange(24, dtype=np.float32).reshape(3, 4, 2), requires_grad=grad)
    w = L.tensor([7.0, 8.0], requires_grad=grad)
    y = x * 1 if grad else x.clone()
    y[KEYS[name](L)] = _value(L, w, kind, _selection_shape(KEYS[name]))
    out = [y.detach().numpy()]
    if grad:
        (y * y).sum().backward()
        out += [x.grad.numpy(), np.zeros(2) if w.grad is None else w.grad.numpy()]
    return out


CASES = [(n, k) for n in KEYS for k in ("scalar", "tensor_0d", "vector")]


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("name,kind", CASES)
def test_setitem_matches_pytorch(name, kind, grad):
    torch = pytest.importorskip("torch")
    for got, want in zip(_eager(gc, name, kind, grad), _eager(torch, name, kind, grad)):
        np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("name,kind", CASES)
def test_setitem_under_jit_matches_eager(name, kind):
    def step(x, w):
        y = x * 1
        y[KEYS[name](gc)] = _value(gc, w, kind, _selection_shape(KEYS[name]))
        return (y, *gc.grad((y * y).sum(), [x, w]))
    got = gc.jit(step, target="reference")(np.arange(24, dtype=np.float32).reshape(3, 4, 2),
                                           np.array([7.0, 8.0], np.float32))
    for g, w in zip(got, _eager(gc, name, kind, True)):
        np.testing.assert_allclose(np.asarray(g), w)
