"""Device buffers: allocation, transfers and device-side copies/fills.

A device tensor is a C-contiguous numba device array; views that are not plain reshapes are
materialized by a strided gather (see kernels_copy).
"""
from __future__ import annotations

import numpy as np

from .device import require


def empty(shape, dtype):
    return require().device_array(tuple(shape), np.dtype(dtype))


def to_device(host):
    host = np.asarray(host)
    if not host.flags.c_contiguous:
        host = host.copy()  # (np.ascontiguousarray would turn 0-d into 1-d)
    return require().to_device(host)


def to_host(dev):
    return np.asarray(dev.copy_to_host()).reshape(tuple(dev.shape))  # keeps 0-d shapes


def copy(dst, src):
    """Device-to-device copy of equal-sized contiguous arrays."""
    if dst.size:
        dst.copy_to_device(src)


def clone(src):
    out = empty(src.shape, src.dtype)
    copy(out, src)
    return out


def span(a):
    """(first, end) byte addresses of a contiguous device array (the simulator's arrays are
    host arrays, with the NumPy interface)."""
    interface = getattr(a, "__cuda_array_interface__", None) or a.__array_interface__
    start = interface["data"][0]
    return start, start + a.size * np.dtype(a.dtype).itemsize


def overlaps(a, spans):
    first, end = span(a)
    return any(first < e and f < end for f, e in spans)


def flat(a):
    """A 1-D view of a contiguous device array (a 0-d array becomes 1 element)."""
    return a.reshape(max(a.size, 1) if a.ndim == 0 else a.size)


def zeros(shape, dtype):
    from .kernels_copy import fill
    out = empty(shape, dtype)
    fill(out, 0)
    return out


def full(shape, dtype, value):
    from .kernels_copy import fill
    out = empty(shape, dtype)
    fill(out, value)
    return out
