"""Linear algebra: matmul (1-D, 2-D, batched, broadcast), linear (eager's x @ w.T + b) and
inverse."""
from __future__ import annotations

import numpy as np

from ..types import TensorType, broadcast_shapes
from .elementwise import mul, neg
from .reduce import sum as sum_
from .registry import Op
from .shape import permute, reshape, squeeze, unsqueeze


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
        if b.ndim == 2 and a.ndim > 2:  # b shared by a batch (a Linear on a sequence): one
            # product over all rows, not one per batch element and then their sum
            gb = matmul(transpose_last(reshape(A, shape=(-1, a.shape[-1]))),
                        reshape(G, shape=(-1, b.shape[-1])))
        else:
            gb = matmul(transpose_last(A), G)
        gb = squeeze(gb, dims=-1) if b.ndim == 1 else gb
    return [ga, gb]


matmul = Op("matmul", infer=_matmul_infer, reference=np.matmul, vjp=_matmul_vjp, num_inputs=2,
            family="matmul",
            doc="Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched inputs.")
# like mul: each input is read for the other's gradient only, never the output (Linear(bias=False)
# followed by ReLU(inplace=True) must not make backward raise)
matmul.reads = lambda needs: (([1] if needs[0] else []) + ([0] if needs[1] else []), False)


# ---- linear: x @ w.T (+ b) as one eager op -----------------------------------------------------
def _linear_infer(in_types):
    if len(in_types) not in (2, 3):
        raise ValueError(f"expects (input, weight) or (input, weight, bias), got "
                         f"{len(in_types)} inputs")
    x, w = in_types[:2]
    if x.ndim == 0 or w.ndim != 2:
        raise ValueError(f"expects input of at least 1 dim and a 2-D weight (out, in), got "
                         f"shapes {list(x.shape)} and {list(w.shape)}")
    if any(t.dtype is not x.dtype for t in in_types) or not x.dtype.is_floating_point:
        raise TypeError("expects floating point input, weight and bias of one dtype, got "
                        + ", ".join(t.dtype.name for t in in_types))
    if isinstance(x.shape[-1], int) and isinstance(w.shape[1], int) and x.shape[-1] != w.shape[1]:
        raise ValueError(f"input has {x.shape[-1]} features but the weight {list(w.shape)} "
                         f"expects {w.shape[1]}")
    if len(in_types) == 3 and tuple(in_types[2].shape) != (w.shape[0],):
        raise ValueError(f"bias must have shape [{w.shape[0]}], got {list(in_types[2].shape)}")
    return [TensorType(x.shape[:-1] + (w.shape[0],), x.dtype)]


def _linear_ref(x, w, b=None):
    out = np.matmul(x, w.T)
    if b is not None:
        out += b  # (a new array: the bias is added in place, without a temporary)
    return out


def _linear_vjp(c, g):
    x, w = c.inputs[:2]
    need = c.needs_input_grad
    gx = matmul(g, w) if need[0] else None
    gw = gb = None
    if need[1]:
        if x.ndim == 1:  # the outer product g x^T
            gw = mul(unsqueeze(g, dims=-1), unsqueeze(x, dims=0))
        else:
            g2 = g if g.ndim == 2 else reshape(g, shape=(-1, w.shape[0]))
            x2 = x if x.ndim == 2 else reshape(x, shape=(-1, w.shape[1]))
            gw = matmul(transpose_last(g2), x2)
    if len(c.inputs) == 3 and need[2]:
        gb = g if g.ndim == 1 else sum_(g, dims=tuple(range(g.ndim - 1)))
    return [gx, gw, gb][:len(c.inputs)]


linear = Op("linear", infer=_linear_infer, reference=_linear_ref, vjp=_linear_vjp, num_inputs=None,
            family="kernel", saves=("inputs",),
            doc="x @ w.T (+ b) for (x, w[, b]), w (out, in). Eager nn.functional.linear on CPU "
                "tensors: one op and one tape entry where matmul, t and add took three (and "
                "~4 fewer ops backward); symbolic code uses those three, which the compilers "
                "fuse, so the cpu target has no lowering of its own for it.")
linear.hook_order = (2, 0, 1)  # leaves' gradients final as PyTorch's: bias, input, weight


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
             vjp=_inverse_vjp, family="kernel",
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
         vjp=_det_vjp, family="kernel", doc="Determinant of the last two dims (LAPACK via NumPy).")


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
             num_outputs=2, family="kernel",
             doc="(sign, log|det|) of the last two dims; the gradient flows through log|det|.")
