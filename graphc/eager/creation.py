"""Tensor factories with PyTorch's names: tensor, zeros, ones, arange, rand, ..."""
from __future__ import annotations

import numpy as np

from .. import storage
from ..device import Device, default_device
from ..types import DEFAULT_FLOAT, as_dtype, int64
from .random import generator
from .tensor import Tensor, _to_array


def _finish(arr, requires_grad=False, device=None):
    if device is None:
        device = default_device()  # torch.set_default_device / `with graphc.device(...)`
    if device is not None and Device(device).type != "cpu":
        arr = storage.move(arr, device)  # raises if CUDA is not available
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _float(dtype):
    return (DEFAULT_FLOAT if dtype is None else as_dtype(dtype)).np


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (floats default to float32, ints to int64)."""
    arr = _to_array(data, dtype)
    if arr is getattr(data, "_data", None) or isinstance(data, np.ndarray):
        arr = arr.copy()
    return _finish(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype) is data.dtype):
        return data
    return _finish(_to_array(data, dtype), False, device)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array, as_dtype(array.dtype))


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.zeros(_shape(size), _float(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.ones(_shape(size), _float(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.empty(_shape(size), _float(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _to_array(fill_value).dtype
    return _finish(np.full(_shape((size,)), fill_value, as_dtype(dtype).np), requires_grad, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_float(dtype)), requires_grad, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    values = (start, end, step)
    if dtype is None:
        dtype = DEFAULT_FLOAT if any(isinstance(v, float) for v in values) else int64
    return _finish(np.arange(start, end, step, dtype=as_dtype(dtype).np), requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad, device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    arr = _rng(generator).random(_shape(size)).astype(_float(dtype))
    return _finish(arr, requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    arr = _rng(generator).standard_normal(_shape(size)).astype(_float(dtype))
    return _finish(arr, requires_grad, device)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """randint(high, size) or randint(low, high, size), as torch.randint (size is required)."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing 1 required positional argument: 'size'")
    if requires_grad:
        raise RuntimeError("Only Tensors of floating point dtype can require gradients")
    arr = _rng(generator).integers(low, high, _shape((size,)))
    return _finish(arr.astype((int64 if dtype is None else as_dtype(dtype)).np), False, device)


def randperm(n, generator=None, dtype=None, device=None):
    arr = _rng(generator).permutation(n)
    return _finish(arr.astype((int64 if dtype is None else as_dtype(dtype)).np), False, device)


def _rng(gen):
    return generator(gen).numpy


def _like(fn, input, dtype, requires_grad, device=None):
    dt = input.dtype if dtype is None else as_dtype(dtype)
    device = input.device if device is None else device  # not the default device: torch's
    return fn(*input.shape, dtype=dt, requires_grad=requires_grad, device=device)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(empty, input, dtype, requires_grad, device)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return _like(rand, input, dtype, requires_grad, device)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return _like(randn, input, dtype, requires_grad, device)
