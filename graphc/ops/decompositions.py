"""Matrix factorizations: cholesky, eigh, svdvals, svd, qr, pinv (LAPACK through NumPy).

References only: eager mode, the `reference` target, and the host under `cuda`; the `cpu`
target refuses them with UnsupportedError. Gradients are PyTorch's formulas written with
graphc ops; where a rule is not implemented (svd's U and Vh, qr of wide matrices), the rule
raises instead of returning zeros.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..types import TensorType
from . import elementwise as E, shape as S
from .linalg import _inverse_infer, inverse, matmul, transpose_last
from .registry import Op
from .scans import like_device


def _square(in_types):
    return _inverse_infer(in_types)[0]


def _float_matrix(t, what):
    if t.ndim < 2:
        raise ValueError(f"{what} expects a matrix or a batch of matrices, got shape {list(t.shape)}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{what} expects floating point input, got {t.dtype.name}")
    return t


def _eye_mask(x, n):
    return like_device(np.eye(n, dtype=bool), x)


def _diag_of(v):
    """[..., n] -> [..., n, n] with v on the diagonal."""
    n = v.shape[-1]
    return E.where(_eye_mask(v, n), S.unsqueeze(v, dims=(v.ndim - 1,)), 0)


# ---- cholesky ----------------------------------------------------------------------------------
def _cholesky_ref(a):
    try:
        return np.linalg.cholesky(a).astype(a.dtype)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"the input is not positive-definite ({e})") from None


def _cholesky_vjp(c, gL):
    """PyTorch's rule: L^-H Phi(L^H gL) L^-1, symmetrized (Phi: lower part, half diagonal)."""
    L = c.outputs[0]
    n = L.shape[-1]
    phi = matmul(transpose_last(L), gL)
    phi = E.mul(phi, like_device((np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(L.dtype.np), L))
    Linv = inverse(L)
    g = matmul(matmul(transpose_last(Linv), phi), Linv)
    return [E.mul(E.add(g, transpose_last(g)), 0.5)]


# ---- eigh --------------------------------------------------------------------------------------
def _eigh_infer(in_types, UPLO):
    t = _square(in_types)
    return [TensorType(t.shape[:-1], t.dtype), t]


def _eigh_ref(a, UPLO):
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return w.astype(a.dtype), v.astype(a.dtype)


def _eigh_vjp(c, gw, gV):
    """gA = V (diag(gw) + (V^T gV) / E) V^T with E_ij = w_j - w_i (1 on the diagonal)."""
    w, V = c.outputs
    n = w.shape[-1]
    E_ = E.sub(S.unsqueeze(w, dims=(w.ndim - 1,)), S.unsqueeze(w, dims=(w.ndim,)))
    eye = _eye_mask(w, n)
    VtgV = matmul(transpose_last(V), gV)
    inner = E.where(eye, 0, E.div(VtgV, E.where(eye, 1, E_)))
    inner = E.add(inner, _diag_of(gw))
    return [matmul(matmul(V, inner), transpose_last(V))]


# ---- svd and svdvals -----------------------------------------------------------------------------
def _svdvals_infer(in_types):
    t = _float_matrix(in_types[0], "svdvals")
    m, n = t.shape[-2:]
    k = min(m, n) if isinstance(m, int) and isinstance(n, int) else None
    return [TensorType(t.shape[:-2] + (k,), t.dtype)]


def _svdvals_vjp(c, gS):
    """gA = U diag(gS) Vh (reduced factors; recomputed here, as the op returns S only)."""
    U, _, Vh = svd(c.inputs[0], full_matrices=False)
    return [matmul(E.mul(U, S.unsqueeze(gS, dims=(gS.ndim - 1,))), Vh)]


def _svd_infer(in_types, full_matrices):
    t = _float_matrix(in_types[0], "svd")
    m, n = t.shape[-2:]
    k = min(m, n)
    batch = t.shape[:-2]
    u_cols, v_rows = (m, n) if full_matrices else (k, k)
    return [TensorType(batch + (m, u_cols), t.dtype), TensorType(batch + (k,), t.dtype),
            TensorType(batch + (v_rows, n), t.dtype)]


def _svd_ref(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return u.astype(a.dtype), s.astype(a.dtype), vh.astype(a.dtype)


def _no_rule(name, hint):
    def vjp(c, *grads):
        raise UnsupportedError(f"{name}: gradients are not implemented ({hint})")
    return vjp


# ---- qr ------------------------------------------------------------------------------------------
def _qr_infer(in_types, mode):
    t = _float_matrix(in_types[0], "qr")
    m, n = t.shape[-2:]
    k = min(m, n)
    if mode == "complete":
        return [TensorType(t.shape[:-2] + (m, m), t.dtype), TensorType(t.shape[:-2] + (m, n), t.dtype)]
    if mode != "reduced":
        raise ValueError(f"mode must be 'reduced' or 'complete', got {mode!r}")
    return [TensorType(t.shape[:-2] + (m, k), t.dtype), TensorType(t.shape[:-2] + (k, n), t.dtype)]


def _qr_ref(a, mode):
    q, r = np.linalg.qr(a, mode=mode)
    return q.astype(a.dtype), r.astype(a.dtype)


def _qr_vjp(c, gQ, gR):
    """For m >= n (reduced): gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q and
    copyltu(M) the symmetric matrix built from M's lower triangle."""
    Q, R_ = c.outputs
    m, n = c.inputs[0].shape[-2:]
    if not (isinstance(m, int) and isinstance(n, int)) or m < n or \
            (c.attrs["mode"] == "complete" and m != n):
        raise UnsupportedError(f"qr: gradients need m >= n (reduced), got a {m}x{n} input")
    M = E.sub(matmul(R_, transpose_last(gR)), matmul(transpose_last(gQ), Q))
    lower = like_device(np.tril(np.ones((n, n), dtype=bool)), M)
    strict = like_device(np.tril(np.ones((n, n), dtype=bool), -1), M)
    sym = E.add(E.where(lower, M, 0), transpose_last(E.where(strict, M, 0)))
    return [matmul(E.add(gQ, matmul(Q, sym)), transpose_last(inverse(R_)))]


# ---- pinv ----------------------------------------------------------------------------------------
def _pinv_infer(in_types):
    t = _float_matrix(in_types[0], "pinv")
    return [TensorType(t.shape[:-2] + (t.shape[-1], t.shape[-2]), t.dtype)]


def _pinv_ref(a):
    m, n = a.shape[-2:]
    return np.linalg.pinv(a, rcond=max(m, n) * np.finfo(a.dtype).eps).astype(a.dtype)


def _pinv_vjp(c, G):
    """Golub & Pereyra's derivative of P = pinv(A), transposed into a gradient (real A):
    -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)."""
    A, P = c.inputs[0], c.outputs[0]
    Pt, Gt = transpose_last(P), transpose_last(G)
    first = E.neg(matmul(matmul(Pt, G), Pt))
    left = E.sub(Gt, matmul(matmul(A, P), Gt))                   # (I - A P) G^T
    second = matmul(matmul(left, P), Pt)                           # (I - A P) G^T P P^T
    right = E.sub(Gt, matmul(matmul(Gt, P), A))                   # G^T (I - P A)
    third = matmul(matmul(Pt, P), right)                           # P^T P G^T (I - P A)
    return [E.add(E.add(first, second), third)]


cholesky = Op("cholesky", infer=lambda in_types: [_square(in_types)], reference=_cholesky_ref,
              vjp=_cholesky_vjp, family="kernel", saves=("outputs",),
              doc="Lower Cholesky factor of symmetric positive-definite matrices.")
eigh = Op("eigh", infer=_eigh_infer, reference=_eigh_ref, vjp=_eigh_vjp, num_outputs=2,
          defaults={"UPLO": "L"}, family="kernel", saves=("outputs",),
          doc="Eigenvalues (ascending) and eigenvectors of symmetric matrices.")
svdvals = Op("svdvals", infer=_svdvals_infer,
             reference=lambda a: np.linalg.svd(a, compute_uv=False).astype(a.dtype),
             vjp=_svdvals_vjp, family="kernel", doc="Singular values, descending.")
svd = Op("svd", infer=_svd_infer, reference=_svd_ref, num_outputs=3,
         vjp=_no_rule("svd", "use linalg.svdvals when only singular values need gradients"),
         defaults={"full_matrices": True}, family="kernel", doc="U, S, Vh with A = U diag(S) Vh.")
qr = Op("qr", infer=_qr_infer, reference=_qr_ref, num_outputs=2,
        vjp=_qr_vjp, defaults={"mode": "reduced"}, saves=("outputs",),
        family="kernel", doc="Q, R with A = Q R (Householder, LAPACK).")
pinv = Op("pinv", infer=_pinv_infer, reference=_pinv_ref, vjp=_pinv_vjp, family="kernel",
          doc="Moore-Penrose pseudo-inverse (singular values below max(m, n) * eps * s_max "
              "are dropped, as PyTorch's default).")

__all__ = ["cholesky", "eigh", "svdvals", "svd", "qr", "pinv"]
