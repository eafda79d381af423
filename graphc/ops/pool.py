"""Pooling ops (NCHW, torch semantics): max, average and adaptive average pooling, with their
input gradients as ops of their own (each the adjoint of another, so second derivatives work).
"""
from __future__ import annotations

from ..types import TensorType, int64, is_static_dim
from . import nn_reference as ref
from .conv import _check_4d, _float_input, _op, _out, _pair


def _pool_normalize(in_types, attrs):
    out = dict(attrs)
    k = out["kernel_size"] = _pair(attrs["kernel_size"], "kernel_size", 1)
    stride = attrs["stride"]
    out["stride"] = k if stride is None or stride == () else _pair(stride, "stride", 1)
    out["padding"] = _pair(attrs["padding"], "padding", 0)
    dilation = (1, 1)
    if "dilation" in attrs:  # max pooling only
        dilation = out["dilation"] = _pair(attrs["dilation"], "dilation", 1)
    for p, kk, d in zip(out["padding"], k, dilation):
        if p > ((kk - 1) * d + 1) // 2:
            raise ValueError(f"padding should be at most half of the (dilated) kernel size, got "
                             f"padding={out['padding']}, kernel_size={k}")
    out["ceil_mode"] = bool(attrs["ceil_mode"])
    return out


def _pooled_shape(x, kernel_size, stride, padding, dilation, ceil_mode):
    _check_4d(x, "input")
    _float_input(x)
    sizes = tuple(_out(x.shape[2 + a], padding[a], padding[a], kernel_size[a], stride[a],
                       dilation[a], ceil_mode) for a in (0, 1))
    if any(s is not None and s <= 0 for s in sizes):
        raise ValueError(f"the kernel {kernel_size} does not fit the padded input "
                         f"{list(x.shape[2:])} (output size {list(sizes)})")
    return x.shape[:2] + sizes


def _input_hw(x, what):
    if not all(is_static_dim(d) for d in x.shape[2:]):
        from ..errors import UnsupportedError
        raise UnsupportedError(f"{what}: the gradient needs known spatial sizes, got input shape "
                               f"{list(x.shape)}")
    return tuple(x.shape[2:])


def _max_pool2d_infer(in_types, kernel_size, stride, padding, dilation, ceil_mode):
    shape = _pooled_shape(in_types[0], kernel_size, stride, padding, dilation, ceil_mode)
    return [TensorType(shape, in_types[0].dtype), TensorType(shape, int64)]


max_pool2d_op = _op(
    "max_pool2d", _max_pool2d_infer, ref.max_pool2d,
    lambda c, g: [max_pool2d_backward(g, c.outputs[1],
                                      input_hw=_input_hw(c.inputs[0], "max_pool2d"))],
    {"kernel_size": None, "stride": None, "padding": 0, "dilation": 1, "ceil_mode": False},
    normalize=_pool_normalize, num_outputs=2, saves=("outputs",),
    doc="Max pooling: (values, indices); indices are flat positions h * W + w in each plane. "
        "The gradient goes to the first maximum of each window, as in torch.")


# the rule reads the indices (and the input's shape), not the values: ReLU(inplace=True)
# after MaxPool2d must not make backward raise (PyTorch saves the input and the indices)
max_pool2d_op.reads = lambda needs: ((), (1,))


def _check_indices(in_types):
    g, indices = in_types
    # a symbolic dim (None, "batch") may stand for any concrete size of the other
    fits = indices.ndim == g.ndim and all(a == b or not is_static_dim(a) or not is_static_dim(b)
                                          for a, b in zip(indices.shape, g.shape))
    if not indices.dtype.is_integer or not fits:
        raise ValueError(f"indices must be integers shaped like the values, got {indices} for "
                         f"{g}")


def _max_pool2d_backward_infer(in_types, input_hw):
    _check_indices(in_types)
    g = in_types[0]
    return [TensorType(g.shape[:2] + tuple(input_hw), g.dtype)]


max_pool2d_backward = _op(
    "max_pool2d_backward", _max_pool2d_backward_infer, ref.max_pool2d_backward,
    lambda c, gg: [max_pool2d_gather(gg, c.inputs[1]), None], {"input_hw": None},
    num_inputs=2, saves=("inputs",),
    doc="Scatter-add g into an (N, C, *input_hw) zero tensor at flat plane positions `indices`.")


def _gather_infer(in_types):
    x, indices = in_types
    if not indices.dtype.is_integer or tuple(indices.shape[:2]) != tuple(x.shape[:2]):
        raise ValueError(f"indices must be integers with the same (N, C) as the input, got "
                         f"{indices} for {x}")
    return [TensorType(indices.shape, x.dtype)]


