"""`graphc.linalg`: torch.linalg's names (norms, inv, solve, det, cholesky, eigh, svd, ...).

Norms, solve, lstsq, matrix_rank and solve_triangular are composites; det, slogdet and the
factorizations are primitives (graphc/ops/linalg.py, graphc/ops/decompositions.py: LAPACK
through NumPy in their references) with PyTorch's gradients where graphc has them (qr and
svd's U/Vh raise UnsupportedError when differentiated). The cpu target does not compile the
primitives yet (UnsupportedError at compile time).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from . import products
from .errors import UnsupportedError
from .functional import matmul
from .ops import decompositions as D, elementwise as E, linalg as L, reduce as R, shape as S
from .products import multi_dot  # noqa: F401  (torch.linalg.multi_dot)
from .reductions import vector_norm  # noqa: F401  (torch.linalg.vector_norm)
from .ops import scans as SC
from .types import int64

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])


def matrix_power(A, n):
    if n < 0:
        A, n = L.inverse(A), -n
    if n == 0:
        from .eager.creation import eye
        return E.add(E.mul(A, 0), eye(A.shape[-1], dtype=A.dtype))
    out, base = None, A
    while n:
        if n & 1:
            out = base if out is None else matmul(out, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return out


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim)
    d0, d1 = dim
    if ord in (1, -1, math.inf, -math.inf):
        over, across = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = R.sum(E.abs(A), dims=(over % A.ndim,), keepdim=True)
        pick = R.amax if ord > 0 else R.amin
        out = pick(sums, dims=(across % A.ndim,), keepdim=True)
        return out if keepdim else S.squeeze(out, dims=(d0 % A.ndim, d1 % A.ndim))
    raise UnsupportedError(f"matrix_norm: ord={ord!r} needs singular values (not supported)")


def norm(A, ord=None, dim=None, keepdim=False):
    if ord is None:
        return vector_norm(A, 2, dim, keepdim)
    if isinstance(ord, str) or (dim is not None and len(tuple(dim) if not isinstance(dim, int)
                                                        else (dim,)) == 2) or (dim is None and A.ndim == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim)
    return vector_norm(A, ord, dim, keepdim)


def inv(A):
    return L.inverse(A)


def solve(A, B, *, left=True):
    """A X = B through the inverse (gradients from inverse and matmul)."""
    if not left:
        return matmul(B, L.inverse(A))
    if B.ndim == A.ndim - 1:
        return S.squeeze(matmul(L.inverse(A), S.unsqueeze(B, dims=(B.ndim,))), dims=(B.ndim,))
    return matmul(L.inverse(A), B)


def vecdot(x, y, *, dim=-1):
    return R.sum(E.mul(x, y), dims=(dim,))


def cross(input, other, *, dim=-1):
    return products.cross(input, other, dim)


def det(A):
    return L.det(A)


def slogdet(A):
    return SlogdetResult(*L.slogdet(A))




def cholesky(A, *, upper=False):
    L_ = D.cholesky(A)
    return L.transpose_last(L_) if upper else L_


def eigh(A, UPLO="L"):
    return EighResult(*D.eigh(A, UPLO=UPLO))


def eigvalsh(A, UPLO="L"):
    return D.eigh(A, UPLO=UPLO)[0]


def svd(A, full_matrices=True):
    return SVDResult(*D.svd(A, full_matrices=bool(full_matrices)))


def svdvals(A):
    return D.svdvals(A)


def qr(A, mode="reduced"):
    if mode == "r":
        raise UnsupportedError("qr: mode='r' is not supported (use 'reduced')")
    return QRResult(*D.qr(A, mode=mode))


def pinv(A, *, hermitian=False):
    return D.pinv(A)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution pinv(A) @ B (PyTorch's default 'gelsy' gives the same for
    full-rank A); residuals, rank and singular_values are empty, as with 'gelsy'."""
    if rcond is not None:
        raise UnsupportedError("lstsq: rcond is not supported (the solution is pinv(A) @ B)")
    empty = E.full_like(S.reshape(A, shape=(-1,)), value=0)
    none = S.slice(empty, index=(("slice", 0, 0, 1),))
    solution = matmul(D.pinv(A), B)
    return LstsqResult(solution, none, none, none)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """Number of singular values above max(atol, rtol * s_max); rtol defaults to
    max(m, n) * eps, as PyTorch."""
    s = D.svdvals(A)
    m, n = A.shape[-2:]
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else max(m, n) * float(np.finfo(A.dtype.np).eps)
    tol = E.mul(R.amax(s, dims=(s.ndim - 1,), keepdim=True), rtol)
    if atol is not None:
        tol = E.maximum(tol, atol)
    return R.sum(E.cast(E.gt(s, tol), dtype=int64), dims=(s.ndim - 1,))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """Solves with the triangle of A only (through its inverse: gradients reach that triangle)."""
    n = A.shape[-1]
    mask = np.triu(np.ones((n, n), bool)) if upper else np.tril(np.ones((n, n), bool))
    T = E.where(SC.like_device(mask, A), A, 0)
    if unitriangular:
        T = E.where(SC.like_device(np.eye(n, dtype=bool), A), 1, T)
    Tinv = L.inverse(T)
    return matmul(Tinv, B) if left else matmul(B, Tinv)


def cond(A, p=None):
    if p not in (None, 2):
        raise UnsupportedError(f"cond: p={p!r} is not supported (only the 2-norm)")
    s = D.svdvals(A)
    return E.div(R.amax(s, dims=(s.ndim - 1,)), R.amin(s, dims=(s.ndim - 1,)))
