"""`graphc.linalg`: torch.linalg's names (norms, inv, solve, det, slogdet, matrix_power, ...).

Norms and solve are composites; det and slogdet are primitives of graphc/ops/linalg.py
(LAPACK through NumPy in their references) with PyTorch's gradients.
"""
from __future__ import annotations

import math
from collections import namedtuple

from . import products
from .errors import UnsupportedError
from .functional import matmul
from .ops import elementwise as E, linalg as L, reduce as R, shape as S
from .products import multi_dot  # noqa: F401  (torch.linalg.multi_dot)
from .reductions import vector_norm  # noqa: F401  (torch.linalg.vector_norm)

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


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


