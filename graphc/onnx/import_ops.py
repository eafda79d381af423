"""The import table: ONNX op type -> converter written with graphc functions.

A converter takes a `NodeContext` (inputs, attributes, opset) and returns the node's outputs
(one value or a list). Inputs are symbolic values, or eager tensors for values known at load
time: the same code then folds them. Adding an op is adding one entry; ops that ONNX and
graphc define alike are one line in `UNARY`/`BINARY`. Neural-network ops (Conv, pooling,
normalization, losses) are in import_nn.py, which registers into the same table.
"""
from __future__ import annotations

import math

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


def _shape_of(ctx, x):
    if not _known(x.shape):
        raise ctx.unsupported(f"the input shape {list(x.shape)} has symbolic dims; graphc "
                              f"folds {ctx.op_type} at load time and needs concrete sizes")
    return tuple(x.shape)


@converts("Shape")
def _shape(ctx):
    shape = _shape_of(ctx, ctx.input(0))
    n = len(shape)
    start, end = ctx.attr("start", 0), ctx.attr("end", n)
    start, end = min(max(axis_of(start, n), 0), n), min(max(axis_of(end, n), 0), n)
    return _eager(np.asarray(shape[start:end], np.int64))


@converts("Size")
def _size(ctx):
    return _eager(np.int64(math.prod(_shape_of(ctx, ctx.input(0)))))


@converts("ConstantOfShape")
def _constant_of_shape(ctx):
    value = ctx.attr("value", np.zeros(1, np.float32))
    shape = [int(d) for d in ctx.static(0, "shape")]
    return _eager(np.full(shape, np.asarray(value).reshape(-1)[0], np.asarray(value).dtype))


@converts("Range")
def _range(ctx):
    start, limit, delta = (ctx.static(i, name) for i, name in
                           enumerate(("start", "limit", "delta")))
    dtype = np.asarray(start).dtype
    n = max(int(np.ceil((limit - start) / delta)), 0)
    return _eager((start + np.arange(n) * delta).astype(dtype))


@converts("EyeLike")
def _eye_like(ctx):
    x = ctx.input(0)
    shape = _shape_of(ctx, x)
    dtype = dtype_from_onnx(ctx.attr("dtype"), ctx.where).np if "dtype" in ctx.attrs \
        else x.dtype.np
    return _eager(np.eye(shape[0], shape[1], ctx.attr("k", 0), dtype=dtype))


@converts("Reshape")
def _reshape(ctx):
    x = ctx.input(0)
    shape = [int(d) for d in ctx.static(1, "shape")]
    if not ctx.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        if not _known(shape):
            raise ctx.unsupported(f"a 0 in shape {shape} copies a symbolic dim")
    return gc.reshape(x, shape)


@converts("Flatten")
def _flatten(ctx):
    x = ctx.input(0)
    axis = axis_of(ctx.attr("axis", 1), x.ndim)
    outer = x.shape[:axis]
    lead = math.prod(outer) if _known(outer) else -1
    return gc.reshape(x, (lead, -1) if lead != -1 else (-1, math.prod(x.shape[axis:])))


@converts("Squeeze")
def _squeeze(ctx):
    x = ctx.input(0)
    axes = ctx.attr_or_input("axes", 1)
    if axes is None:
        return gc.squeeze(x)
    axes = tuple(sorted(axis_of(a, x.ndim) for a in axes))
    return gc.squeeze(x, axes) if axes else x


@converts("Unsqueeze")
def _unsqueeze(ctx):
    x = ctx.input(0)
    axes = ctx.attr_or_input("axes", 1)
    rank = x.ndim + len(axes)
    for a in sorted(axis_of(a, rank) for a in axes):
        x = gc.unsqueeze(x, a)
    return x


@converts("Transpose")
def _transpose(ctx):
    x = ctx.input(0)
    perm = ctx.attr("perm", list(reversed(range(x.ndim))))
    return gc.permute(x, tuple(perm))


@converts("Concat")
def _concat(ctx):
    xs = [v for v in ctx.inputs() if v is not None]
    return gc.cat(xs, axis_of(ctx.attr("axis"), xs[0].ndim))


