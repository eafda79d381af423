"""Matrix factorizations over a batch of matrices (LAPACK through Numba's np.linalg).

The ops det, slogdet, cholesky, eigh, svdvals, svd, qr and pinv of graphc/ops. Inputs are
contiguous (batch, m, n) float32/float64 arrays, outputs preallocated with the ops' shapes
viewed with one leading batch dim. Numba's np.linalg needs SciPy's LAPACK.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def det_batched(x, out):
    """det_batched(x[b,n,n], out[b])"""
    for i in range(x.shape[0]):
        out[i] = np.linalg.det(x[i])


@kernel
def slogdet_batched(x, sign, logabs):
    """slogdet_batched(x[b,n,n], sign[b], logabs[b])"""
    for i in range(x.shape[0]):
        s, v = np.linalg.slogdet(x[i])
        sign[i] = s
        logabs[i] = v


@kernel
def cholesky_batched(x, out):
    """cholesky_batched(x[b,n,n], out[b,n,n]): lower factors (raises if not positive-definite)"""
    for i in range(x.shape[0]):
        out[i] = np.linalg.cholesky(x[i])


@kernel
def eigh_batched(x, w, v):
    """eigh_batched(x[b,n,n], w[b,n], v[b,n,n]): lower triangle read, eigenvalues ascending"""
    for i in range(x.shape[0]):
        vals, vecs = np.linalg.eigh(x[i])
        w[i] = vals
        v[i] = vecs


@kernel
def svd_batched(x, u, s, vh, full_matrices):
    """svd_batched(x[b,m,n], u[b,m,k'], s[b,k], vh[b,k'',n], full_matrices int)"""
    for i in range(x.shape[0]):
        a, b, c = np.linalg.svd(x[i], full_matrices=full_matrices != 0)
        u[i] = a
        s[i] = b
        vh[i] = c


@kernel
def svdvals_batched(x, s):
    """svdvals_batched(x[b,m,n], s[b,k])"""
    for i in range(x.shape[0]):
        s[i] = np.linalg.svd(x[i], full_matrices=False)[1]


@kernel
def qr_batched(x, q, r):
    """qr_batched(x[b,m,n], q[b,m,k], r[b,k,n]): reduced factors"""
    for i in range(x.shape[0]):
        a, b = np.linalg.qr(x[i])
        q[i] = a
        r[i] = b


@kernel
def pinv_batched(x, out, rcond):
    """pinv_batched(x[b,m,n], out[b,n,m], rcond float)"""
    for i in range(x.shape[0]):
        out[i] = np.linalg.pinv(x[i], rcond)
