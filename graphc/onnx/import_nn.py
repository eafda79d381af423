"""Import converters for neural-network ops: convolution, pooling, normalization, losses.

graphc's convolution and pooling ops are 2-D (NCHW); ONNX's 1-D forms get a height of 1.
ONNX allows asymmetric pads; where graphc's op takes only symmetric ones, the input is
padded first (with -inf for max pooling) and the op runs unpadded.
"""
from __future__ import annotations

import numpy as np

import graphc as gc
from ..ops import shape as S
from .import_ops import _known, axis_of, converts
from .import_shapes import _grid_indices, pad_axis


def _spatial(ctx, x, what):
    dims = x.ndim - 2
    if dims not in (1, 2):
        raise ctx.unsupported(f"{what} over {dims} spatial dims (graphc has 1-D and 2-D)")
    return dims


def _to_2d(x, dims):
    return gc.unsqueeze(x, 2) if dims == 1 else x


def _from_2d(y, dims):
    return gc.squeeze(y, 2) if dims == 1 else y


def _pads(ctx, x, kernel, strides, dilations):
    """Per spatial dim (begin, end) pads from `pads` or `auto_pad`."""
    dims = len(kernel)
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = ctx.attr("pads", [0] * 2 * dims)
        return [(pads[i], pads[i + dims]) for i in range(dims)]
    if auto == "VALID":
        return [(0, 0)] * dims
    out = []
    for i in range(dims):
        n = x.shape[2 + i]
        if not isinstance(n, int):
            raise ctx.unsupported(f"auto_pad={auto} on a symbolic spatial dim")
        total = max((-(-n // strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
                    - n, 0)
        small, large = total // 2, total - total // 2
        out.append((small, large) if auto == "SAME_UPPER" else (large, small))
    return out


def _geometry(ctx, x, kernel):
    dims = len(kernel)
    strides = list(ctx.attr("strides", [1] * dims))
    dilations = list(ctx.attr("dilations", [1] * dims))
    return strides, dilations, _pads(ctx, x, kernel, strides, dilations)


def _as2(values, dims, fill):
    return tuple([fill] + list(values)) if dims == 1 else tuple(values)


@converts("Conv")
def _conv(ctx):
    x, w, b = ctx.input(0), ctx.input(1), ctx.input(2)
    dims = _spatial(ctx, x, "Conv")
    kernel = list(ctx.attr("kernel_shape", w.shape[2:]))
    strides, dilations, pads = _geometry(ctx, x, kernel)
    padding = (0, 0) + pads[0] if dims == 1 else pads[0] + pads[1]
    y = gc.nn.functional.conv2d(_to_2d(x, dims), _to_2d(w, dims), b,
                                stride=_as2(strides, dims, 1), padding=padding,
                                dilation=_as2(dilations, dims, 1), groups=ctx.attr("group", 1))
    return _from_2d(y, dims)


@converts("ConvTranspose")
def _conv_transpose(ctx):
    x, w, b = ctx.input(0), ctx.input(1), ctx.input(2)
    dims = _spatial(ctx, x, "ConvTranspose")
    kernel = list(ctx.attr("kernel_shape", w.shape[2:]))
    strides = list(ctx.attr("strides", [1] * dims))
    dilations = list(ctx.attr("dilations", [1] * dims))
    out_pad = list(ctx.attr("output_padding", [0] * dims))
    full = [(x.shape[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
            for i in range(dims)]
    if "output_shape" in ctx.attrs:
        shape = list(ctx.attr("output_shape"))[-dims:]
        totals = [full[i] + out_pad[i] - shape[i] for i in range(dims)]
        upper = ctx.attr("auto_pad", "NOTSET") == "SAME_UPPER"  # ONNX's reference rule
        pads = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    elif ctx.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        totals = [full[i] + out_pad[i] - x.shape[2 + i] * strides[i] for i in range(dims)]
        upper = ctx.attr("auto_pad") == "SAME_UPPER"
        pads = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    else:
        p = ctx.attr("pads", [0] * 2 * dims)
        pads = [(p[i], p[i + dims]) for i in range(dims)]
    y = gc.nn.functional.conv_transpose2d(_to_2d(x, dims), _to_2d(w, dims), None,
                                          stride=_as2(strides, dims, 1),
                                          groups=ctx.attr("group", 1),
                                          dilation=_as2(dilations, dims, 1))
    for i, (begin, end) in enumerate(pads):  # crop the pads, add output_padding at the end
        y = pad_axis(ctx, y, y.ndim - dims + i, -begin, out_pad[i] - end)
    y = _from_2d(y, dims)
    if b is not None:
        y = y + gc.reshape(b, (-1,) + (1,) * dims)
    return y


def _pool_setup(ctx, what):
    x = ctx.input(0)
    dims = _spatial(ctx, x, what)
    kernel = list(ctx.attr("kernel_shape"))
    strides, dilations, pads = _geometry(ctx, x, kernel)
    return x, dims, kernel, strides, dilations, pads


def _symmetric_ok(pads, kernel, dilations):
    return all(b == e and b <= ((k - 1) * d + 1) // 2
               for (b, e), k, d in zip(pads, kernel, dilations))


def _prepad(ctx, x, pads, value):
    for i, (b, e) in enumerate(pads):
        x = pad_axis(ctx, x, x.ndim - len(pads) + i, b, e, value=value)
    return x


@converts("MaxPool")
def _max_pool(ctx):
    x, dims, kernel, strides, dilations, pads = _pool_setup(ctx, "MaxPool")
    if not x.dtype.is_floating_point:  # graphc pools floats; float64 holds these exactly
        result = _max_pool_float(ctx, gc.cast(x, gc.float64), dims, kernel, strides,
                                 dilations, pads)
        if isinstance(result, list):
            return [gc.cast(result[0], x.dtype), result[1]]
        return gc.cast(result, x.dtype)
    return _max_pool_float(ctx, x, dims, kernel, strides, dilations, pads)


def _max_pool_float(ctx, x, dims, kernel, strides, dilations, pads):
    padding = [b for b, _ in pads]
    direct = _symmetric_ok(pads, kernel, dilations)
    if not direct:
        x = _prepad(ctx, x, pads, -np.inf)
        padding = [0] * dims
    values, indices = gc.nn.functional.max_pool2d(
        _to_2d(x, dims), _as2(kernel, dims, 1), _as2(strides, dims, 1), _as2(padding, dims, 0),
        _as2(dilations, dims, 1), bool(ctx.attr("ceil_mode", 0)), return_indices=True)
    values = _from_2d(values, dims)
    if not ctx.output_used(1):
        return values
    if not direct or ctx.attr("storage_order", 0) or not _known(x.shape):
        raise ctx.unsupported("the Indices output with asymmetric pads, storage_order=1 or "
                              "symbolic shapes")
    n, c = x.shape[:2]
    plane = int(np.prod(x.shape[2:]))
    offsets = (np.arange(n * c, dtype=np.int64) * plane).reshape((n, c) + (1,) * dims)
    return [values, _from_2d(indices, dims) + offsets]


@converts("AveragePool")
def _avg_pool(ctx):
    x, dims, kernel, strides, dilations, pads = _pool_setup(ctx, "AveragePool")
    if any(d != 1 for d in dilations):
        raise ctx.unsupported("AveragePool with dilations (graphc's avg_pool2d has none)")
    include = bool(ctx.attr("count_include_pad", 0))
    ceil = bool(ctx.attr("ceil_mode", 0))

    def pool(v, padding, count_pad):
        return _from_2d(gc.nn.functional.avg_pool2d(
            _to_2d(v, dims), _as2(kernel, dims, 1), _as2(strides, dims, 1),
            _as2(padding, dims, 0), ceil, count_pad), dims)
    if _symmetric_ok(pads, kernel, dilations):
        return pool(x, [b for b, _ in pads], include)
    summed = pool(_prepad(ctx, x, pads, 0.0), [0] * dims, True)
    if include:
        return summed
    if not _known(x.shape[2:]):
        raise ctx.unsupported("asymmetric pads on symbolic spatial dims")
    ones = gc.tensor(np.ones((1, 1) + tuple(x.shape[2:]), x.dtype.np))
    counts = pool(_prepad(ctx, ones, pads, 0.0), [0] * dims, True)  # folded at load time
    return summed / counts


@converts("LpPool")
def _lp_pool(ctx):
    """(sum over each window of |x|^p)^(1/p): an average pool counting the zero padding,
    times the window size."""
    x, dims, kernel, strides, dilations, pads = _pool_setup(ctx, "LpPool")
    if any(d != 1 for d in dilations):
        raise ctx.unsupported("LpPool with dilations")
    p = float(ctx.attr("p", 2))
    powered = gc.pow(gc.abs(x), p)
    padding = [b for b, _ in pads]
    if not _symmetric_ok(pads, kernel, dilations):
        powered, padding = _prepad(ctx, powered, pads, 0.0), [0] * dims
    mean = gc.nn.functional.avg_pool2d(
        _to_2d(powered, dims), _as2(kernel, dims, 1), _as2(strides, dims, 1),
        _as2(padding, dims, 0), bool(ctx.attr("ceil_mode", 0)), True)
    return gc.pow(_from_2d(mean, dims) * float(np.prod(kernel)), 1.0 / p)


@converts("GlobalAveragePool")
def _global_avg(ctx):
    x = ctx.input(0)
    return gc.mean(x, tuple(range(2, x.ndim)), keepdim=True)


@converts("GlobalMaxPool")
def _global_max(ctx):
    x = ctx.input(0)
    return gc.amax(x, tuple(range(2, x.ndim)), keepdim=True)


def _per_channel(v, ndim):
    return gc.reshape(v, (-1,) + (1,) * (ndim - 2))


@converts("BatchNormalization")
def _batch_norm(ctx):
    x, scale, bias, mean, var = ctx.inputs()[:5]
    eps = ctx.attr("epsilon", 1e-5)
    training = ctx.attr("training_mode", 0) or (ctx.opset < 9 and not ctx.attr("is_test", 1))
    if ctx.opset < 9 and not ctx.attr("spatial", 1):
        raise ctx.unsupported("BatchNormalization with spatial=0")
    nd = x.ndim
    outputs = []
    if training:
        dims = (0,) + tuple(range(2, nd))
        batch_mean = gc.mean(x, dims)
        batch_var = gc.var(x, dims, correction=0)
        m = ctx.attr("momentum", 0.9)
        outputs = [mean * m + batch_mean * (1 - m), var * m + batch_var * (1 - m)]
        mean, var = batch_mean, batch_var
    y = (x - _per_channel(mean, nd)) * _per_channel(gc.rsqrt(var + eps) * scale, nd) \
        + _per_channel(bias, nd)
    return [y] + outputs


@converts("InstanceNormalization")
def _instance_norm(ctx):
    x, scale, bias = ctx.inputs()
    dims = tuple(range(2, x.ndim))
    mean = gc.mean(x, dims, keepdim=True)
    var = gc.var(x, dims, keepdim=True, correction=0)
    y = (x - mean) * gc.rsqrt(var + ctx.attr("epsilon", 1e-5))
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@converts("LayerNormalization")
def _layer_norm(ctx):
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    axis = axis_of(ctx.attr("axis", -1), x.ndim)
    dims = tuple(range(axis, x.ndim))
    work = gc.float32 if ctx.attr("stash_type", 1) == 1 else x.dtype
    xs = gc.cast(x, work)
    mean = gc.mean(xs, dims, keepdim=True)
    inv_std = gc.rsqrt(gc.var(xs, dims, keepdim=True, correction=0) + ctx.attr("epsilon", 1e-5))
    y = gc.cast((xs - mean) * inv_std, x.dtype) * scale
    if bias is not None:
        y = y + bias
    return [y, mean, inv_std]


@converts("GroupNormalization")
def _group_norm(ctx):
    x, scale, bias = ctx.inputs()
    groups = ctx.attr("num_groups")
    n, c = x.shape[:2]
    if not _known(x.shape):
        raise ctx.unsupported("GroupNormalization of symbolic shape")
    g = gc.reshape(x, (n, groups, -1))
    mean = gc.mean(g, 2, keepdim=True)
    var = gc.var(g, 2, keepdim=True, correction=0)
    y = gc.reshape((g - mean) * gc.rsqrt(var + ctx.attr("epsilon", 1e-5)), x.shape)
    if ctx.opset < 21:  # scale and bias per group
        scale = gc.reshape(gc.broadcast_to(gc.unsqueeze(scale, 1), (groups, c // groups)), (c,))
        bias = gc.reshape(gc.broadcast_to(gc.unsqueeze(bias, 1), (groups, c // groups)), (c,))
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@converts("RMSNormalization")
def _rms_norm(ctx):
    x, scale = ctx.input(0), ctx.input(1)
    axis = axis_of(ctx.attr("axis", -1), x.ndim)
    dims = tuple(range(axis, x.ndim))
    work = gc.float32 if ctx.attr("stash_type", 1) == 1 else x.dtype
    xs = gc.cast(x, work)
    y = xs * gc.rsqrt(gc.mean(xs * xs, dims, keepdim=True) + ctx.attr("epsilon", 1e-5))
    return gc.cast(y, x.dtype) * scale


@converts("LpNormalization")
def _lp_norm(ctx):
    x = ctx.input(0)
    axis = axis_of(ctx.attr("axis", -1), x.ndim)
    p = ctx.attr("p", 2)
    if p == 1:
        norm = gc.sum(gc.abs(x), axis, keepdim=True)
    elif p == 2:
        norm = gc.sqrt(gc.sum(x * x, axis, keepdim=True))
    else:
        raise ctx.unsupported(f"LpNormalization with p={p} (ONNX allows 1 or 2)")
    return x / gc.where(norm == 0, gc.ones_like(norm), norm)  # a zero vector stays zero


@converts("MeanVarianceNormalization")
def _mvn(ctx):
    x = ctx.input(0)
    dims = tuple(sorted(axis_of(a, x.ndim) for a in ctx.attr("axes", [0, 2, 3])))
    mean = gc.mean(x, dims, keepdim=True)
    centered = x - mean
    std = gc.sqrt(gc.mean(centered * centered, dims, keepdim=True))
    return centered / (std + 1e-9)


# ---- losses -------------------------------------------------------------------------------------
def _nll(ctx, logp, target, weight):
    """NegativeLogLikelihoodLoss of log-probabilities (N, C, d...) and targets (N, d...)."""
    ignore = ctx.attr("ignore_index", None)
    reduction = ctx.attr("reduction", "mean")
    if not _known(target.shape):
        raise ctx.unsupported("losses of symbolic shape")
    safe = target if ignore is None else gc.where(target == ignore, 0, target)
    t1 = gc.unsqueeze(safe, 1)
    picked = gc.squeeze(S.index(logp, *_grid_indices(t1.shape, 1, t1), axis=0), 1)
    w = None if weight is None else S.index(weight, safe, axis=0)
    if ignore is not None:
        keep = gc.cast(target != ignore, logp.dtype)
        w = keep if w is None else w * keep
    loss = -picked if w is None else -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return gc.sum(loss)
    if reduction != "mean":
        raise ctx.unsupported(f"reduction={reduction!r}")
    return gc.sum(loss) / gc.sum(w) if w is not None else gc.mean(loss)


@converts("NegativeLogLikelihoodLoss")
def _nll_loss(ctx):
    return _nll(ctx, ctx.input(0), ctx.input(1), ctx.input(2))


@converts("SoftmaxCrossEntropyLoss")
def _softmax_ce(ctx):
    scores = ctx.input(0)
    logp = gc.log_softmax(scores, 1)
    loss = _nll(ctx, logp, ctx.input(1), ctx.input(2))
    return [loss, logp] if ctx.num_outputs > 1 else loss

