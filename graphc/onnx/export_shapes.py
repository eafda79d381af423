"""Exporters for shape ops (views, slicing, indexing, padding) and NN kernels (convolution,
pooling), registered in export_ops.EXPORTERS."""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedError
from .export_ops import INT64_MAX, _scalar, _x, exports


def _ints(e, values):
    return e.const(np.asarray(list(values), np.int64))


@exports("reshape")
def _reshape(e, n):
    return e.emit("Reshape", [_x(e, n), _ints(e, n.attrs["shape"])])


@exports("squeeze")
def _squeeze(e, n):
    x = n.inputs[0]
    dims = [d for d in n.attrs["dims"] if x.shape[d] == 1 or not isinstance(x.shape[d], int)]
    if not dims:  # torch: squeezing a dim that is not 1 is a no-op
        return e.emit("Identity", [e.name(x)])
    return e.emit("Squeeze", [e.name(x), _ints(e, dims)])


@exports("unsqueeze")
def _unsqueeze(e, n):
    return e.emit("Unsqueeze", [_x(e, n), _ints(e, n.attrs["dims"])])


@exports("broadcast_to")
def _broadcast_to(e, n):
    x = n.inputs[0]
    shape = list(n.attrs["shape"])
    lead = len(shape) - x.ndim
    for i, d in enumerate(shape):
        if not isinstance(d, int):  # a symbolic dim the input already has: Expand keeps it
            if i < lead or x.shape[i - lead] != d:
                raise UnsupportedError(f"broadcast_to {shape}: the symbolic dim {d!r} is not "
                                       f"one of the input's ({list(x.shape)})")
            shape[i] = 1
    return e.emit("Expand", [e.name(x), _ints(e, shape)])


@exports("expand_like")
def _expand_like(e, n):
    return e.emit("Expand", [_x(e, n), e.emit("Shape", [_x(e, n, 1)])[0]])


@exports("permute")
def _permute(e, n):
    return e.emit("Transpose", [_x(e, n)], perm=list(n.attrs["dims"]))


@exports("cat")
def _cat(e, n):
    return e.emit("Concat", e.ins(n), axis=n.attrs["dim"])


@exports("slice")
def _slice(e, n):
    """Basic indexing: one Slice over the sliced and integer-indexed dims, a Squeeze of the
    integer-indexed ones, an Unsqueeze for new axes (None)."""
    x = n.inputs[0]
    starts, ends, axes, steps, squeezed, new_axes = [], [], [], [], [], []
    d = out = 0
    for entry in n.attrs["index"]:
        if entry[0] == "new":
            new_axes.append(out)
            out += 1
            continue
        if entry[0] == "int":
            i = entry[1]
            starts.append(i)
            ends.append(i + 1 if i != -1 else INT64_MAX)
            steps.append(1)
            axes.append(d)
            squeezed.append(d)
        else:
            _, start, stop, step = entry
            if (start, stop, step) != (None, None, None) and (start, stop, step) != (0, None, 1):
                starts.append(0 if start is None else start)
                ends.append(INT64_MAX if stop is None else stop)
                steps.append(1 if step is None else step)
                axes.append(d)
            out += 1
        d += 1
    y = e.name(x)
    if axes:
        y = e.emit("Slice", [y, _ints(e, starts), _ints(e, ends), _ints(e, axes),
                             _ints(e, steps)])[0]
    if squeezed:
        y = e.emit("Squeeze", [y, _ints(e, squeezed)])[0]
    if new_axes:
        y = e.emit("Unsqueeze", [y, _ints(e, new_axes)])[0]
    return [y] if y != e.name(x) else e.emit("Identity", [y])


@exports("index")
def _index(e, n):
    """x[..., i0, i1, ...] on consecutive dims from `axis`: one Gather, after folding several
    index arrays into one linear index over those dims (row-major)."""
    x, idx = n.inputs[0], n.inputs[1:]
    axis = n.attrs["axis"]
    if len(idx) == 1:
        return e.emit("Gather", [e.name(x), e.name(idx[0])], axis=axis)
    sizes = x.shape[axis:axis + len(idx)]
    if not all(isinstance(s, int) for s in sizes) or not all(
            isinstance(s, int) for s in x.shape[:axis]):
        raise UnsupportedError(f"index with {len(idx)} index arrays on symbolic dims of "
                               f"{list(x.shape)}")
    linear = None
    for k, (i, size) in enumerate(zip(idx, sizes)):
        iv = e.emit("Cast", [e.name(i)], to=7)[0]
        negative = e.emit("Less", [iv, e.const(np.int64(0))])[0]
        wrapped = e.emit("Where", [negative, e.emit("Add", [iv, e.const(np.int64(size))])[0],
                                   iv])[0]
        stride = math.prod(sizes[k + 1:])
        term = wrapped if stride == 1 else e.emit("Mul", [wrapped, e.const(np.int64(stride))])[0]
        linear = term if linear is None else e.emit("Add", [linear, term])[0]
    flat_shape = list(x.shape[:axis]) + [math.prod(sizes)] + [
        s if isinstance(s, int) else 0 for s in x.shape[axis + len(idx):]]
    flat = e.emit("Reshape", [e.name(x), _ints(e, flat_shape)])[0]  # 0: keep that dim
    return e.emit("Gather", [flat, linear], axis=axis)


