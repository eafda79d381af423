"""The import table: ONNX op type -> converter written with graphc functions.

A converter takes a `NodeContext` (inputs, attributes, opset) and returns the node's outputs
(one value or a list). Inputs are symbolic values, or eager tensors for values known at load
time: the same code then folds them. Adding an op is adding one entry; ops that ONNX and
graphc define alike are one line in `UNARY`/`BINARY`. Shapes and indexing (import_shapes.py),
reductions (import_reduce.py) and neural-network ops (import_nn.py) register into the same
table.
"""
from __future__ import annotations

import numpy as np

import graphc as gc
from ..ops import shape as S
from .common import dtype_from_onnx

CONVERTERS: dict = {}


def converts(*op_types):
    def register(fn):
        for t in op_types:
            CONVERTERS[t] = fn
        return fn
    return register


def _simple(table, arity):
    for op_type, fn in table.items():
        def convert(ctx, fn=fn):
            return fn(*ctx.inputs()[:arity])
        CONVERTERS[op_type] = convert


def _known(shape):
    return all(isinstance(d, int) for d in shape)


def axis_of(axis, ndim):
    return axis + ndim if axis < 0 else axis


# ---- elementwise ------------------------------------------------------------------------------
def _reciprocal(x):
    return 1.0 / x


UNARY = {
    "Identity": lambda x: x, "Neg": gc.neg, "Abs": gc.abs, "Exp": gc.exp, "Log": gc.log,
    "Sqrt": gc.sqrt, "Sin": gc.sin, "Cos": gc.cos, "Tanh": gc.tanh, "Sigmoid": gc.sigmoid,
    "Relu": gc.relu, "Erf": gc.erf, "Sign": gc.sign, "Not": gc.logical_not,
    "Reciprocal": _reciprocal,
    "Tan": lambda x: gc.sin(x) / gc.cos(x),
    "Sinh": lambda x: (gc.exp(x) - gc.exp(-x)) * 0.5,
    "Cosh": lambda x: (gc.exp(x) + gc.exp(-x)) * 0.5,
    "Asinh": lambda x: gc.log(x + gc.sqrt(x * x + 1.0)),
    "Acosh": lambda x: gc.log(x + gc.sqrt(x * x - 1.0)),
    "Atanh": lambda x: gc.log((1.0 + x) / (1.0 - x)) * 0.5,
    "Softsign": lambda x: x / (gc.abs(x) + 1.0),
    "Softplus": lambda x: gc.softplus(x),
    "Mish": lambda x: x * gc.tanh(gc.softplus(x)),
}
BINARY = {
    "Add": gc.add, "Sub": gc.sub, "Mul": gc.mul, "Equal": gc.eq, "Less": gc.lt,
    "LessOrEqual": gc.le, "Greater": gc.gt, "GreaterOrEqual": gc.ge, "And": gc.logical_and,
    "Or": gc.logical_or, "Xor": gc.ne,
}
_simple(UNARY, 1)
_simple(BINARY, 2)


@converts("Where")
def _where(ctx):
    c, a, b = ctx.inputs()
    return gc.where(c, a, b)


def _trunc(x):
    """Rounding toward zero for floats (exact for |x| < 2**63, where every float32 of larger
    magnitude is an integer already)."""
    big = gc.abs(x) >= 2.0 ** 62
    return gc.where(big, x, gc.cast(gc.cast(gc.where(big, 0.0, x), gc.int64), x.dtype))


def _floor(x):
    t = _trunc(x)
    return t - gc.cast(x < t, x.dtype)


@converts("Floor")
def _floor_op(ctx):
    return _floor(ctx.input(0))


@converts("Ceil")
def _ceil_op(ctx):
    return -_floor(-ctx.input(0))


