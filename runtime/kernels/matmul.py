"""Matrix products: BLAS where it wins, plain loops for small or skinny shapes and integers.

Calling convention: C-contiguous arrays of one dtype, preallocated output. `matmul` and
`batched_matmul` take float32/float64 (BLAS); `matmul_loops` takes any numeric dtype.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel

SMALL = 8  # an inner (K) or output (N) dim this small: loops beat a BLAS call's overhead


@kernel
def matmul_loops(a, b, out):
    """matmul_loops(a[M,K], b[K,N], out[M,N]), any numeric dtype: i-k-j loops (out rows stream)"""
    M, K = a.shape
    N = b.shape[1]
    for i in range(M):
        row = out[i]
        for j in range(N):
            row[j] = 0
        for k in range(K):
            aik = a[i, k]
            brow = b[k]
            for j in range(N):
                row[j] += aik * brow[j]


@kernel
def matmul(a, b, out):
    """matmul(a[M,K], b[K,N], out[M,N]), float32/float64: loops when K or N <= 8, else BLAS"""
    if a.shape[1] <= SMALL or b.shape[1] <= SMALL:
        matmul_loops(a, b, out)
    else:
        np.dot(a, b, out)


@kernel
def batched_matmul(a, b, out):
    """batched_matmul(a[Ba,M,K], b[Bb,K,N], out[B,M,N]), float32/float64; Ba, Bb are B or 1 (broadcast)"""
    for i in range(out.shape[0]):
        matmul(a[i if a.shape[0] > 1 else 0], b[i if b.shape[0] > 1 else 0], out[i])
