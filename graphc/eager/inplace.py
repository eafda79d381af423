"""x[key] = value on eager tensors, with PyTorch's autograd rules for in-place writes."""
from __future__ import annotations

import builtins

import numpy as np

from ..errors import UnsupportedError
from .grad_mode import is_grad_enabled
from .tensor import Tensor


def _numpy_key(key):
    if isinstance(key, tuple):
        return tuple(_numpy_key(k) for k in key)
    return key._data if isinstance(key, Tensor) else key


def _basic_index(key):
    """The op-level index entries of a basic key, or None if the key is not basic."""
    key = key if isinstance(key, tuple) else (key,)
    out = []
    for k in key:
        if isinstance(k, builtins.slice):
            out.append(("slice", k.start, k.stop, k.step))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            out.append(("int", int(k)))
        elif k is None:
            out.append(("new",))
        else:
            return None
    return tuple(out)


def setitem(t: Tensor, key, value):
    t._check_inplace()
    value_requires_grad = isinstance(value, Tensor) and value.requires_grad
    if not (is_grad_enabled() and (t.requires_grad or value_requires_grad)):
        t._data[_numpy_key(key)] = value._data if isinstance(value, Tensor) else value
        t._bump()
        return
    from .. import functional as F
    from ..ops.shape import index_put

    # autograd sees the out-of-place form; `old` takes over t's place in the tape
    old = Tensor._wrap(t._data)
    old._vc, old.grad_fn, old._requires_grad = t._vc, t.grad_fn, t._requires_grad
    if t.grad_fn is not None:
        t.grad_fn.outputs = tuple(old if o is t else o for o in t.grad_fn.outputs)
    index = _basic_index(key)
    mask = key if isinstance(key, Tensor) and key.dtype.is_bool else None
    if index is not None:
        new = index_put(old, value, index=index)
    elif mask is not None:
        new = F.where(mask, value, old)
    else:
        raise UnsupportedError("x[key] = value with gradients needs a basic index (ints, "
                               "slices) or a boolean mask")
    np.copyto(t._data, new._data)
    t._bump()
    entry = new.grad_fn
    entry.outputs = (t,)
    entry.record_versions()
    t.grad_fn, t._requires_grad = entry, True
