"""Matrix products: BLAS where it wins, plain loops for tiny products and integers.

Skinny shapes (K or N of 2 or 3 with many rows) are fast only with sizes known when the loop
is compiled (NUMBA_NOTES: 33 us with literal sizes, 230 us generic, 40 us BLAS for 40401x2 @
2x3): generic library loops cannot know them, so they go to BLAS here, and code generators
that know the shapes emit their own loops.

Calling convention: C-contiguous arrays of one dtype, preallocated output. `matmul` and
`batched_matmul` take float32/float64 (BLAS); `matmul_loops` takes any numeric dtype.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel

TINY = 4096  # multiply-adds below which loops beat the overhead of a BLAS call


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
    """matmul(a[M,K], b[K,N], out[M,N]), float32/float64: BLAS, or loops for tiny products"""
    if a.shape[0] * a.shape[1] * b.shape[1] <= TINY:
        matmul_loops(a, b, out)
    else:
        np.dot(a, b, out)


@kernel
def batched_matmul(a, b, out):
    """batched_matmul(a[Ba,M,K], b[Bb,K,N], out[B,M,N]), float32/float64; Ba, Bb are B or 1 (broadcast)"""
    for i in range(out.shape[0]):
        matmul(a[i if a.shape[0] > 1 else 0], b[i if b.shape[0] > 1 else 0], out[i])
