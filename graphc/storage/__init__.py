"""Where eager tensors' elements live: one implementation per device, below eager and dispatch.

An eager Tensor's `_data` is its storage: a NumPy array on the CPU (storage/cpu.py), a
device array on CUDA (storage/cuda.py, over runtime.cuda and the CUDA kernel table
storage/cuda_ops.py). Eager code (tensors, autograd, in-place writes, dispatch) asks this
package for whatever depends on the device: running an op, copying, filling, adding in
place, moving between devices. Both implementations have the same functions, take and return
arrays, and know nothing of tensors or autograd; compile targets (graphc/backends) sit above
and may use them, never the reverse. The CUDA implementation is imported the first time a
CUDA array exists or is asked for, so `import graphc` does not import numba.cuda.
"""
from __future__ import annotations

import numpy as np

from . import cpu


def cuda_impl():
    """The CUDA implementation, storage.cuda (imported on first use: it needs numba-cuda;
    a function named `cuda` would be replaced by the submodule once it is imported)."""
    from . import cuda as impl
    return impl


def of(arr):
    """The implementation holding `arr`: storage.cpu for NumPy arrays, else storage.cuda."""
    return cpu if type(arr) is np.ndarray else cuda_impl()


def on_host(arr) -> bool:
    return type(arr) is np.ndarray


def device_type(arr) -> str:
    return "cpu" if type(arr) is np.ndarray else "cuda"


def move(arr, device):
    """arr on `device` ("cpu", "cuda", "cuda:0" or a Device): the same object if it is
    there already. Moving to CUDA raises CudaUnavailable (saying why) without a GPU."""
    from ..device import Device
    if Device(device).type == "cpu":
        return arr if type(arr) is np.ndarray else cuda_impl().to_host(arr)
    return cuda_impl().to_device(arr, device)


def clone(arr):
    return of(arr).clone(arr)


def write(dst, value):
    """Copy `value` (an array on either device, or a number; broadcast, cast) into dst."""
    of(dst).write(dst, value)


def add_into(dst, src):
    """dst += src, in place (same shape and dtype)."""
    of(dst).add_into(dst, src)


def ones_like(arr):
    return of(arr).ones_like(arr)
