"""CUDA storage: device arrays (runtime.cuda) and the op kernels that run on them.

0-d CPU arrays and numbers mix with CUDA arrays (as scalars, like PyTorch); any other mix is
an error naming the op and the devices.
"""
from __future__ import annotations

import numpy as np

from runtime.cuda import CudaUnavailable, is_device_array, memory, require

from ..errors import op_error
from ..types import DType, TensorType, format_shape
from . import cuda_ops


class DeviceMismatchError(RuntimeError):
    """Tensors on different devices were given to one op."""


def on_device(arr) -> bool:
    return type(arr) is not np.ndarray


def to_device(arr, device="cuda"):
    if on_device(arr):
        return arr
    try:
        require()
    except CudaUnavailable as e:
        raise CudaUnavailable(f"cannot move a tensor to {str(device)!r}: {e}") from None
    return memory.to_device(arr)


def to_host(arr):
    return memory.to_host(arr) if on_device(arr) else arr


def run(op, arrays, attrs, out_types):
    """`op` on CUDA arrays (0-d host arrays as scalars): a list of device arrays."""
    for data in arrays:
        if not on_device(data) and data.ndim and op not in cuda_ops.HOST_OPS:
            raise _mismatch(op, arrays)  # (CPU index arrays are fine)
    try:
        return cuda_ops.run(op, list(arrays), attrs, out_types)
    except (IndexError, ValueError, FloatingPointError) as e:
        raise op_error(type(e), op.name, str(e)) from None


def _mismatch(op, arrays):
    where = ", ".join(f"{'cuda' if on_device(a) else 'cpu'} {format_shape(tuple(a.shape))}"
                      for a in arrays)
    return op_error(DeviceMismatchError, op.name,
                    f"expected all tensors on the same device, got: {where}. Move them with "
                    f".to('cuda') or .cpu() (0-d CPU tensors and numbers may mix).")


def shares_storage(op, shapes, attrs, out_shape):
    """Whether a view op's CUDA result is its input's storage (else a copy)."""
    return cuda_ops.shares_storage(op, shapes, attrs, out_shape)


def _type_of(arr):
    return TensorType(tuple(arr.shape), DType._by_np[np.dtype(arr.dtype)])


def add_into(dst, src):
    """dst += src on the device."""
    from ..ops.elementwise import add
    summed = cuda_ops.run(add, [dst, src], {}, [_type_of(dst)])[0]
    memory.copy(dst, summed)


def clone(arr):
    return memory.clone(arr)


def write(dst, value):
    """Write value (device or host array, or a number; broadcast, cast) into dst."""
    data = value
    if not is_device_array(data):
        data = np.asarray(data)  # (a number)
    if on_device(data) and tuple(data.shape) == tuple(dst.shape):
        if np.dtype(data.dtype) != np.dtype(dst.dtype):
            from ..ops.elementwise import cast
            data = cuda_ops.run(cast, [data], {"dtype": DType._by_np[np.dtype(dst.dtype)]},
                                [_type_of(dst)])[0]
        memory.copy(dst, data)
        return
    if not on_device(data) and np.ndim(data) == 0:
        from runtime.cuda.kernels_copy import fill
        fill(dst, np.asarray(data).astype(dst.dtype)[()])
        return
    host = np.broadcast_to(np.asarray(to_host(data), dst.dtype), tuple(dst.shape))
    memory.copy(dst, memory.to_device(host))


def ones_like(arr):
    return memory.full(tuple(arr.shape), arr.dtype, 1)
