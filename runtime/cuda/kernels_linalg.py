"""Tiled shared-memory matrix product, batched: c[z] = a[z * sa] @ b[z * sb].

Batch strides of 0 broadcast one operand over the batch (x @ W in a batched input).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import cuda, from_dtype

from . import launch
from .memory import flat


@lru_cache(maxsize=None)
def _matmul_kernel(dtype, tile):
    dt = from_dtype(np.dtype(dtype))
    zero = dt(0)

    @cuda.jit
    def kernel(a, b, c, M, N, K, sa, sb):
        ta = cuda.shared.array((tile, tile), dt)
        tb = cuda.shared.array((tile, tile), dt)
        tx, ty, z = cuda.threadIdx.x, cuda.threadIdx.y, cuda.blockIdx.z
        row = cuda.blockIdx.y * tile + ty
        col = cuda.blockIdx.x * tile + tx
        abase, bbase = z * sa, z * sb
        acc = zero
        for k0 in range(0, K, tile):
            ka, kb = k0 + tx, k0 + ty
            ta[ty, tx] = a[abase + row * K + ka] if row < M and ka < K else zero
            tb[ty, tx] = b[bbase + kb * N + col] if kb < K and col < N else zero
            cuda.syncthreads()
            for kk in range(tile):
                acc += ta[ty, kk] * tb[kk, tx]
            cuda.syncthreads()
        if row < M and col < N:
            c[z * M * N + row * N + col] = acc
    return kernel


def matmul(a, b, c, batch, M, N, K, sa, sb):
    """c (batch, M, N) = a (., M, K) @ b (., K, N); sa/sb: element offsets between batches."""
    if not (batch and M and N):
        return c
    if K == 0:
        from .kernels_copy import fill
        return fill(c, 0)
    t = launch.tile()
    grid = (-(-N // t), -(-M // t), batch)
    _matmul_kernel(np.dtype(c.dtype), t)[grid, (t, t)](flat(a), flat(b), flat(c), M, N, K,
                                                        sa, sb)
    return c
