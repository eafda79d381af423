"""Parameter: an eager tensor that a Module registers as trainable state."""
from __future__ import annotations

import numpy as np

from .. import serialization
from ..eager.tensor import Tensor, _to_array


class Parameter(Tensor):
    """A tensor that owns its storage and requires grad by default.

    Used with symbolic values it becomes a `variable` node bound to the same storage (see
    graphc.dispatch.variable_of), so eager steps and compiled steps train the same numbers.
    """

    def __new__(cls, data=None, requires_grad=True):
        return super().__new__(cls)

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.empty((0,), np.float32)
        elif isinstance(data, Tensor):
            arr = data._data  # share storage, as torch.nn.Parameter does
        else:
            arr = _to_array(data)
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Parameter):
    """torch.nn.Buffer: assigned as a module attribute, it registers a buffer (persistent or
    not) instead of a parameter; the module keeps a plain tensor with its storage."""

    def __new__(cls, data=None, *, persistent=True):
        return Tensor.__new__(cls)

    def __init__(self, data=None, *, persistent=True):
        super().__init__(data, requires_grad=False)
        self.__dict__["persistent"] = persistent


serialization.TENSOR_CLASSES["parameter"] = Parameter  # graphc.save's "parameter" entries


def mark_buffer(t: Tensor, name=None) -> Tensor:
    """Make `t` persistent state: a graph variable bound to its storage (BatchNorm statistics,
    optimizer moments), so that compiled steps can read and update it."""
    t._persistent = True
    if name is not None and t._variable is None:
        t.name = name
    return t
