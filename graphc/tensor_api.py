"""torch-level helpers about tensors and dtypes: FloatTensor ..., Size, finfo, iinfo,
get/set_default_dtype, is_tensor, is_floating_point, inference_mode."""
from __future__ import annotations

import numpy as np

from .eager.creation import empty, tensor
from .eager.grad_mode import set_grad_enabled
from .errors import UnsupportedError
from .types import DEFAULT_FLOAT, as_dtype, bool_, float32, float64, int32, int64, uint8


def _typed_tensor(dtype, name):
    def make(*args):
        """{name}(data) copies data as {dtype}; {name}(*sizes) is uninitialized (as PyTorch)."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            return tensor(args[0], dtype=dtype)
        return empty(*args, dtype=dtype)
    make.__name__ = name
    make.__doc__ = make.__doc__.format(name=name, dtype=dtype.name)
    return make


FloatTensor = _typed_tensor(float32, "FloatTensor")
DoubleTensor = _typed_tensor(float64, "DoubleTensor")
LongTensor = _typed_tensor(int64, "LongTensor")
IntTensor = _typed_tensor(int32, "IntTensor")
BoolTensor = _typed_tensor(bool_, "BoolTensor")
ByteTensor = _typed_tensor(uint8, "ByteTensor")


class Size(tuple):
    """A shape, as torch.Size: a tuple with numel()."""

    def numel(self):
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"graphc.Size({list(self)})"


class finfo:
    """Machine limits of a floating dtype (Python floats, as torch.finfo)."""

    def __init__(self, dtype=None):
        dt = as_dtype(dtype) if dtype is not None else DEFAULT_FLOAT
        info = np.finfo(dt.np)
        self.dtype, self.bits = dt, int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = float(info.resolution)

    def __repr__(self):
        return f"finfo(dtype={self.dtype.name}, eps={self.eps}, max={self.max}, min={self.min})"


class iinfo:
    def __init__(self, dtype):
        dt = as_dtype(dtype)
        info = np.iinfo(dt.np)
        self.dtype, self.bits, self.max, self.min = dt, int(info.bits), int(info.max), int(info.min)

    def __repr__(self):
        return f"iinfo(dtype={self.dtype.name}, min={self.min}, max={self.max})"


def get_default_dtype():
    return DEFAULT_FLOAT


def set_default_dtype(d):
    if as_dtype(d) is not DEFAULT_FLOAT:
        raise UnsupportedError(f"set_default_dtype: only {DEFAULT_FLOAT.name} is supported as the "
                               f"default dtype, got {as_dtype(d).name}; pass dtype= explicitly")


def is_tensor(obj):
    from .eager.tensor import Tensor
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


class inference_mode(set_grad_enabled):
    """As torch.inference_mode: no tape is recorded (context manager or decorator)."""

    def __init__(self, mode=True):
        super().__init__(not mode)


__all__ = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor",
           "Size", "finfo", "iinfo", "get_default_dtype", "set_default_dtype", "is_tensor",
           "is_floating_point", "inference_mode"]
