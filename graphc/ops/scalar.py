"""Scalar semantics of the elementwise ops: one table, rendered as source by every target.

Each op's scalar function (its `scalar` template, graphc/ops) is the default; the overrides
below, a table keyed by the Op object, exist for PyTorch's special-value semantics
(maximum/minimum/relu/clamp propagate NaN, sign(nan) is 0), for casts, and for the fast
float32 tanh/sigmoid/exp of the numerics policy (docs/numerics.md; the cpu target asks for
them, CUDA does not). Numeric literals in a template are typed with the
compute dtype (`f32(0.5)`), so float32 code stays float32.

The rendered source uses the short dtype constructors of CTOR (`f32`, `i64`, `np.bool_`) and
`math`; each target's generated module defines those names (graphc/lower/scalar.py PRELUDE for
the cpu, runtime/cuda/elementwise.py's header for CUDA).
"""
from __future__ import annotations

import math
import re

import numpy as np

from . import elementwise as E

# Short names of the dtype constructors in generated modules (see PRELUDE).
CTOR = {"bool": "np.bool_", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
        "int64": "i64", "float32": "f32", "float64": "f64"}

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


def reduction_identity(reduction, dtype_name):
    """The typed literal a Reduction trait's accumulator starts from: 0 for "add", the
    lowest (highest) value of the dtype for "max" ("min")."""
    if reduction.combine == "add":
        return literal(0, dtype_name)
    lowest = reduction.combine == "max"
    if np.dtype(dtype_name).kind == "f":
        return literal(-math.inf if lowest else math.inf, dtype_name)
    info = np.iinfo(dtype_name)
    return literal(info.min if lowest else info.max, dtype_name)


def reduction_combine(reduction, acc, x):
    """Source of acc combined with x; max and min propagate NaN (x != x)."""
    if reduction.combine == "add":
        return f"{acc} + {x}"
    cmp = ">" if reduction.combine == "max" else "<"
    return f"{x} if {x} {cmp} {acc} or {x} != {x} else {acc}"


class _Like:
    """Stands for another op in `expression` (to reuse its lowering)."""

    def __init__(self, op):
        self.op, self.attrs = op, {}


class _Site:
    """One application being rendered: what an override reads."""

    __slots__ = ("attrs", "args", "x", "compute", "out", "fast", "helpers")

    def __init__(self, attrs, args, compute, out, fast, helpers):
        self.attrs, self.args, self.x = attrs, args, (args[0] if args else None)
        self.compute, self.out, self.fast, self.helpers = compute, out, fast, helpers

    def lit(self, value):
        return literal(value, self.compute)


def _clamp(s):
    e = s.x
    if s.attrs["min"] is not None:
        e = _nan_max(e, s.lit(s.attrs["min"]))
    if s.attrs["max"] is not None:
        e = _nan_min(e, s.lit(s.attrs["max"]))
    return e


def _float_only(render):
    return lambda s: render(s) if s.compute in ("float32", "float64") else None


def _fast(name):
    """The fast float32 helper of the cpu target (FAST_HELPERS), when it asks for them."""
    def render(s):
        if not (s.fast and s.compute == "float32"):
            return None
        s.helpers.add(name if name != "sigmoid" else "exp")
        if name == "sigmoid":
            return f"(f32(1.0) / (f32(1.0) + fast_exp(-{s.x})))"
        return f"fast_{name}({s.x})"
    return render


def _gelu(s):
    if s.attrs["approximate"] != "tanh":
        return None
    x, lit = s.x, s.lit
    inner = f"{lit(math.sqrt(2 / math.pi))} * ({x} + {lit(0.044715)} * {x} * {x} * {x})"
    tanh = expression(_Like(E.tanh), [inner], s.compute, s.compute, s.fast, s.helpers)
    return f"({lit(0.5)} * {x} * ({lit(1)} + {tanh}))"


# op -> override(site) -> source, or None for the op's own template
_OVERRIDES = {
    E.cast: lambda s: f"{CTOR[s.out]}({s.x})",
    E.full_like: lambda s: literal(s.attrs["value"], s.out),
    E.maximum: lambda s: _nan_max(*s.args),
    E.minimum: lambda s: _nan_min(*s.args),
    E.relu: lambda s: f"({s.x} if not {s.x} < {s.lit(0)} else {s.lit(0)})",
    # PyTorch's (x > 0) - (x < 0): sign(nan) and sign(-0.0) are 0
    E.sign: lambda s: (f"({s.lit(1)} if {s.x} > {s.lit(0)} else ({s.lit(-1)} if {s.x} < "
                       f"{s.lit(0)} else {s.lit(0)}))"),
    E.clamp: _clamp,
    # a zero result keeps a's sign, as C's fmod and PyTorch's remainder
    E.fmod: _float_only(lambda s: f"math.copysign(abs({s.args[0]}) % abs({s.args[1]}), "
                                  f"{s.args[0]})"),
    E.remainder: _float_only(lambda s: (
        f"(math.copysign({s.args[0]} % {s.args[1]}, {s.args[0]}) if {s.args[0]} % "
        f"{s.args[1]} == {s.lit(0)} else {s.args[0]} % {s.args[1]})")),
    E.tanh: _fast("tanh"),
    E.sigmoid: _fast("sigmoid"),
    E.exp: _fast("exp"),
    E.abs: lambda s: s.x if s.compute == "bool" else None,
    E.gelu: _gelu,
}

# ops whose template's result is cast to the op's dtype (Numba widens small ints, int ** int...)
_KEEP_DTYPE = (E.pow, E.sign, E.abs, E.square)


def expression(node, args, compute, out, fast, helpers):
    """Source of one elementwise op applied to argument expressions.

    compute: dtype name the inputs were cast to; out: the result's dtype name; fast: float32
    fast paths allowed; helpers: a set that collects FAST_HELPERS names used.
    """
    op, attrs = node.op, node.attrs
    override = _OVERRIDES.get(op)
    if override is not None:
        e = override(_Site(attrs, args, compute, out, fast, helpers))
        if e is not None:
            return e
    numbers = {k: v for k, v in attrs.items()
               if isinstance(v, (int, float, np.number)) or v is None}
    e = _typed(op.scalar, args, numbers, compute)
    if out != compute or op in _KEEP_DTYPE or compute not in ("float32", "float64", "bool"):
        e = f"{CTOR[out]}({e})"  # keep the op's dtype (Numba widens small ints, int ** int, ...)
    return e