@converts("Split")
def _split(ctx):
    x = ctx.input(0)
    axis = axis_of(ctx.attr("axis", 0), x.ndim)
    sizes = ctx.attr_or_input("split", 1)
    if sizes is None:
        n, parts = x.shape[axis], ctx.attr("num_outputs", ctx.num_outputs)
        if not isinstance(n, int):
            raise ctx.unsupported(f"splitting the symbolic dim {axis} of {list(x.shape)}")
        step = -(-n // parts)
        sizes = [min(step, n - i * step) for i in range(parts)]
    return list(gc.split(x, list(sizes), axis))


def take(x, indices, axis):
    """x's entries at integer `indices` along `axis` (a gather: reversed or repeated dims)."""
    return S.index(x, np.asarray(indices, np.int64), axis=axis)


@converts("Slice")
def _slice(ctx):
    x = ctx.input(0)
    if ctx.opset < 10:
        starts, ends = ctx.attr("starts"), ctx.attr("ends")
        axes, steps = ctx.attr("axes"), None
    else:
        starts = [int(v) for v in ctx.static(1, "starts")]
        ends = [int(v) for v in ctx.static(2, "ends")]
        axes = ctx.attr_or_input("axes", 3)
        steps = ctx.attr_or_input("steps", 4)
    axes = list(range(len(starts))) if axes is None else [axis_of(a, x.ndim) for a in axes]
    steps = steps or [1] * len(starts)
    big = 2 ** 62  # INT64_MAX and friends: Python slices clamp like ONNX does
    index = [("slice", None, None, None)] * x.ndim
    reversed_axes = []
    for a, s, e, st in zip(axes, starts, ends, steps):
        s, e = max(min(s, big), -big), max(min(e, big), -big)
        n = x.shape[a]
        if st < 0:
            if not isinstance(n, int):
                raise ctx.unsupported(f"a negative step on the symbolic dim {a}")
            reversed_axes.append((a, range(*slice(s, e, st).indices(n))))
        elif isinstance(n, int):
            index[a] = ("slice",) + slice(s, e, st).indices(n)
        else:
            index[a] = ("slice", s, e, st)
    if any(e != ("slice", None, None, None) for e in index):
        x = S.slice(x, index=tuple(index))
    for a, picked in reversed_axes:
        x = take(x, list(picked), a)
    return x


@converts("Gather")
def _gather(ctx):
    x, idx = ctx.inputs()
    axis = axis_of(ctx.attr("axis", 0), x.ndim)
    n = x.shape[axis]
    if isinstance(n, int):  # negative indices count from the end
        idx = gc.where(idx < 0, idx + n, idx)
    return S.index(x, idx, axis=axis)


def _grid_indices(shape, axis, idx):
    """Index arrays selecting idx along `axis` and every position along the other dims."""
    arrays = []
    for d, n in enumerate(shape):
        if d == axis:
            arrays.append(idx)
        else:
            view = [1] * len(shape)
            view[d] = n
            arrays.append(np.arange(n, dtype=np.int64).reshape(view))
    return arrays


@converts("GatherElements")
def _gather_elements(ctx):
    x, idx = ctx.inputs()
    axis = axis_of(ctx.attr("axis", 0), x.ndim)
    if not _known(idx.shape) or not isinstance(x.shape[axis], int):
        raise ctx.unsupported("GatherElements with symbolic shapes")
    idx = gc.where(idx < 0, idx + x.shape[axis], idx)
    return S.index(x, *_grid_indices(idx.shape, axis, idx), axis=0)


@converts("GatherND")
def _gather_nd(ctx):
    x, idx = ctx.inputs()
    if ctx.attr("batch_dims", 0):
        raise ctx.unsupported("GatherND with batch_dims > 0")
    k = idx.shape[-1]
    return S.index(x, *[idx[..., j] for j in range(k)], axis=0)


@converts("Expand")
def _expand(ctx):
    x = ctx.input(0)
    shape = [int(d) for d in ctx.static(1, "shape")]
    n = max(len(shape), x.ndim)
    a = [1] * (n - x.ndim) + list(x.shape)
    b = [1] * (n - len(shape)) + shape
    out = [da if db == 1 else db for da, db in zip(a, b)]
    return gc.broadcast_to(x, tuple(out))


@converts("Tile")
def _tile(ctx):
    x = ctx.input(0)
    reps = [int(r) for r in ctx.static(1, "repeats")]
    shape = _shape_of(ctx, x)
    inter = [v for r, d in zip(reps, shape) for v in (1, d)]
    big = [v for r, d in zip(reps, shape) for v in (r, d)]
    y = gc.broadcast_to(gc.reshape(x, inter), tuple(big))
    return gc.reshape(y, [r * d for r, d in zip(reps, shape)])


@converts("Pad")
def _pad(ctx):
    x = ctx.input(0)
    mode = ctx.attr("mode", "constant")
    if ctx.opset < 11:
        pads, value = list(ctx.attr("pads")), ctx.attr("value", 0.0)
        axes = list(range(x.ndim))
    else:
        pads = [int(p) for p in ctx.static(1, "pads")]
        value = np.asarray(ctx.static(2, "constant_value")).item() if ctx.has_input(2) else 0
        axes = ctx.attr_or_input("axes", 3) or list(range(x.ndim))
    axes = [axis_of(a, x.ndim) for a in axes]
    begins, ends = pads[:len(axes)], pads[len(axes):]
    for a, b, e in zip(axes, begins, ends):
        x = pad_axis(ctx, x, a, b, e, mode, value)
    return x


def pad_axis(ctx, x, axis, before, after, mode="constant", value=0.0):
    """Pad (or crop, for negative widths) one axis."""
    n = x.shape[axis]
    if before < 0 or after < 0:
        index = [("slice", None, None, None)] * x.ndim
        index[axis] = ("slice", max(-before, 0), (n + min(after, 0)) if isinstance(n, int)
                       else (min(after, 0) or None), 1)
        x = S.slice(x, index=tuple(index))
        before, after = max(before, 0), max(after, 0)
    if before == 0 and after == 0:
        return x
    if mode == "constant":
        widths = [0, 0] * (x.ndim - 1 - axis) + [before, after]
        return gc.pad(x, widths, value=value)
    n = x.shape[axis]
    if not isinstance(n, int):
        raise ctx.unsupported(f"Pad mode {mode!r} on a symbolic dim")
    positions = np.arange(-before, n + after)
    if mode == "edge":
        picked = np.clip(positions, 0, n - 1)
    elif mode == "reflect":
        period = 2 * (n - 1)
        p = np.abs(positions) % period if period else np.zeros_like(positions)
        picked = np.where(p >= n, period - p, p)
    elif mode == "wrap":
        picked = positions % n
    else:
        raise ctx.unsupported(f"Pad mode {mode!r}")
    return take(x, picked, axis)


@converts("Trilu")
def _trilu(ctx):
    x = ctx.input(0)
    k = int(ctx.static(1, "k")) if ctx.has_input(1) else 0
    rows, cols = _shape_of(ctx, x)[-2:]
    mask = np.triu(np.ones((rows, cols), bool), k) if ctx.attr("upper", 1) \
        else np.tril(np.ones((rows, cols), bool), k)
    return gc.where(mask, x, gc.zeros_like(x))


@converts("DepthToSpace")
def _depth_to_space(ctx):
    x = ctx.input(0)
    b = ctx.attr("blocksize")
    n, c, h, w = _shape_of(ctx, x)
    if ctx.attr("mode", "DCR") == "DCR":
        y = gc.permute(gc.reshape(x, (n, b, b, c // b // b, h, w)), (0, 3, 4, 1, 5, 2))
    else:
        y = gc.permute(gc.reshape(x, (n, c // b // b, b, b, h, w)), (0, 1, 4, 2, 5, 3))
    return gc.reshape(y, (n, c // b // b, h * b, w * b))


@converts("SpaceToDepth")
def _space_to_depth(ctx):
    x = ctx.input(0)
    b = ctx.attr("blocksize")
    n, c, h, w = _shape_of(ctx, x)
    y = gc.permute(gc.reshape(x, (n, c, h // b, b, w // b, b)), (0, 3, 5, 1, 2, 4))
    return gc.reshape(y, (n, c * b * b, h // b, w // b))


@converts("OneHot")
def _one_hot(ctx):
    idx, values = ctx.input(0), ctx.input(2)
    depth = int(np.asarray(ctx.static(1, "depth")).reshape(-1)[0])
    axis = axis_of(ctx.attr("axis", -1), idx.ndim + 1)
    idx = gc.cast(idx, gc.int64) if idx.dtype.is_floating_point else idx
    idx = gc.where(idx < 0, idx + depth, idx)
    view = [1] * (idx.ndim + 1)
    view[axis] = depth
    hot = gc.eq(gc.unsqueeze(idx, axis), np.arange(depth, dtype=np.int64).reshape(view))
    return gc.where(hot, values[1], values[0])


@converts("CumSum")
def _cumsum(ctx):
    x = ctx.input(0)
    axis = axis_of(int(np.asarray(ctx.static(1, "axis")).reshape(-1)[0]), x.ndim)
    n = x.shape[axis]
    if not isinstance(n, int):
        raise ctx.unsupported("CumSum along a symbolic dim")
    j, i = np.arange(n)[:, None], np.arange(n)[None, :]  # out[i] = sum over j of x[j]*M[j, i]
    exclusive, reverse = ctx.attr("exclusive", 0), ctx.attr("reverse", 0)
    mask = (j >= i) if reverse else (j <= i)
    if exclusive:
        mask &= (j != i)
    moved = gc.unsqueeze(gc.transpose(x, axis, -1), -1)  # (..., n, 1)
    total = gc.sum(moved * mask.astype(x.dtype.np), -2)
    return gc.cast(gc.transpose(total, axis, -1), x.dtype)  # sum widens integers


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


from . import import_nn, import_reduce  # noqa: E402,F401  (register their converters)
