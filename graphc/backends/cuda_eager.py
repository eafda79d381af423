"""Eager tensors on the GPU: moving data between devices and running ops on CUDA tensors.

A CUDA tensor is an ordinary Tensor whose `_data` is a device array; dispatch sends an op
here when any input is one. 0-d CPU tensors and Python numbers mix with CUDA tensors (as
scalars, like PyTorch); any other mix is an error naming the op and the devices.
"""
from __future__ import annotations

import numpy as np

from runtime.cuda import CudaUnavailable, is_device_array, memory, require

from ..device import Device
from ..errors import op_error
from ..types import format_shape
from . import cuda_ops


class DeviceMismatchError(RuntimeError):
    """Tensors on different devices were given to one op."""


def on_device(arr) -> bool:
    return type(arr) is not np.ndarray


def move_array(arr, device):
    """arr (host or device array) on `device` ("cpu" or "cuda"): the same object if it is."""
    target = Device(device).type
    if target == "cpu":
        return memory.to_host(arr) if on_device(arr) else arr
    if on_device(arr):
        return arr
    try:
        require()
    except CudaUnavailable as e:
        raise CudaUnavailable(f"cannot move a tensor to {device!r}: {e}") from None
    return memory.to_device(arr)


def move(t, device):
    """Tensor.to(device): a new tensor on `device` (the same tensor if already there);
    differentiable, as in PyTorch: the gradient flows back to the source device."""
    from ..eager.grad_mode import is_grad_enabled
    from ..eager.tensor import Tensor
    arr = move_array(t._data, device)
    if arr is t._data:
        return t
    out = Tensor._wrap(arr)
    if t.requires_grad and is_grad_enabled():
        from ..eager.autograd import TapeEntry
        out.grad_fn, out._requires_grad = TapeEntry(to_device_op, [t], [out],
                                                    {"device": Device(device).type}), True
    return out


def host_copy(arr):
    return memory.to_host(arr) if on_device(arr) else arr


def run_on_device(op, inputs, attrs, out_types):
    """Run `op` on CUDA tensors: a list of output Tensors."""
    from ..eager.tensor import Tensor
    args = []
    for i, x in enumerate(inputs):
        data = x._data
        if not on_device(data):
            if data.ndim and op.name not in cuda_ops.HOST_OPS:  # (CPU index arrays are fine)
                raise _mismatch(op, inputs)
        args.append(data)
    try:
        results = cuda_ops.run(op, args, attrs, out_types)
    except (IndexError, ValueError, FloatingPointError) as e:
        raise op_error(type(e), op.name, str(e)) from None
    return [Tensor._wrap(r) for r in results]


def _mismatch(op, inputs):
    where = ", ".join(f"{'cuda' if on_device(x._data) else 'cpu'} {format_shape(x.shape)}"
                      for x in inputs)
    return op_error(DeviceMismatchError, op.name,
                    f"expected all tensors on the same device, got: {where}. Move them with "
                    f".to('cuda') or .cpu() (0-d CPU tensors and numbers may mix).")


def accumulate(dst, g):
    """dst.grad += g for a CUDA gradient (in place on the device)."""
    summed = cuda_ops.run(_add_op(), [dst._data, g._data], {}, [_type_of(dst)])[0]
    memory.copy(dst._data, summed)


def owned_copy(t):
    from ..eager.tensor import Tensor
    return Tensor._wrap(memory.clone(t._data))


def write(t, value):
    """Write value (tensor, array or number; broadcast) into a CUDA tensor's storage."""
    data = value._data if hasattr(value, "_data") else value
    if not is_device_array(data):
        data = np.asarray(data)  # (a number)
    if on_device(data) and tuple(data.shape) == tuple(t.shape):
        if np.dtype(data.dtype) != np.dtype(t._data.dtype):
            from ..ops.elementwise import cast
            data = cuda_ops.run(cast, [data], {"dtype": t.dtype}, [_type_of(t)])[0]
        memory.copy(t._data, data)
        return
    if not on_device(data) and np.ndim(data) == 0:
        from runtime.cuda.kernels_copy import fill
        fill(t._data, np.asarray(data).astype(t._data.dtype)[()])
        return
    host = np.broadcast_to(np.asarray(host_copy(data), t._data.dtype), t.shape)
    memory.copy(t._data, memory.to_device(host))


def _type_of(t):
    from ..types import TensorType
    return TensorType(tuple(t.shape), t.dtype)


def _add_op():
    from ..ops.elementwise import add
    return add


def ones(t):
    from ..eager.tensor import Tensor
    return Tensor._wrap(memory.full(t.shape, t._data.dtype, 1))


class _ToDevice:
    """The tape entry's op for Tensor.to(device) (eager only, so not a registry op): its
    gradient moves the cotangent back to the source device."""
    name = "to_device"
    saves = ()
    num_outputs = 1

    @staticmethod
    def vjp(ctx, g):
        return [g.to("cuda" if on_device(ctx.inputs[0]._data) else "cpu")]


to_device_op = _ToDevice()
