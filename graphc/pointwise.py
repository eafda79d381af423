"""Pointwise functions with PyTorch's names and signatures (torch.floor ... torch.isclose).

Primitive ones are rows of graphc/ops/elementwise.py; the rest are composites written here
with those ops, as PyTorch itself defines them (lerp, addcmul, logit, xlogy, fmax, ...), so
that gradients, fusion, every target and both execution models come for free.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import UnsupportedError
from .ops import elementwise as E
from .types import as_dtype, bool_, float64

# primitives that need no argument translation
expm1, log2, log10, tan, asin, acos, atan = E.expm1, E.log2, E.log10, E.tan, E.asin, E.acos, E.atan
sinh, cosh, asinh, acosh, atanh = E.sinh, E.cosh, E.asinh, E.acosh, E.atanh
erfc, erfinv, lgamma, digamma, hypot, atan2 = E.erfc, E.erfinv, E.lgamma, E.digamma, E.hypot, E.atan2
isnan, isinf, isfinite, copysign = E.isnan, E.isinf, E.isfinite, E.copysign
remainder, fmod, floor_divide = E.remainder, E.fmod, E.floor_divide
bitwise_and, bitwise_or, bitwise_xor = E.bitwise_and, E.bitwise_or, E.bitwise_xor
bitwise_left_shift, bitwise_right_shift = E.bitwise_left_shift, E.bitwise_right_shift
arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = asin, acos, atan, atan2, asinh, acosh, atanh
sgn, absolute = E.sign, E.abs


def _is_int(x):
    return not x.dtype.is_floating_point


def _copy(x):
    """A new tensor equal to x (PyTorch's rounding of integer tensors returns a copy)."""
    return E.mul(x, 1)


def _rounding(op):
    def fn(input):
        return _copy(input) if _is_int(input) else op(input)
    fn.__name__ = op.name
    fn.__doc__ = f"torch.{op.name}: integer tensors are returned unchanged (as a copy)."
    return fn


floor, ceil, trunc = _rounding(E.floor), _rounding(E.ceil), _rounding(E.trunc)
fix = trunc


def round(input, *, decimals=0):
    """Half to even; with decimals, as PyTorch: round(x * 10**d) / 10**d (d < 0: x / 10**-d)."""
    if _is_int(input):
        return _copy(input)
    if decimals == 0:
        return E.round(input)
    if decimals > 0:
        scale = 10.0 ** decimals
        return E.div(E.round(E.mul(input, scale)), scale)
    scale = 10.0 ** -decimals
    return E.mul(E.round(E.div(input, scale)), scale)


def frac(input):
    return E.sub(input, E.trunc(input))


def signbit(input):
    return E.lt(input, 0) if _is_int(input) else E.signbit(input)


def isposinf(input):
    return E.eq(input, math.inf) if not _is_int(input) else E.full_like(input, False, dtype=bool_)


def isneginf(input):
    return E.eq(input, -math.inf) if not _is_int(input) else E.full_like(input, False, dtype=bool_)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """nan -> nan, +inf -> posinf, -inf -> neginf (defaults: the dtype's largest/lowest)."""
    if _is_int(input):
        return _copy(input)
    info = np.finfo(input.dtype.np)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = E.where(E.eq(input, math.inf), posinf, input)
    out = E.where(E.eq(input, -math.inf), neginf, out)
    return E.where(E.isnan(input), nan, out)


def reciprocal(input):
    return E.div(1, input)


def exp2(input):
    return E.pow(2.0, input if input.dtype.is_floating_point else E.cast(input, dtype=as_dtype("float32")))


def div(input, other, *, rounding_mode=None):
    """True division; rounding_mode 'trunc' or 'floor' rounds the quotient (integers stay
    integers, as in PyTorch) and has a zero gradient."""
    if rounding_mode is None:
        return E.div(input, other)
    if rounding_mode == "floor":
        return E.floor_divide(input, other)
    if rounding_mode == "trunc":
        q = E.floor_divide(input, other)
        if not q.dtype.is_floating_point:  # C division: round toward zero
            inexact = E.ne(E.remainder(input, other), 0)
            negative = E.ne(E.lt(input, 0), E.lt(other, 0))
            return E.where(E.logical_and(inexact, negative), E.add(q, 1), q)
        return E.trunc(E.div(input, other))
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


def true_divide(input, other):
    return E.div(input, other)


divide = div


def rsub(input, other, *, alpha=1):
    return E.sub(other, input if alpha == 1 else E.mul(input, alpha))


def lerp(input, end, weight):
    return E.add(input, E.mul(weight, E.sub(end, input)))


def addcmul(input, tensor1, tensor2, *, value=1):
    prod = E.mul(tensor1, tensor2)
    return E.add(input, prod if value == 1 else E.mul(prod, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    q = E.div(tensor1, tensor2)
    return E.add(input, q if value == 1 else E.mul(q, value))


def logaddexp(input, other):
    """log(exp(a) + exp(b)) without overflow; equal infinities give themselves."""
    m = E.maximum(input, other)
    out = E.add(m, E.log1p(E.exp(E.neg(E.abs(E.sub(input, other))))))
    return E.where(E.logical_and(E.isinf(m), E.eq(input, other)), m, out)


def logaddexp2(input, other):
    ln2 = math.log(2)
    return E.div(logaddexp(E.mul(input, ln2), E.mul(other, ln2)), ln2)


def logit(input, eps=None):
    z = input if eps is None else E.clamp(input, min=eps, max=1 - eps)
    return E.log(E.div(z, E.sub(1, z)))


def xlogy(input, other):
    """x * log(y), 0 where x == 0 (nan where y is nan). As in PyTorch, the gradient for x is
    log(y) also at x == 0: only the 0 * inf case is replaced."""
    ly = E.log(other)
    return E.where(E.logical_and(E.eq(input, 0), E.isinf(ly)), 0.0, E.mul(input, ly))


def clamp_min(input, min):
    from .functional import clamp
    return clamp(input, min=min)


def clamp_max(input, max):
    from .functional import clamp
    return clamp(input, max=max)


def float_power(input, exponent):
    def f64(v):
        return E.cast(v, dtype=float64) if hasattr(v, "dtype") and v.dtype is not float64 else v
    return E.pow(f64(input), f64(exponent) if hasattr(exponent, "dtype") else float(exponent))


def fmax(input, other):
    """Maximum that ignores nan; ties send the whole gradient to input, as PyTorch."""
    return E.where(E.logical_or(E.ge(input, other), E.isnan(other)), input, other)


def fmin(input, other):
    return E.where(E.logical_or(E.le(input, other), E.isnan(other)), input, other)


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0 (zero gradient there: the divisor is made safe)."""
    zero = E.eq(input, 0)
    px = E.mul(E.where(zero, 1.0, input), math.pi)
    return E.where(zero, 1.0, E.div(E.sin(px), px))


def deg2rad(input):
    return E.mul(input, math.pi / 180)


def rad2deg(input):
    return E.mul(input, 180 / math.pi)


def bitwise_not(input):
    return E.logical_not(input) if input.dtype is bool_ else E.bitwise_not(input)


def logical_xor(input, other):
    return E.ne(E.cast(input, dtype=bool_) if input.dtype is not bool_ else input,
                other if getattr(other, "dtype", None) is bool_ else E.ne(other, 0))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b| (finite differences only), or a == b."""
    diff = E.sub(input, other)
    within = E.le(E.abs(diff), E.add(E.mul(E.abs(other), rtol), atol))
    close = E.logical_or(E.eq(input, other), E.logical_and(E.isfinite(diff), within))
    if equal_nan:
        close = E.logical_or(close, E.logical_and(E.isnan(input), E.isnan(other)))
    return close


def _python_bool(name, value):
    from .ir.graph import Value
    if isinstance(value, Value):
        raise UnsupportedError(f"{name} returns a Python bool, which needs concrete values; on "
                               f"a symbolic value use graphc.isclose/eq(...).all() instead")
    return bool(value.item())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    from .reductions import all
    return _python_bool("allclose", all(isclose(input, other, rtol, atol, equal_nan)))


def equal(input, other):
    """True if both have the same shape and elements (a Python bool, as torch.equal)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    from .reductions import all
    return _python_bool("equal", all(E.eq(input, other)))


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "math", "np", "E", "UnsupportedError", "as_dtype", "bool_", "float64")]
