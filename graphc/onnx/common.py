"""What export and import share: the onnx package (imported lazily), dtype tables, errors."""
from __future__ import annotations

import numpy as np

from .. import types as T
from ..errors import GraphcError, UnsupportedError


class OnnxError(GraphcError, ValueError):
    """An ONNX file or model that graphc cannot read or that fails onnx.checker."""


class StaticInputNeeded(UnsupportedError):
    """An op needs the value of an input at load time (a shape, axes, pads ...), but the
    input is a graph input fed per call. Bind it with `load(..., constants={name: array})`."""

    def __init__(self, message, input_name):
        super().__init__(message)
        self.input_name = input_name


def onnx_module():
    """The `onnx` package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("graphc.onnx needs the 'onnx' package: pip install 'graphc[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


# ONNX TensorProto.DataType numbers <-> graphc dtypes (the ones graphc has)
ONNX_TO_DTYPE = {1: T.float32, 2: T.uint8, 3: T.int8, 5: T.int16, 6: T.int32, 7: T.int64,
                 9: T.bool_, 10: T.float16, 11: T.float64}
DTYPE_TO_ONNX = {d: code for code, d in ONNX_TO_DTYPE.items()}


def dtype_from_onnx(code: int, where: str):
    try:
        return ONNX_TO_DTYPE[code]
    except KeyError:
        name = onnx_module().TensorProto.DataType.Name(code) if code else "UNDEFINED"
        raise UnsupportedError(f"{where}: ONNX dtype {name} has no graphc dtype (graphc has "
                               f"{', '.join(d.name for d in DTYPE_TO_ONNX)})") from None


def onnx_dtype(dtype) -> int:
    return DTYPE_TO_ONNX[T.as_dtype(dtype)]


def to_array(tensor_proto) -> np.ndarray:
    from onnx import numpy_helper
    return numpy_helper.to_array(tensor_proto)
