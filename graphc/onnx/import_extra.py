"""Import converters for ops graphc has no primitive for, written as composites:
ReduceProd and CumProd (products by halving: log-depth), Einsum (aligned broadcast products
and sums), ScatterElements (graphc's scatter-add), CenterCropPad (crop or pad per axis)."""
from __future__ import annotations

import numpy as np

import graphc as gc
from ..ops import shape as S
from .import_ops import _known, axis_of, converts
from .import_shapes import _grid_indices, pad_axis


def _slice_axis(x, axis, start, stop):
    index = [("slice", None, None, None)] * x.ndim
    index[axis] = ("slice", start, stop, 1)
    return S.slice(x, index=tuple(index))


def prod_along(x, axis):
    """The product over `axis` (kept, size 1): multiply halves until one row is left."""
    n = x.shape[axis]
    if n == 0:
        shape = list(x.shape)
        shape[axis] = 1
        return gc.tensor(np.ones(shape, x.dtype.np))
    while n > 1:
        half = n // 2
        product = _slice_axis(x, axis, 0, half) * _slice_axis(x, axis, half, 2 * half)
        x = gc.cat([product, _slice_axis(x, axis, 2 * half, n)], axis) if n % 2 else product
        n = x.shape[axis]
    return x


@converts("ReduceProd")
def _reduce_prod(ctx):
    x = ctx.input(0)
    if not _known(x.shape):
        raise ctx.unsupported("ReduceProd of symbolic shape")
    axes = ctx.attr_or_input("axes", 1) if ctx.opset >= 18 else ctx.attr("axes")
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return x
        axes = list(range(x.ndim))
    axes = sorted(axis_of(a, x.ndim) for a in axes)
    for a in axes:
        x = prod_along(x, a)
    return x if ctx.attr("keepdims", 1) else gc.squeeze(x, tuple(axes))


@converts("CumProd")
def _cumprod(ctx):
    x = ctx.input(0)
    axis = axis_of(int(np.asarray(ctx.static(1, "axis")).reshape(-1)[0]), x.ndim)
    n = x.shape[axis]
    if not isinstance(n, int):
        raise ctx.unsupported("CumProd along a symbolic dim")
    reverse, exclusive = ctx.attr("reverse", 0), ctx.attr("exclusive", 0)
    if reverse:
        x = _reverse(x, axis)
    ones = gc.ones_like(_slice_axis(x, axis, 0, 1))
    if exclusive:  # shift right by one, a 1 in front
        x = gc.cat([ones, _slice_axis(x, axis, 0, n - 1)], axis)
    shift = 1
    while shift < n:  # Hillis-Steele scan: after step k, each entry holds 2**k factors
        front = gc.broadcast_to(ones, tuple(shift if d == axis else s
                                            for d, s in enumerate(x.shape)))
        x = x * gc.cat([front, _slice_axis(x, axis, 0, n - shift)], axis)
        shift *= 2
    return _reverse(x, axis) if reverse else x


def _reverse(x, axis):
    from .import_ops import take
    return take(x, np.arange(x.shape[axis] - 1, -1, -1), axis)


@converts("Einsum")
def _einsum(ctx):
    """Each operand is permuted and unsqueezed onto one letter order, multiplied with the
    others (broadcasting), and the letters missing from the output are summed."""
    equation = ctx.attr("equation").replace(" ", "")
    operands = ctx.inputs()
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if "." in equation or any(len(set(t)) != len(t) for t in terms):
        raise ctx.unsupported(f"Einsum {equation!r} (ellipsis or repeated letters: diagonals)")
    if not _:
        rhs = "".join(sorted(c for c in set(lhs) - {","} if lhs.count(c) == 1))
    letters = list(dict.fromkeys(rhs + "".join(terms)))
    product = None
    for term, x in zip(terms, operands):
        present = [c for c in letters if c in term]
        y = gc.permute(x, tuple(term.index(c) for c in present)) if len(present) > 1 else x
        for i, c in enumerate(letters):
            if c not in term:
                y = gc.unsqueeze(y, i)
        product = y if product is None else product * y
    summed = tuple(i for i, c in enumerate(letters) if c not in rhs)
    return gc.sum(product, summed) if summed else product


@converts("ScatterElements")
def _scatter_elements(ctx):
    x, idx, updates = ctx.inputs()
    axis = axis_of(ctx.attr("axis", 0), x.ndim)
    reduction = ctx.attr("reduction", "none")
    if reduction not in ("none", "add") or not _known(idx.shape):
        raise ctx.unsupported(f"ScatterElements with reduction={reduction!r}")
    idx = gc.where(idx < 0, idx + x.shape[axis], idx)
    grid = _grid_indices(idx.shape, axis, idx)
    added = S.index_backward(updates, x, *grid, axis=0)  # zeros like x, updates added at idx
    if reduction == "add":
        return x + added
    hit = S.index_backward(gc.ones_like(updates), x, *grid, axis=0) > 0
    return gc.where(hit, added, x)


@converts("CenterCropPad")
def _center_crop_pad(ctx):
    x = ctx.input(0)
    shape = [int(s) for s in ctx.static(1, "shape")]
    axes = [axis_of(a, x.ndim) for a in ctx.attr("axes", list(range(x.ndim)))]
    for a, want in zip(axes, shape):
        have = x.shape[a]
        diff = want - have  # > 0 pads, < 0 crops; the odd one goes to the end (ONNX)
        begin = diff // 2 if diff >= 0 else -((-diff) // 2)
        x = pad_axis(ctx, x, a, begin, diff - begin)
    return x
