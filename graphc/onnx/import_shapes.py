"""Import converters for shapes, indexing and padding (registered in import_ops.CONVERTERS).

Shapes, axes, pads and repeats are read at load time (`ctx.static`): graphc's shape ops take
them as attributes. Shape and Size fold to constants, which needs concrete sizes.
"""
from __future__ import annotations

import math

import numpy as np

import graphc as gc
from ..ops import shape as S
from .common import dtype_from_onnx
from .import_ops import _eager, _known, axis_of, converts, take


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


@converts("Compress")
def _compress(ctx):
    x = ctx.input(0)
    keep = np.nonzero(np.asarray(ctx.static(1, "condition")).reshape(-1))[0]
    if "axis" not in ctx.attrs:
        return take(gc.reshape(x, (-1,)), keep, 0)
    axis = axis_of(ctx.attr("axis"), x.ndim)
    return take(x, keep[keep < x.shape[axis]], axis)
