"""Scalar expressions for elementwise ops, in Numba-compilable Python.

Each op's lowering template (graphc/ops) is the default; the overrides below exist for
NumPy's NaN semantics (max/min/relu/sign/clamp propagate NaN), for casts, and for the fast
float32 tanh/sigmoid of the numerics policy (docs/numerics.md). Numeric literals in a
template are typed with the compute dtype (`f32(0.5)`), so float32 code stays float32.
"""
from __future__ import annotations

import math
import re

import numpy as np

# Short names of the dtype constructors in generated modules (see PRELUDE).
CTOR = {"bool": "np.bool_", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
        "int64": "i64", "float32": "f32", "float64": "f64"}

PRELUDE = """\
import math
import numpy as np
from numba import njit, prange
from runtime.library import f32_from_bits, gemm, inverse
u8, i8, i16, i32, i64 = np.uint8, np.int8, np.int16, np.int32, np.int64
f32, f64 = np.float32, np.float64
"""

# Rational tanh for float32 (the minimax approximation Eigen uses): |error| < 2e-7 relative
# over the clamped range, branch-free, so LLVM vectorizes it (no SVML here: math.tanh is a
# scalar libm call). Beyond |x| > 7.9 float32 tanh is +-1 exactly.
FAST_HELPERS = {
    "tanh": """
@njit(cache=True, nogil=True, error_model="numpy", fastmath={fastmath})
def fast_tanh(x):
    c = f32(7.90531110763549805)
    x = c if x > c else x
    x = -c if x < -c else x
    x2 = x * x
    p = x2 * f32(-2.76076847742355e-16) + f32(2.00018790482477e-13)
    p = p * x2 + f32(-8.60467152213735e-11)
    p = p * x2 + f32(5.12229709037114e-08)
    p = p * x2 + f32(1.48572235717979e-05)
    p = p * x2 + f32(6.37261928875436e-04)
    p = p * x2 + f32(4.89352455891786e-03)
    q = x2 * f32(1.19825839466702e-06) + f32(1.18534705686654e-04)
    q = q * x2 + f32(2.26843463243900e-03)
    q = q * x2 + f32(4.89352518554385e-03)
    return x * p / q
""",
    # Cephes' expf: Cody-Waite reduction by ln 2, degree-5 polynomial, 2**n built from its
    # bits. Relative error < 2e-7 (about 2 ulp) where the result is a normal float32;
    # overflow gives inf, results below 1e-38 flush to 0; NaN stays NaN.
    "exp": """
@njit(cache=True, nogil=True, error_model="numpy", fastmath={fastmath})
def fast_exp(x):
    t = f32(88.7) if x > f32(88.7) else x
    t = f32(-87.3) if t < f32(-87.3) else t
    n = np.floor(t * f32(1.44269504088896341) + f32(0.5))
    r = t - n * f32(0.693359375) + n * f32(2.12194440e-4)
    y = f32(1.9875691500e-4) * r + f32(1.3981999507e-3)
    y = y * r + f32(8.3334519073e-3)
    y = y * r + f32(4.1665795894e-2)
    y = y * r + f32(1.6666665459e-1)
    y = y * r + f32(5.0000001201e-1)
    y = y * r * r + r + f32(1.0)
    y = y * f32_from_bits(i32(n + f32(127.0)) << i32(23))
    y = np.float32(np.inf) if x > f32(88.72283) else y
    y = f32(0.0) if x < f32(-87.3) else y
    return y if x == x else x
""",
}

_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?|\d+(?:e[-+]?\d+)?)(?![\w.(])")


def literal(value, dtype_name):
    """A typed literal: f32(0.5), f32(np.inf), np.bool_(True)."""
    ctor = CTOR[dtype_name]
    if dtype_name == "bool":
        return f"{ctor}({bool(value)})"
    if np.dtype(dtype_name).kind == "f":
        value = float(value)
        if math.isnan(value):
            return f"{ctor}(np.nan)"
        if math.isinf(value):
            return f"{ctor}({'-' if value < 0 else ''}np.inf)"
        return f"{ctor}({value!r})"
    return f"{ctor}({int(value)})"


def _typed(template, args, attrs, dtype_name):
    """Fill a template: attributes become typed literals, as do bare numbers."""
    marks = {f"ARG{chr(97 + i)}": a for i, a in enumerate(args)}
    names = list(marks)
    text = template.format(*names, **{k: f"ATTR{k}" for k in attrs})
    if dtype_name != "bool":
        text = _NUMBER.sub(lambda m: literal(m.group(1) if "." in m.group(1) or "e" in m.group(1)
                                             else int(m.group(1)), dtype_name), text)
    for k, v in attrs.items():
        text = text.replace(f"ATTR{k}", literal(v, dtype_name) if v is not None else "None")
    for name in sorted(marks, key=len, reverse=True):
        text = text.replace(name, marks[name])
    return text


def _nan_max(a, b):
    return f"({a} if {a} >= {b} or {a} != {a} else {b})"


def _nan_min(a, b):
    return f"({a} if {a} <= {b} or {a} != {a} else {b})"


class _Like:
    """Stands for another op in `expression` (to reuse its lowering)."""

    def __init__(self, node, name):
        from ..ops.registry import get_op
        self.op, self.attrs = get_op(name), {}


def expression(node, args, compute, out, fast, helpers):
    """Source of one elementwise op applied to argument expressions.

    compute: dtype name the inputs were cast to; out: the result's dtype name; fast: float32
    fast paths allowed; helpers: a set that collects FAST_HELPERS names used.
    """
    name, attrs = node.op.name, node.attrs
    lit = lambda v: literal(v, compute)  # noqa: E731
    x = args[0] if args else None
    if name == "cast":
        return f"{CTOR[out]}({x})"
    if name == "full_like":
        return literal(attrs["value"], out)
    if name in ("maximum", "minimum"):
        return (_nan_max if name == "maximum" else _nan_min)(*args)
    if name == "relu":
        return f"({x} if not {x} < {lit(0)} else {lit(0)})"
    if name == "sign":
        return f"({lit(1)} if {x} > {lit(0)} else ({lit(-1)} if {x} < {lit(0)} else {x}))"
    if name == "clamp":
        e = x
        if attrs["min"] is not None:
            e = _nan_max(e, lit(attrs["min"]))
        if attrs["max"] is not None:
            e = _nan_min(e, lit(attrs["max"]))
        return e
    if fast and compute == "float32" and name in ("tanh", "sigmoid", "exp"):
        helpers.add(name if name != "sigmoid" else "exp")
        if name == "sigmoid":
            return f"(f32(1.0) / (f32(1.0) + fast_exp(-{x})))"
        return f"fast_{name}({x})"
    if name == "abs" and compute == "bool":
        return x
    template = node.op.lowering["template"]
    if name == "gelu" and attrs["approximate"] == "tanh":
        inner = f"{lit(math.sqrt(2 / math.pi))} * ({x} + {lit(0.044715)} * {x} * {x} * {x})"
        tanh = expression(_Like(node, "tanh"), [inner], compute, compute, fast, helpers)
        return f"({lit(0.5)} * {x} * ({lit(1)} + {tanh}))"
    numbers = {k: v for k, v in attrs.items()
               if isinstance(v, (int, float, np.number)) or v is None}
    e = _typed(template, args, numbers, compute)
    if out != compute or name in ("pow", "sign", "abs", "square") or compute not in (
            "float32", "float64", "bool"):
        e = f"{CTOR[out]}({e})"  # keep the op's dtype (Numba widens small ints, int ** int, ...)
    return e
