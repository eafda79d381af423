"""Fill and strided copies: every view op (permute, broadcast, slice, pad, cat) is one of these.

Geometry (shape, element strides, offset) is passed as tuples, so one compiled kernel per
rank and dtype serves every size. Rank-0 problems are given as rank 1 of size 1.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from . import launch
from ._jit import library_kernel
from .memory import flat

@library_kernel
def fill_kernel(out, value, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = value

@cuda.jit(device=True)
def _strided_at(i, shape, strides, offset):
    """offset + sum(index_d * strides_d), index = unravel(i, shape)."""
    rem = i
    at = offset
    for d in range(len(shape) - 1, -1, -1):
        at += (rem % shape[d]) * strides[d]
        rem //= shape[d]
    return at


@library_kernel
def gather_kernel(out, src, shape, strides, offset, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = src[_strided_at(i, shape, strides, offset)]


@library_kernel
def scatter_kernel(dst, src, shape, strides, offset, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        dst[_strided_at(i, shape, strides, offset)] = src[i]

def _geometry(shape, strides):
    shape, strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
    return (shape, strides) if shape else ((1,), (0,))

def fill(out, value):
    n = out.size
    if n:
        blocks, threads = launch.grid_1d(n)
        fill_kernel[blocks, threads](flat(out), np.dtype(out.dtype).type(value), n)
    return out

def gather(out, src, strides, offset=0):
    """out (contiguous) <- src viewed with element `strides` and `offset` in out's shape."""
    n = out.size
    if n:
        shape, strides = _geometry(out.shape, strides)
        blocks, threads = launch.grid_1d(n)
        gather_kernel[blocks, threads](flat(out), flat(src), shape, strides, int(offset), n)
    return out

def scatter(dst, src, strides, offset=0):
    """dst viewed with element `strides` and `offset` in src's shape <- src (contiguous)."""
    n = src.size
    if n:
        shape, strides = _geometry(src.shape, strides)
        blocks, threads = launch.grid_1d(n)
        scatter_kernel[blocks, threads](flat(dst), flat(src), shape, strides, int(offset), n)
    return dst


@library_kernel
def _scale_kernel(out, factor, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = out[i] * factor


def scale_inplace(out, factor):
    n = out.size
    if n:
        blocks, threads = launch.grid_1d(n)
        _scale_kernel[blocks, threads](flat(out), factor, n)
    return out
