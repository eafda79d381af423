"""Muon (torch.optim.Muon, PyTorch 2.13): momentum, then a Newton–Schulz orthogonalization of
the update run in bfloat16, then decoupled weight decay and a shape-adjusted learning rate.

graphc has no bfloat16 dtype, so the iteration runs in float32 with every result that PyTorch
stores in bfloat16 rounded to the nearest bfloat16 value (`round_to_bfloat16`): matmuls take
bfloat16 values, accumulate in float32 and round once (as PyTorch's CPU bfloat16 GEMM, whose
`addmm` also scales and adds in float32 before rounding); elementwise results are computed in
float32 and rounded. The rounding is written with the `bitcast` op and integer ops, so it runs
eagerly and inside compiled steps alike.

PyTorch's float32 `lerp` and `add(alpha=)` kernels use fused multiply-adds; for float32
parameters those two steps are computed in float64 and rounded once, which gives the fused
result (the product of two float32 values is exact in float64). What remains different from
PyTorch is the order in which a float32 matmul sums its products: it can move a sum across a
bfloat16 rounding boundary (a few elements in 10^4 per matmul on 128x128), and the iteration
carries that one-bfloat16-ulp change on. docs/nn.md gives the measured differences.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as G
from ..dispatch import variable_of
from ..ir.graph import Value
from ..ops import elementwise as E
from ..ops.shape import bitcast
from ..errors import UnsupportedError
from ..types import float32, float64, int32
from .optimizer import Optimizer

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5
_LOW_HALF_CLEARED = -65536  # 0xFFFF0000 as an int32: keeps the bfloat16 bits of a float32


def round_to_bfloat16(x):
    """x rounded to the nearest bfloat16 value (ties to even, NaN kept), as float32: what
    PyTorch's `x.bfloat16()` holds. Float64 input goes through float32 first, as PyTorch's
    double -> bfloat16 conversion does."""
    x = G.cast(x, float32)
    bits = bitcast(x, dtype=int32)
    lowest_kept = E.bitwise_and(E.bitwise_right_shift(bits, 16), 1)
    rounded = E.bitwise_and(G.add(G.add(bits, 0x7FFF), lowest_kept), _LOW_HALF_CLEARED)
    return E.where(E.isnan(x), x, bitcast(rounded, dtype=float32))


def _mm(a, b):
    """A bfloat16 matmul: bfloat16 inputs, float32 sums, one rounding."""
    return round_to_bfloat16(G.matmul(a, b))


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """PyTorch's `_zeropower_via_newtonschulz`, in float32 rounded where PyTorch's bfloat16
    results round. Returns float32 holding bfloat16 values."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (float(np.float32(v)) for v in ns_coefficients)  # bf16 addmm scales in float32
    tall = grad.shape[0] > grad.shape[1]
    x = round_to_bfloat16(grad)
    if tall:
        x = G.transpose(x, 0, 1)
    norm = round_to_bfloat16(G.sqrt(G.sum(G.square(x))))
    norm = round_to_bfloat16(G.clamp(norm, min=float(np.float32(eps))))
    x = round_to_bfloat16(G.div(x, norm))
    for _ in range(ns_steps):
        gram = _mm(x, G.transpose(x, 0, 1))
        # torch.addmm(gram, gram, gram, beta=b, alpha=c): b*gram + c*(gram @ gram), rounded once
        update = round_to_bfloat16(G.add(G.mul(gram, b), G.mul(G.matmul(gram, gram), c)))
        x = round_to_bfloat16(G.add(G.mul(x, a), G.matmul(update, x)))
    return G.transpose(x, 0, 1) if tall else x


def adjusted_lr_ratio(adjust_lr_fn, shape):
    """PyTorch's `_adjust_lr` factor for a parameter of this shape."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


def _fused(base, coeff, other, dtype):
    """base + coeff * other rounded once, as a fused multiply-add: float32 arithmetic goes
    through float64 (exact product, then one rounding); float64 stays float64."""
    if dtype is float64:
        return G.add(base, G.mul(other, coeff))
    wide = G.add(G.cast(base, float64), G.mul(G.cast(other, float64), coeff))
    return G.cast(wide, dtype)


def _lerp(start, end, weight, dtype):
    """torch.lerp with a scalar weight as PyTorch's CPU kernel computes it: start + w (end -
    start) for |w| < 0.5, else end + (w - 1) (end - start), each one fused multiply-add."""
    w = dtype.np.type(weight)
    if abs(w) < 0.5:
        return _fused(start, float(w), G.sub(end, start), dtype)
    return _fused(end, float(w - dtype.np.type(1)), G.sub(end, start), dtype)


class Muon(Optimizer):
    """torch.optim.Muon: for 2-D parameters (hidden layers' weights)."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS,
                 ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {tuple(p.shape)}")
                if p.dtype not in (float32, float64):
                    raise UnsupportedError(
                        f"Muon: a {p.dtype.name} parameter of shape {tuple(p.shape)}: only "
                        f"float32 and float64 parameters are supported (PyTorch's {p.dtype.name} "
                        f"arithmetic around the bfloat16 iteration is not reproduced)")

    def init_state(self, p, group):
        return {"momentum_buffer": 0.0}

    def rule(self, p, g, state, lr, group):
        if g.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        dtype, momentum = p.dtype, group["momentum"]
        buf = _lerp(state["momentum_buffer"], g, 1 - momentum, dtype)
        update = _lerp(g, buf, momentum, dtype) if group["nesterov"] else buf
        update = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"],
                                            group["eps"])
        # PyTorch computes both factors from the Python float lr; the group's float64 lr
        # tensor gives the same numbers (the `lr` argument is already rounded to p's dtype)
        lr64 = variable_of(group.lr_tensor) if isinstance(p, Value) else group.lr_tensor
        decay = G.cast(G.sub(1, G.mul(lr64, group["weight_decay"])), dtype)
        step = G.cast(G.mul(lr64, -adjusted_lr_ratio(group["adjust_lr_fn"], p.shape)), dtype)
        p = G.mul(p, decay)
        if dtype is float64:
            return G.add(p, G.mul(G.cast(update, dtype), step)), {"momentum_buffer": buf}
        new_p = G.cast(G.add(G.cast(p, float64), G.mul(G.cast(update, float64),
                                                       G.cast(step, float64))), dtype)
        return new_p, {"momentum_buffer": buf}