@converts("Round")
def _round(ctx):
    x = ctx.input(0)
    f = _floor(x)
    frac = x - f
    odd = (f - _floor(f * 0.5) * 2.0) != 0
    tie_up = gc.logical_or(frac > 0.5, gc.logical_and(frac == 0.5, odd))  # halves to even
    return gc.where(tie_up, f + 1.0, f)


@converts("IsNaN")
def _isnan(ctx):
    x = ctx.input(0)
    return x != x


@converts("IsInf")
def _isinf(ctx):
    x = ctx.input(0)
    pos = (x == np.inf) if ctx.attr("detect_positive", 1) else gc.zeros_like(x, dtype=gc.bool)
    neg = (x == -np.inf) if ctx.attr("detect_negative", 1) else gc.zeros_like(x, dtype=gc.bool)
    return gc.logical_or(pos, neg)


@converts("Div")
def _div(ctx):
    a, b = ctx.inputs()
    if a.dtype.is_floating_point:
        return a / b
    # integer division truncates toward zero in ONNX; float64 holds int32 exactly
    return gc.cast(_trunc(gc.cast(a, gc.float64) / gc.cast(b, gc.float64)), a.dtype)


@converts("Mod")
def _mod(ctx):
    a, b = ctx.inputs()
    fmod = ctx.attr("fmod", 0)
    if a.dtype.is_floating_point:
        if not fmod:
            raise ctx.unsupported("Mod of floats needs fmod=1 (the ONNX rule)")
        return a - _trunc(a / b) * b
    wide = gc.float64
    q = gc.cast(_trunc(gc.cast(a, wide) / gc.cast(b, wide)), a.dtype)
    r = a - q * b
    if fmod:
        return r
    fix = gc.logical_and(r != 0, (r < 0) != (b < 0))  # Python's mod: the divisor's sign
    return gc.where(fix, r + b, r)


@converts("Pow")
def _pow(ctx):
    x, y = ctx.inputs()
    out = gc.pow(x, y)
    return out if out.dtype is x.dtype else gc.cast(out, x.dtype)


def _fold(fn, values):
    out = values[0]
    for v in values[1:]:
        out = fn(out, v)
    return out


@converts("Max")
def _max(ctx):
    return _fold(gc.maximum, ctx.inputs())


@converts("Min")
def _min(ctx):
    return _fold(gc.minimum, ctx.inputs())


@converts("Sum")
def _sum(ctx):
    return _fold(gc.add, ctx.inputs())


@converts("Mean")
def _mean(ctx):
    xs = ctx.inputs()
    return _fold(gc.add, xs) / float(len(xs))


@converts("LeakyRelu")
def _leaky_relu(ctx):
    return gc.leaky_relu(ctx.input(0), ctx.attr("alpha", 0.01))


@converts("Elu")
def _elu(ctx):
    return gc.elu(ctx.input(0), ctx.attr("alpha", 1.0))


@converts("Selu")
def _selu(ctx):
    x = ctx.input(0)
    alpha = ctx.attr("alpha", 1.67326319217681884765625)
    gamma = ctx.attr("gamma", 1.05070102214813232421875)
    return gc.where(x > 0, x, alpha * (gc.exp(gc.minimum(x, 0.0)) - 1.0)) * gamma


@converts("Celu")
def _celu(ctx):
    x, alpha = ctx.input(0), ctx.attr("alpha", 1.0)
    return gc.relu(x) + gc.minimum(alpha * (gc.exp(gc.minimum(x, 0.0) / alpha) - 1.0), 0.0)


@converts("HardSigmoid")
def _hard_sigmoid(ctx):
    x = ctx.input(0)
    return gc.clamp(x * ctx.attr("alpha", 0.2) + ctx.attr("beta", 0.5), 0.0, 1.0)


