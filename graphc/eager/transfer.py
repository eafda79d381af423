"""Tensor.to(device): a copy on another device, differentiable as in PyTorch (the gradient
flows back to the source device). The copying itself is the storage layer's."""
from __future__ import annotations

from .. import storage
from ..device import Device
from .tape import TapeEntry
from .grad_mode import is_grad_enabled
from .tensor import Tensor


def move(t, device):
    """A new tensor on `device` (t itself if it is there already)."""
    arr = storage.move(t._data, device)
    if arr is t._data:
        return t
    out = Tensor._wrap(arr)
    if t.requires_grad and is_grad_enabled():
        out.grad_fn, out._requires_grad = TapeEntry(to_device_op, [t], [out],
                                                    {"device": Device(device).type}), True
    return out


class _ToDevice:
    """The tape entry's op for Tensor.to(device) (eager only, so not a registry op): its
    gradient moves the cotangent back to the source device."""
    name = "to_device"
    saves = ()
    num_outputs = 1

    @staticmethod
    def vjp(ctx, g):
        return [g.to(storage.device_type(ctx.inputs[0]._data))]


to_device_op = _ToDevice()
