"""Copies: 2-D transpose (blocked) and a general strided copy (permute, slice, broadcast).

Calling convention: preallocated C-contiguous outputs; strides and offsets are in elements.
"""
from __future__ import annotations

from ._jit import kernel

BLOCK = 32


@kernel
def transpose2d(x, out):
    """transpose2d(x[M,N], out[N,M]): blocked, so both sides stay in cache"""
    M, N = x.shape
    for i0 in range(0, M, BLOCK):
        for j0 in range(0, N, BLOCK):
            for i in range(i0, min(i0 + BLOCK, M)):
                src = x[i]
                for j in range(j0, min(j0 + BLOCK, N)):
                    out[j, i] = src[j]


@kernel
def strided_copy(src, offset, shape, strides, out):
    """strided_copy(src[flat], offset, shape[d] int64, strides[d] int64 (elements, 0 broadcasts), out[flat]): out in C order = src[offset + sum(index * strides)]"""
    d = shape.shape[0]
    total = out.shape[0]
    if total == 0:
        return
    if d == 0:
        out[0] = src[offset]
        return
    index = shape * 0
    last, step = shape[d - 1], strides[d - 1]
    base = offset
    for start in range(0, total, last):
        dst = out[start:start + last]
        for j in range(last):
            dst[j] = src[base + j * step]
        # advance the odometer over all but the last dim
        k = d - 2
        while k >= 0:
            index[k] += 1
            base += strides[k]
            if index[k] < shape[k]:
                break
            base -= strides[k] * shape[k]
            index[k] = 0
            k -= 1