max_pool2d_gather = _op(
    "max_pool2d_gather", _gather_infer, ref.max_pool2d_gather,
    lambda c, g: [max_pool2d_backward(g, c.inputs[1], input_hw=_input_hw(c.inputs[0],
                                                                         "max_pool2d_gather")),
                  None],
    {}, num_inputs=2, saves=("inputs",),
    doc="Read x at flat plane positions `indices` (the adjoint of max_pool2d_backward).")


_AVG_DEFAULTS = {"kernel_size": None, "stride": None, "padding": 0, "ceil_mode": False,
                 "count_include_pad": True, "divisor_override": None}


def _avg_normalize(in_types, attrs):
    out = _pool_normalize(in_types, attrs)
    out["count_include_pad"] = bool(attrs["count_include_pad"])
    d = attrs["divisor_override"]
    if d is not None and (not isinstance(d, int) or d <= 0):
        raise ValueError(f"divisor_override must be a positive int, got {d!r}")
    return out


def _avg_pool2d_infer(in_types, kernel_size, stride, padding, ceil_mode, **_):
    shape = _pooled_shape(in_types[0], kernel_size, stride, padding, (1, 1), ceil_mode)
    return [TensorType(shape, in_types[0].dtype)]


def _avg_attrs(c):
    return {k: c.attrs[k] for k in _AVG_DEFAULTS}


avg_pool2d_op = _op(
    "avg_pool2d", _avg_pool2d_infer, ref.avg_pool2d,
    lambda c, g: [avg_pool2d_backward(g, input_hw=_input_hw(c.inputs[0], "avg_pool2d"),
                                      **_avg_attrs(c))],
    _AVG_DEFAULTS, normalize=_avg_normalize, saves=(),
    doc="Average pooling (count_include_pad, ceil_mode, divisor_override as in torch).")


def _avg_backward_infer(in_types, input_hw, kernel_size, stride, padding, ceil_mode, **_):
    g = in_types[0]
    _check_4d(g, "output gradient")
    expect = tuple(ref.conv_out_size(input_hw[a], padding[a], padding[a], kernel_size[a],
                                     stride[a], 1, ceil_mode) for a in (0, 1))
    if any(is_static_dim(d) and d != e for d, e in zip(g.shape[2:], expect)):
        raise ValueError(f"output gradient {list(g.shape)} does not fit input size "
                         f"{list(input_hw)} (expected spatial size {list(expect)})")
    return [TensorType(g.shape[:2] + tuple(input_hw), g.dtype)]


def _avg_backward_normalize(in_types, attrs):
    return {**_avg_normalize(in_types, attrs), "input_hw": _pair(attrs["input_hw"], "input_hw", 1)}


avg_pool2d_backward = _op(
    "avg_pool2d_backward", _avg_backward_infer, ref.avg_pool2d_backward,
    lambda c, gg: [avg_pool2d_op(gg, **_avg_attrs(c))],
    {"input_hw": None, **_AVG_DEFAULTS}, normalize=_avg_backward_normalize, saves=(),
    doc="avg_pool2d's input gradient (its adjoint; avg_pool2d is in turn this op's adjoint).")


def _adaptive_normalize(in_types, attrs):
    x = in_types[0]
    _check_4d(x, "input")
    size = attrs["output_size"]
    size = (size, size) if size is None or isinstance(size, int) else tuple(size)
    if len(size) != 2:
        raise ValueError(f"output_size must be an int or a pair, got {attrs['output_size']!r}")
    size = tuple(x.shape[2 + a] if s is None else s for a, s in enumerate(size))
    if not all(is_static_dim(s) and s >= 1 for s in size):
        raise ValueError(f"output_size must hold positive sizes, got {attrs['output_size']!r}")
    return {"output_size": size}


def _adaptive_infer(in_types, output_size):
    x = in_types[0]
    _float_input(x)
    return [TensorType(x.shape[:2] + output_size, x.dtype)]


adaptive_avg_pool2d_op = _op(
    "adaptive_avg_pool2d", _adaptive_infer, ref.adaptive_avg_pool2d,
    lambda c, g: [adaptive_avg_pool2d_backward(
        g, input_hw=_input_hw(c.inputs[0], "adaptive_avg_pool2d"))],
    {"output_size": None}, normalize=_adaptive_normalize, saves=(),
    doc="Average over torch's adaptive windows to a fixed output size.")


def _adaptive_backward_infer(in_types, input_hw):
    g = in_types[0]
    _check_4d(g, "output gradient")
    return [TensorType(g.shape[:2] + tuple(input_hw), g.dtype)]


adaptive_avg_pool2d_backward = _op(
    "adaptive_avg_pool2d_backward", _adaptive_backward_infer, ref.adaptive_avg_pool2d_backward,
    lambda c, gg: [adaptive_avg_pool2d_op(gg, output_size=tuple(c.inputs[0].shape[2:]))],
    {"input_hw": None}, saves=(), doc="adaptive_avg_pool2d's input gradient.")