@exports("pad")
def _pad(e, n):
    x = n.inputs[0]
    pad = n.attrs["pad"]
    begins, ends = [0] * x.ndim, [0] * x.ndim
    for i in range(len(pad) // 2):  # torch order: last dim first, (before, after)
        begins[x.ndim - 1 - i], ends[x.ndim - 1 - i] = pad[2 * i], pad[2 * i + 1]
    return e.emit("Pad", [e.name(x), _ints(e, begins + ends), _scalar(e, n.attrs["value"], x)],
                  mode="constant")


# ---- convolution and pooling ---------------------------------------------------------------
def _onnx_pads(padding):
    """graphc (top, bottom, left, right) or (ph, pw) -> ONNX [top, left, bottom, right]."""
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    top, bottom, left, right = padding
    return [top, left, bottom, right]


@exports("conv2d")
def _conv2d(e, n):
    a = n.attrs
    return e.emit("Conv", e.ins(n), kernel_shape=list(n.inputs[1].shape[2:]),
                  strides=list(a["stride"]), pads=_onnx_pads(a["padding"]),
                  dilations=list(a["dilation"]), group=a["groups"])


@exports("conv_transpose2d")
def _conv_transpose2d(e, n):
    a = n.attrs
    return e.emit("ConvTranspose", e.ins(n), kernel_shape=list(n.inputs[1].shape[2:]),
                  strides=list(a["stride"]), pads=_onnx_pads(a["padding"]),
                  output_padding=list(a["output_padding"]), dilations=list(a["dilation"]),
                  group=a["groups"])


@exports("max_pool2d")
def _max_pool2d(e, n):
    a = n.attrs
    with_indices = e.used(n.outputs[1])
    outs = e.emit(
        "MaxPool", [_x(e, n)], num_outputs=2 if with_indices else 1,
        kernel_shape=list(a["kernel_size"]), strides=list(a["stride"]),
        pads=_onnx_pads(a["padding"]), dilations=list(a["dilation"]),
        ceil_mode=int(a["ceil_mode"]))
    if not with_indices:
        return [outs[0], None]
    values, onnx_indices = outs
    x = n.inputs[0]
    if not all(isinstance(s, int) for s in x.shape):
        raise UnsupportedError("max_pool2d's indices with symbolic input sizes")
    # ONNX counts positions over the whole tensor; graphc within each (n, c) plane
    nb, c, h, w = x.shape
    offsets = (np.arange(nb * c, dtype=np.int64) * (h * w)).reshape(nb, c, 1, 1)
    return [values, e.emit("Sub", [onnx_indices, e.const(offsets)])[0]]


@exports("avg_pool2d")
def _avg_pool2d(e, n):
    a = n.attrs
    if a["divisor_override"] is not None:
        raise UnsupportedError("avg_pool2d with divisor_override has no ONNX form")
    return e.emit("AveragePool", [_x(e, n)], kernel_shape=list(a["kernel_size"]),
                  strides=list(a["stride"]), pads=_onnx_pads(a["padding"]),
                  ceil_mode=int(a["ceil_mode"]), count_include_pad=int(a["count_include_pad"]))


@exports("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(e, n):
    x = n.inputs[0]
    oh, ow = n.attrs["output_size"]
    if (oh, ow) == (1, 1):
        return e.emit("GlobalAveragePool", [e.name(x)])
    h, w = x.shape[2:]
    if not (isinstance(h, int) and isinstance(w, int) and h % oh == 0 and w % ow == 0):
        raise UnsupportedError(f"adaptive_avg_pool2d to {(oh, ow)} from {x.shape[2:]}: ONNX "
                               f"has it only when the sizes divide (or for 1x1)")
    k = [h // oh, w // ow]
    return e.emit("AveragePool", [e.name(x)], kernel_shape=k, strides=k)


@exports("dropout")
def _dropout(e, n):
    raise UnsupportedError("dropout in training mode: export the model in eval mode (dropout "
                           "is then the identity and leaves no node)")


@exports("batch_norm")
def _batch_norm(e, n):
    if any(e.used(v) for v in n.outputs[1:3]):
        raise UnsupportedError("batch_norm's saved mean and invstd have no ONNX form")
    x, weight, bias, mean, var = e.ins(n)
    if not n.attrs["training"]:
        y = e.emit("BatchNormalization", [x, weight, bias, mean, var],
                   epsilon=n.attrs["eps"])[0]
        return [y, None, None, mean, var]  # eval mode: the running statistics pass through
    if any(e.used(v) for v in n.outputs[3:]):
        raise UnsupportedError("batch_norm's new running statistics (training mode) have no "
                               "ONNX form: export the model in eval mode")
    # training mode: normalize with the batch statistics (ONNX's training_mode=1 would move
    # the running variance by the biased variance, not PyTorch's unbiased one)
    from .export_ops import _reduce, _scalar
    xv = n.inputs[0]
    dims = (0,) + tuple(range(2, xv.ndim))
    centered = e.emit("Sub", [x, _reduce(e, "ReduceMean", x, dims, True)[0]])[0]
    batch_var = _reduce(e, "ReduceMean", e.emit("Mul", [centered, centered])[0], dims, True)[0]
    std = e.emit("Sqrt", [e.emit("Add", [batch_var, _scalar(e, n.attrs["eps"], xv)])[0]])[0]
    col = e.const(np.asarray((1, -1) + (1,) * (xv.ndim - 2), np.int64))
    scale = e.emit("Reshape", [weight, col])[0]
    y = e.emit("Mul", [e.emit("Div", [centered, std])[0], scale])[0]
    return [e.emit("Add", [y, e.emit("Reshape", [bias, col])[0]])[0], None, None, None, None]
