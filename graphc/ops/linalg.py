"""Linear algebra: matmul (1-D, 2-D, batched, broadcast) and inverse."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, broadcast_shapes
from .elementwise import mul, neg
from .registry import Op
from .shape import permute, squeeze, unsqueeze


def _matmul_infer(in_types):
    a, b = in_types
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"both arguments need at least 1 dim, got shapes {list(a.shape)} and "
                         f"{list(b.shape)}")
    if a.dtype is not b.dtype:
        raise TypeError(f"expected both inputs to have the same dtype, got {a.dtype.name} and "
                        f"{b.dtype.name}")
    if a.dtype.is_bool:
        raise TypeError("matmul is not defined for bool tensors")
    ash = (1,) + a.shape if a.ndim == 1 else a.shape
    bsh = b.shape + (1,) if b.ndim == 1 else b.shape
    k1, k2 = ash[-1], bsh[-2]
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ValueError(f"shapes {list(a.shape)} and {list(b.shape)} cannot be multiplied "
                         f"({k1} != {k2})")
    try:
        batch = broadcast_shapes(ash[:-2], bsh[:-2])
    except ValueError:
        raise ValueError(f"batch dims of shapes {list(a.shape)} and {list(b.shape)} cannot be "
                         f"broadcast") from None
    shape = batch + ((ash[-2],) if a.ndim > 1 else ()) + ((bsh[-1],) if b.ndim > 1 else ())
    return [TensorType(shape, a.dtype)]


def transpose_last(x):
    """Swap the last two dims (x.mT)."""
    order = list(range(x.ndim))
    order[-1], order[-2] = order[-2], order[-1]
    return permute(x, dims=tuple(order))


def _matmul_vjp(c, g):
    a, b = c.inputs
    if a.ndim == 1 and b.ndim == 1:
        return [mul(g, b), mul(g, a)]
    A = unsqueeze(a, dims=0) if a.ndim == 1 else a
    B = unsqueeze(b, dims=-1) if b.ndim == 1 else b
    G = g
    if a.ndim == 1:
        G = unsqueeze(G, dims=-2 if b.ndim > 1 else -1)
    if b.ndim == 1:
        G = unsqueeze(G, dims=-1)
    ga = gb = None
    if c.needs_input_grad[0]:
        ga = matmul(G, transpose_last(B))
        ga = squeeze(ga, dims=-2) if a.ndim == 1 else ga
    if c.needs_input_grad[1]:
        gb = matmul(transpose_last(A), G)
        gb = squeeze(gb, dims=-1) if b.ndim == 1 else gb
    return [ga, gb]


matmul = Op("matmul", infer=_matmul_infer, reference=np.matmul, vjp=_matmul_vjp, num_inputs=2,
            kind="matmul", lowering={"kernel": "matmul"},
            doc="Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched inputs.")
# like mul: each input is read for the other's gradient only, never the output (Linear(bias=False)
# followed by ReLU(inplace=True) must not make backward raise)
matmul.reads = lambda needs: (([1] if needs[0] else []) + ([0] if needs[1] else []), False)


def _inverse_infer(in_types):
    t = in_types[0]
    if t.ndim < 2 or (isinstance(t.shape[-1], int) and t.shape[-1] != t.shape[-2]):
        raise ValueError(f"expects square matrices, got shape {list(t.shape)}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"expects floating point input, got {t.dtype.name}")
    return [t]


def _inverse_vjp(c, g):
    yt = transpose_last(c.outputs[0])
    return [neg(matmul(matmul(yt, g), yt))]


inverse = Op("inverse", infer=_inverse_infer, reference=lambda x: np.linalg.inv(x).astype(x.dtype),
             vjp=_inverse_vjp, kind="kernel", lowering={"kernel": "inverse"},
             doc="Matrix inverse of the last two dims.")


# ---- determinants: reference only (no cpu lowering; the cuda target runs them on the host) ------
def _square_float(in_types):
    return _inverse_infer(in_types)[0]


def _det_infer(in_types):
    t = _square_float(in_types)
    return [TensorType(t.shape[:-2], t.dtype)]


def _det_vjp(c, g):
    """d det(A) = det(A) inv(A)^T (PyTorch's rule for invertible A)."""
    A, y = c.inputs[0], c.outputs[0]
    scale = unsqueeze(mul(g, y), dims=(y.ndim, y.ndim + 1))
    return [mul(scale, transpose_last(inverse(A)))]


det = Op("det", infer=_det_infer, reference=lambda x: np.asarray(np.linalg.det(x)).astype(x.dtype),
         vjp=_det_vjp, kind="kernel", doc="Determinant of the last two dims (LAPACK via NumPy).")


def _slogdet_infer(in_types):
    t = _square_float(in_types)
    return [TensorType(t.shape[:-2], t.dtype)] * 2


def _slogdet_ref(x):
    sign, logabs = np.linalg.slogdet(x)
    return np.asarray(sign).astype(x.dtype), np.asarray(logabs).astype(x.dtype)


def _slogdet_vjp(c, g_sign, g_logabs=None):
    if g_logabs is None:
        return [None]
    A = c.inputs[0]
    scale = unsqueeze(g_logabs, dims=(g_logabs.ndim, g_logabs.ndim + 1))
    return [mul(scale, transpose_last(inverse(A)))]


slogdet = Op("slogdet", infer=_slogdet_infer, reference=_slogdet_ref, vjp=_slogdet_vjp,
             num_outputs=2, kind="kernel",
             doc="(sign, log|det|) of the last two dims; the gradient flows through log|det|.")
