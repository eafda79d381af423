"""Import converter for Resize (and the older Upsample): interpolation as constant matrices.

Resize is separable and linear in its input: along each resized axis, every output position
is a weighted sum of a few input positions (nearest: one; linear: two; cubic: four; wider
with antialias when downsampling). The weights depend only on the sizes and attributes,
which are known at load time, so each axis becomes a matmul with an (out, in) matrix built
here from the ONNX formulas: differentiable, and compiled like any matmul. Nearest mode uses
a gather instead (exact for every dtype).
"""
from __future__ import annotations

import math

import numpy as np

import graphc as gc
from .import_ops import _known, axis_of, converts, take


def _source_coords(mode, out_len, in_len, scale, roi):
    """Where each output position samples the input (the coordinate_transformation_mode)."""
    y = np.arange(out_len, dtype=np.float64)
    width = scale * in_len  # the output width before rounding
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / width)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return np.full(out_len, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    if mode == "align_corners":
        return np.zeros(out_len) if width == 1 else y * (in_len - 1) / (width - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if width == 1:
            x = np.full(out_len, (end - start) * (in_len - 1) / 2)
        else:
            x = y * (end - start) * (in_len - 1) / (width - 1)
        return x + start * (in_len - 1)
    raise ValueError(f"coordinate_transformation_mode {mode!r}")


def _cubic(x, a):
    x = abs(x)
    if x <= 1:
        return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
    if x < 2:
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
    return 0.0


def _kernel(attrs, ratio, scale):
    """Weights of the window of input positions around a sample point; `ratio` in (0, 1] is
    the distance from the window's left centre pixel."""
    mode, antialias = attrs["mode"], attrs["antialias"]
    if mode == "nearest":
        nearest = attrs["nearest_mode"]
        if ratio == 1:
            return np.array([0.0, 1.0])
        right = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
                 "floor": False, "ceil": True}[nearest]
        return np.array([0.0, 1.0]) if right else np.array([1.0, 0.0])
    if mode == "linear":
        if not antialias:
            return np.array([1 - ratio, ratio])
        s = min(scale, 1.0)
        start = int(np.floor(-1 / s) + 1)
        args = (np.arange(start, 2 - start) - ratio) * s
        w = np.clip(1 - np.abs(args), 0, 1)
        return w / w.sum()
    a = attrs["cubic_coeff_a"]
    if not antialias:
        return np.array([_cubic(ratio + 1, a), _cubic(ratio, a), _cubic(1 - ratio, a),
                         _cubic(2 - ratio, a)])
    s = min(scale, 1.0)
    start = int(np.floor(-2 / s) + 1)
    w = np.array([_cubic(s * (i - ratio), a) for i in range(start, 2 - start)])
    return w / w.sum()


def _axis_matrix(attrs, in_len, out_len, scale, roi):
    """(weights (out, in), extrapolated rows or None) for one axis."""
    x = _source_coords(attrs["coordinate_transformation_mode"], out_len, in_len, scale, roi)
    weights = np.zeros((out_len, in_len))
    for i, xi in enumerate(x):
        base = math.floor(xi)
        ratio = 1.0 if xi == base else xi - base
        w = _kernel(attrs, ratio, scale)
        n = len(w)
        # the n positions nearest to x, ties to the left (an even window starts one further
        # left when x is an integer, which ratio = 1 accounts for)
        if n % 2 == 0:
            first = base - n // 2 + (0 if xi == base else 1)
        else:
            first = base - (n - 1) // 2 + (1 if xi - base > 0.5 else 0)
        idx = np.arange(first, first + n)
        if attrs["exclude_outside"]:
            w = np.where((idx < 0) | (idx >= in_len), 0.0, w)
            w = w / (w.sum() or 1.0)
        for j, wj in zip(np.clip(idx, 0, in_len - 1), w):  # edge padding
            weights[i, j] += wj
    outside = None
    if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        outside = (x < 0) | (x > in_len - 1)
        weights[outside] = 0.0
    return weights, outside


def _resize_axis(x, axis, weights, outside, extrapolation, nearest):
    if nearest and outside is None:
        return take(x, weights.argmax(1), axis)
    moved = gc.transpose(x, axis, -1) if axis != x.ndim - 1 else x
    work = moved if moved.dtype.is_floating_point else gc.cast(moved, gc.float64)
    y = gc.matmul(work, weights.T.astype(work.dtype.np))
    if outside is not None and outside.any():
        y = gc.where(outside, gc.tensor(np.asarray(extrapolation, work.dtype.np)), y)
    if not x.dtype.is_floating_point:
        info = np.iinfo(x.dtype.np)
        y = gc.cast(gc.clamp(_round_half_even(y), float(info.min), float(info.max)), x.dtype)
    return gc.transpose(y, axis, -1) if axis != x.ndim - 1 else y


def _round_half_even(y):
    from .import_ops import _floor
    f = _floor(y)
    frac = y - f
    odd = (f - _floor(f * 0.5) * 2.0) != 0
    return gc.where(gc.logical_or(frac > 0.5, gc.logical_and(frac == 0.5, odd)), f + 1.0, f)


@converts("Resize", "Upsample")
def _resize(ctx):
    x = ctx.input(0)
    if not _known(x.shape):
        raise ctx.unsupported("Resize of symbolic shape")
    attrs = {"mode": ctx.attr("mode", "nearest"), "antialias": ctx.attr("antialias", 0),
             "nearest_mode": ctx.attr("nearest_mode", "round_prefer_floor"),
             "cubic_coeff_a": ctx.attr("cubic_coeff_a", -0.75),
             "exclude_outside": ctx.attr("exclude_outside", 0),
             "coordinate_transformation_mode": ctx.attr("coordinate_transformation_mode",
                                                        "half_pixel")}
    if ctx.op_type == "Upsample" or ctx.opset < 11:
        attrs["coordinate_transformation_mode"] = "asymmetric"
        attrs["nearest_mode"] = "floor" if ctx.op_type == "Upsample" else attrs["nearest_mode"]
    if attrs["mode"] not in ("nearest", "linear", "cubic"):
        raise ctx.unsupported(f"Resize mode {attrs['mode']!r}")
    if attrs["mode"] == "nearest" and attrs["antialias"]:
        raise ctx.unsupported("antialias with mode='nearest'")
    rank = x.ndim
    axes = [axis_of(a, rank) for a in ctx.attr("axes", list(range(rank)))]
    if ctx.op_type == "Upsample" and "scales" in ctx.attrs:
        scales_in, sizes_in, roi_in = ctx.attr("scales"), None, None
    else:
        scale_i, size_i = (1, None) if ctx.op_type == "Upsample" or ctx.opset < 11 else (2, 3)
        crop = attrs["coordinate_transformation_mode"] == "tf_crop_and_resize"
        roi_in = ctx.static(1, "roi") if crop and ctx.has_input(1) else None
        scales_in = ctx.static(scale_i, "scales") if ctx.has_input(scale_i) else None
        sizes_in = ctx.static(size_i, "sizes") if size_i and ctx.has_input(size_i) else None
        if scales_in is not None and np.asarray(scales_in).size == 0:
            scales_in = None
    shape = list(x.shape)
    scales, sizes = [1.0] * rank, list(shape)
    if sizes_in is not None:
        for a, s in zip(axes, np.asarray(sizes_in).reshape(-1)):
            sizes[a] = int(s)
        scales = [sizes[d] / shape[d] for d in range(rank)]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            s = pick(scales[a] for a in axes)
            scales = [s if d in axes else 1.0 for d in range(rank)]
            sizes = [int(s * shape[d] + 0.5) if d in axes else shape[d] for d in range(rank)]
    else:
        for a, s in zip(axes, np.asarray(scales_in).reshape(-1)):
            scales[a] = float(s)
        sizes = [int(scales[d] * shape[d]) for d in range(rank)]
    roi = None
    if roi_in is not None and np.asarray(roi_in).size:
        r = np.asarray(roi_in, np.float64).reshape(-1)
        roi = [(0.0, 1.0)] * rank
        for i, a in enumerate(axes):
            roi[a] = (r[i], r[len(axes) + i])
    for d in range(rank):
        axis_roi = roi[d] if roi else (0.0, 1.0)
        if math.isclose(scales[d], 1.0) and sizes[d] == shape[d] and axis_roi == (0.0, 1.0):
            continue
        weights, outside = _axis_matrix(attrs, shape[d], sizes[d], scales[d], axis_roi)
        x = _resize_axis(x, d, weights, outside, ctx.attr("extrapolation_value", 0.0),
                         attrs["mode"] == "nearest")
    return x
