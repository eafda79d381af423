"""Import converters for reductions, softmax and arg-reductions (registered in CONVERTERS)."""
from __future__ import annotations

import numpy as np

import graphc as gc
from .import_ops import _known, axis_of, converts, take


def _axes(ctx, x):
    """The reduced axes, or None for 'none' (noop_with_empty_axes) ; () means all."""
    uses_input = ctx.op_type == "ReduceSum" and ctx.opset >= 13 or ctx.opset >= 18
    axes = ctx.attr_or_input("axes", 1) if uses_input else ctx.attr("axes")
    if not axes:
        return None if ctx.attr("noop_with_empty_axes", 0) else tuple(range(x.ndim))
    return tuple(sorted(axis_of(a, x.ndim) for a in axes))


# ONNX reduce op -> (graphc reduction of x over dims keeping dims, value over an empty set)
def _amax(x, dims, keep):
    return gc.amax(x, dims, keep)


REDUCTIONS = {
    "ReduceSum": (lambda x, d, k: gc.sum(x, d, k), 0),
    "ReduceMean": (lambda x, d, k: gc.mean(x, d, k), np.nan),
    "ReduceMax": (_amax, -np.inf),
    "ReduceMin": (lambda x, d, k: gc.amin(x, d, k), np.inf),
    "ReduceL1": (lambda x, d, k: gc.sum(gc.abs(x), d, k), 0),
    "ReduceL2": (lambda x, d, k: gc.sqrt(gc.sum(x * x, d, k)), 0),
    "ReduceSumSquare": (lambda x, d, k: gc.sum(x * x, d, k), 0),
    "ReduceLogSum": (lambda x, d, k: gc.log(gc.sum(x, d, k)), -np.inf),
    "ReduceLogSumExp": (lambda x, d, k: gc.logsumexp(x, d, k), -np.inf),
}


def _reduce(ctx):
    x = ctx.input(0)
    dims = _axes(ctx, x)
    if dims is None:
        return x
    keep = bool(ctx.attr("keepdims", 1))
    fn, empty = REDUCTIONS[ctx.op_type]
    if _known(x.shape) and any(x.shape[d] == 0 for d in dims):
        # a reduction over nothing: the ONNX identity element, whatever the data
        shape = [1 if d in dims else n for d, n in enumerate(x.shape) if keep or d not in dims]
        if x.dtype.is_integer and not np.isfinite(empty):
            info = np.iinfo(x.dtype.np)
            empty = info.min if empty < 0 else info.max
        return gc.tensor(np.full(shape, empty, x.dtype.np))
    if x.dtype.is_bool and ctx.op_type in ("ReduceMax", "ReduceMin"):  # any / all
        return gc.cast(fn(gc.cast(x, gc.uint8), dims, keep), gc.bool)
    return fn(x, dims, keep)


for _name in REDUCTIONS:
    converts(_name)(_reduce)


def _arg(fn):
    def convert(ctx):
        x = ctx.input(0)
        axis = axis_of(ctx.attr("axis", 0), x.ndim)
        keep = bool(ctx.attr("keepdims", 1))
        if not ctx.attr("select_last_index", 0):
            return fn(x, axis, keep)
        n = x.shape[axis]
        if not isinstance(n, int):
            raise ctx.unsupported("select_last_index on a symbolic dim")
        flipped = take(x, np.arange(n - 1, -1, -1), axis)
        return (n - 1) - fn(flipped, axis, keep)
    return convert


converts("ArgMax")(_arg(gc.argmax))
converts("ArgMin")(_arg(gc.argmin))


def _softmax_like(fn):
    def convert(ctx):
        x = ctx.input(0)
        if ctx.opset >= 13:
            return fn(x, axis_of(ctx.attr("axis", -1), x.ndim))
        # opsets < 13: the input is seen as 2-D, flattened at `axis`
        axis = axis_of(ctx.attr("axis", 1), x.ndim)
        shape = x.shape
        if not _known(shape):
            raise ctx.unsupported(f"{ctx.op_type} (opset < 13) of symbolic shape {list(shape)}")
        flat = gc.reshape(x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))
        return gc.reshape(fn(flat, 1), shape)
    return convert


def _hardmax(x, dim):
    n = x.shape[dim]
    hot = gc.unsqueeze(gc.argmax(x, dim), dim)
    view = [1] * x.ndim
    view[dim] = n
    return gc.cast(gc.eq(hot, np.arange(n, dtype=np.int64).reshape(view)), x.dtype)


converts("Softmax")(_softmax_like(lambda x, d: gc.softmax(x, d)))
converts("LogSoftmax")(_softmax_like(lambda x, d: gc.log_softmax(x, d)))
converts("Hardmax")(_softmax_like(_hardmax))
