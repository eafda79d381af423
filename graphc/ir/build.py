"""Making leaves of static graphs: placeholders, constants and variables."""
from __future__ import annotations

import numpy as np

from ..errors import user_location
from ..ops import leaves
from ..types import DEFAULT_FLOAT, TensorType, as_dtype
from .graph import Node


def placeholder(shape, dtype=DEFAULT_FLOAT, name=None):
    """A graph input fed at each call. A dim that is None (or a str name) is symbolic:
    the executable is specialized to the concrete size of each call."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for d in shape:
        if not (d is None or isinstance(d, str) or (isinstance(d, (int, np.integer)) and d >= 0)):
            raise ValueError(f"placeholder: invalid dim {d!r} in shape {shape}; use a "
                             f"non-negative int, None or a str name for symbolic dims")
    shape = tuple(int(d) if isinstance(d, (int, np.integer)) else d for d in shape)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"placeholder: name must be a str, got {type(name).__name__}")
    type_ = TensorType(shape, as_dtype(dtype))
    node = Node(leaves.placeholder, (), {"name": name, "type": type_}, [type_], user_location(),
                [name])
    return node.outputs[0]


def variable(value, name=None, dtype=None):
    """A persistent variable initialized from `value`: its eager tensor is returned with the
    symbolic value (`var.tensor`); compiled updates write into the same storage."""
    from ..dispatch import variable_of
    from ..eager.creation import tensor
    t = tensor(value, dtype=dtype)
    t._persistent = True
    t.name = name
    v = variable_of(t)
    return v
