"""Dtypes, tensor types (shape + dtype), broadcasting and type promotion.

Promotion follows PyTorch: categories bool < integer < floating; a Python scalar is
"weak" and only decides the category (an int tensor times 2.5 is float32, the default
float dtype), never the width.
"""
from __future__ import annotations

import numpy as np


class DType:
    """A graphc dtype: a thin, interned wrapper around a NumPy dtype with a readable repr."""

    _by_name: dict[str, "DType"] = {}
    _by_np: dict = {}  # np.dtype -> DType (a dict lookup: np.dtype.name is slow)

    def __init__(self, name: str, short: str):
        self.name = name
        self.short = short  # used when printing IR: f32[3, 4]
        self.np = np.dtype(name)
        DType._by_name[name] = self
        DType._by_np[self.np] = self

    @property
    def is_floating_point(self) -> bool:
        return self.np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self.np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self.np.kind == "b"

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    @property
    def category(self) -> int:
        return 0 if self.is_bool else 1 if self.is_integer else 2

    def __repr__(self) -> str:
        return f"graphc.{self.name}"

    def __reduce__(self):  # copy/deepcopy keep the singleton
        return (as_dtype, (self.name,))


bool_ = DType("bool", "bool")
uint8 = DType("uint8", "u8")
int8 = DType("int8", "i8")
int16 = DType("int16", "i16")
int32 = DType("int32", "i32")
int64 = DType("int64", "i64")
float16 = DType("float16", "f16")
float32 = DType("float32", "f32")
float64 = DType("float64", "f64")

DEFAULT_FLOAT = float32
DEFAULT_INT = int64

_ALIASES = {"float": float32, "double": float64, "long": int64, "int": int32, "half": float16,
            "bool": bool_, bool: bool_, int: int64, float: float32}


def as_dtype(x) -> DType:
    """Convert a DType, NumPy dtype, string or Python type to a graphc DType."""
    if isinstance(x, DType):
        return x
    try:
        if x in _ALIASES:
            return _ALIASES[x]
    except TypeError:
        pass
    try:
        name = np.dtype(x).name
    except TypeError:
        raise TypeError(f"not a dtype: {x!r}") from None
    if name not in DType._by_name:
        raise TypeError(f"unsupported dtype {name!r}; supported: {', '.join(DType._by_name)}")
    return DType._by_name[name]


class TensorType:
    """Shape and dtype of a value. A dim is an int, or None / a str name when symbolic."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = as_dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_concrete(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    def numel(self):
        n = 1
        for d in self.shape:
            if not isinstance(d, int):
                return None
            n *= d
        return n

    def __eq__(self, other):
        return isinstance(other, TensorType) and self.shape == other.shape and self.dtype is other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype.name))

    def __repr__(self):
        return f"{self.dtype.short}{format_shape(self.shape)}"


def format_shape(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def is_static_dim(d) -> bool:
    return isinstance(d, int)


def broadcast_dim(a, b):
    """Broadcast two dims; raises ValueError if two concrete dims disagree."""
    if a == 1:
        return b
    if b == 1 or a == b:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise ValueError
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return None


def broadcast_shapes(*shapes):
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        padded = (1,) * (ndim - len(s)) + tuple(s)
        for i, d in enumerate(padded):
            try:
                out[i] = broadcast_dim(out[i], d)
            except ValueError:
                raise ValueError(
                    "shapes " + " and ".join(format_shape(x) for x in shapes) + " cannot be broadcast"
                ) from None
    return tuple(out)


def promote_types(dtypes, weak=None):
    """Result dtype of combining values; `weak[i]` marks Python scalars (PyTorch semantics)."""
    weak = weak or [False] * len(dtypes)
    strong = [d for d, w in zip(dtypes, weak) if not w]
    result = None
    for d in strong:
        if result is None or d is result:
            result = d
        elif d.category != result.category:
            result = d if d.category > result.category else result
        else:
            result = as_dtype(np.promote_types(result.np, d.np))
    for d, w in zip(dtypes, weak):
        if w and (result is None or d.category > result.category):
            result = {0: bool_, 1: DEFAULT_INT, 2: DEFAULT_FLOAT}[d.category]
    return result


def scalar_dtype(value) -> DType:
    """The (weak) dtype of a Python scalar."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return float64
    raise TypeError(f"expected a number, got {type(value).__name__}")
