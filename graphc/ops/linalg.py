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