@converts("HardSwish")
def _hard_swish(ctx):
    x = ctx.input(0)
    return x * gc.clamp(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


@converts("ThresholdedRelu")
def _thresholded_relu(ctx):
    x = ctx.input(0)
    return gc.where(x > ctx.attr("alpha", 1.0), x, 0.0)


@converts("Swish")
def _swish(ctx):
    x = ctx.input(0)
    return x * gc.sigmoid(x * ctx.attr("alpha", 1.0))


@converts("Gelu")
def _gelu(ctx):
    return gc.gelu(ctx.input(0), approximate=ctx.attr("approximate", "none"))


@converts("PRelu")
def _prelu(ctx):
    x, slope = ctx.inputs()
    return gc.where(x < 0, x * slope, x)


@converts("Shrink")
def _shrink(ctx):
    x = ctx.input(0)
    lambd, bias = ctx.attr("lambd", 0.5), ctx.attr("bias", 0.0)
    return gc.where(x < -lambd, x + bias, gc.where(x > lambd, x - bias, 0.0))


@converts("Clip")
def _clip(ctx):
    x = ctx.input(0)
    if ctx.opset < 11:
        return gc.clamp(x, ctx.attr("min", -np.inf), ctx.attr("max", np.inf))
    lo, hi = ctx.maybe_static(1), ctx.maybe_static(2)
    if (lo is None and ctx.has_input(1)) or (hi is None and ctx.has_input(2)):
        out = x if not ctx.has_input(1) else gc.maximum(x, ctx.input(1))
        return out if not ctx.has_input(2) else gc.minimum(out, ctx.input(2))
    if lo is None and hi is None:
        return x
    lo = None if lo is None else np.asarray(lo).item()
    hi = None if hi is None else np.asarray(hi).item()
    if lo is not None and hi is not None and lo > hi:  # ONNX: every value becomes max
        return gc.full_like(x, hi)
    return gc.clamp(x, lo, hi)


@converts("Cast")
def _cast(ctx):
    return gc.cast(ctx.input(0), dtype_from_onnx(ctx.attr("to"), ctx.where))


@converts("CastLike")
def _cast_like(ctx):
    x, like = ctx.inputs()
    return gc.cast(x, like.dtype)


# ---- constants and shapes ----------------------------------------------------------------------
def _eager(array):
    return gc.tensor(np.asarray(array))


@converts("Constant")
def _constant(ctx):
    for key, make in (("value", np.asarray), ("value_float", lambda v: np.float32(v)),
                      ("value_floats", lambda v: np.asarray(v, np.float32)),
                      ("value_int", lambda v: np.int64(v)),
                      ("value_ints", lambda v: np.asarray(v, np.int64))):
        if key in ctx.attrs:
            return _eager(make(ctx.attrs[key]))
    raise ctx.unsupported(f"Constant with attribute {', '.join(ctx.attrs)} (graphc has no "
                          f"string or sparse tensors)")


def take(x, indices, axis):
    """x's entries at integer `indices` along `axis` (a gather: reversed or repeated dims)."""
    return S.index(x, np.asarray(indices, np.int64), axis=axis)


@converts("MatMul")
def _matmul(ctx):
    a, b = ctx.inputs()
    return gc.matmul(a, b)


@converts("Gemm")
def _gemm(ctx):
    a, b, c = ctx.input(0), ctx.input(1), ctx.input(2)
    if ctx.attr("transA", 0):
        a = gc.transpose(a, 0, 1)
    if ctx.attr("transB", 0):
        b = gc.transpose(b, 0, 1)
    y = gc.matmul(a, b)
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@converts("Dropout")
def _dropout(ctx):
    x = ctx.input(0)
    training = ctx.static(2, "training_mode") if ctx.has_input(2) else False
    if bool(np.asarray(training)):
        ratio = ctx.static(1, "ratio") if ctx.has_input(1) else 0.5
        if float(np.asarray(ratio)) != 0.0:
            raise ctx.unsupported("Dropout in training mode (random masks differ between "
                                  "runtimes); export and load models in inference mode")
    if ctx.num_outputs > 1 and ctx.output_used(1):
        return [x, gc.full_like(x, True, dtype=gc.bool)]
    return x

