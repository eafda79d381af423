"""Convolution ops (NCHW, torch semantics): conv2d, conv_transpose2d and conv2d's weight gradient.

conv2d's input gradient is a transposed convolution and the transposed convolution's input
gradient is a convolution, so the three ops are closed under differentiation (any order).
Attributes are normalized when an op is applied: stride/dilation become pairs and padding
becomes (top, bottom, left, right). NumPy references: `nn_reference`; CPU kernels:
`runtime.kernels.conv`.
"""
from __future__ import annotations

from ..types import TensorType, is_static_dim
from . import nn_reference as ref
from .reduce import sum
from .registry import Op
from .shape import slice as slice_op


def _pair(value, what, minimum):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


def _float_input(t, what="input"):
    if not t.dtype.is_floating_point:
        raise TypeError(f"{what} must be a floating point tensor, got {t.dtype.name}")


def _check_4d(t, what):
    if t.ndim != 4:
        raise ValueError(f"{what} must be 4-D (N, C, H, W), got shape {list(t.shape)}")


def _out(size, *args, **kw):
    return ref.conv_out_size(size, *args, **kw) if is_static_dim(size) else None


def _op(name, infer, reference, vjp, defaults, normalize=None, num_inputs=1, num_outputs=1,
        saves=("inputs",), doc=""):
    return Op(name, infer=infer, reference=reference, vjp=vjp, num_inputs=num_inputs,
              num_outputs=num_outputs, defaults=defaults, normalize=normalize, family="kernel",
              saves=saves, doc=doc)


# ---- convolution --------------------------------------------------------------------------------
def _conv_padding(padding, kernel, dilation, stride):
    """'valid' | 'same' | int | (ph, pw) | (top, bottom, left, right) -> 4 ints."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid', an int or a pair, got {padding!r}")
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)  # torch puts the odd extra row/column at the end
            out += [total // 2, total - total // 2]
        return tuple(out)
    if isinstance(padding, int):
        padding = (padding, padding)
    padding = tuple(padding)
    if len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    if len(padding) != 4 or not all(isinstance(p, int) and p >= 0 for p in padding):
        raise ValueError(f"padding must be 'same', 'valid', a non-negative int or pair, got "
                         f"{padding!r}")
    return tuple(int(p) for p in padding)


def _conv_normalize(in_types, attrs):
    w = in_types[1] if len(in_types) > 1 else None
    if w is None or w.ndim != 4 or not all(is_static_dim(d) for d in w.shape):
        raise ValueError("the weight must be 4-D with known sizes, got shape "
                         f"{list(w.shape) if w is not None else None}")
    out = dict(attrs)
    out["stride"] = _pair(attrs["stride"], "stride", 1)
    out["dilation"] = _pair(attrs["dilation"], "dilation", 1)
    out["padding"] = _conv_padding(attrs["padding"], w.shape[2:], out["dilation"], out["stride"])
    if not isinstance(attrs["groups"], int) or attrs["groups"] < 1:
        raise ValueError(f"groups must be a positive int, got {attrs['groups']!r}")
    if "output_padding" in attrs:
        op = _pair(attrs["output_padding"], "output_padding", 0)
        for p, s, d in zip(op, out["stride"], out["dilation"]):
            if p >= s and p >= d:
                raise ValueError(f"output_padding {op} must be smaller than stride "
                                 f"{out['stride']} or dilation {out['dilation']}")
        out["output_padding"] = op
    return out


def _check_conv_inputs(in_types, weight_in_dim, groups):
    """Common checks; returns x, w. weight_in_dim: the weight dim that matches x's channels."""
    if len(in_types) not in (2, 3):
        raise ValueError(f"expects (input, weight) or (input, weight, bias), got "
                         f"{len(in_types)} inputs")
    x, w = in_types[:2]
    _check_4d(x, "input")
    _float_input(x)
    if w.dtype is not x.dtype:
        raise TypeError(f"input and weight must have the same dtype, got {x.dtype.name} and "
                        f"{w.dtype.name}")
    channels = w.shape[weight_in_dim] * (groups if weight_in_dim == 1 else 1)
    if is_static_dim(x.shape[1]) and x.shape[1] != channels:
        raise ValueError(f"input has {x.shape[1]} channels but the weight of shape "
                         f"{list(w.shape)} with groups={groups} expects {channels}")
    if w.shape[0] % groups:
        raise ValueError(f"weight dim 0 ({w.shape[0]}) must be divisible by groups={groups}")
    return x, w


def _check_bias(in_types, channels):
    if len(in_types) == 3:
        b = in_types[2]
        if tuple(b.shape) != (channels,) or b.dtype is not in_types[0].dtype:
            raise ValueError(f"bias must have shape [{channels}] and dtype "
                             f"{in_types[0].dtype.name}, got {b}")


def _conv2d_infer(in_types, stride, padding, dilation, groups):
    x, w = _check_conv_inputs(in_types, 1, groups)
    O, _, KH, KW = w.shape
    _check_bias(in_types, O)
    Ho = _out(x.shape[2], padding[0], padding[1], KH, stride[0], dilation[0])
    Wo = _out(x.shape[3], padding[2], padding[3], KW, stride[1], dilation[1])
    if Ho == 0 or Wo == 0:
        raise ValueError(f"the (dilated) kernel {KH}x{KW} is larger than the padded input "
                         f"{list(x.shape[2:])}")
    return [TensorType((x.shape[0], O, Ho, Wo), x.dtype)]


def _geometry(attrs):
    return {k: attrs[k] for k in ("stride", "padding", "dilation", "groups")}


def _input_output_padding(x, g, w, attrs):
    """output_padding that makes a transposed conv of g return exactly x's spatial size."""
    pads = []
    for axis in (0, 1):
        size = x.shape[2 + axis]
        if not is_static_dim(size) or not is_static_dim(g.shape[2 + axis]):
            from ..errors import UnsupportedError
            raise UnsupportedError("conv2d: the input gradient needs known spatial sizes, got "
                                   f"input shape {list(x.shape)}")
        lo, hi = attrs["padding"][2 * axis:2 * axis + 2]
        pads.append(size - ref.transpose_out_size(g.shape[2 + axis], lo, hi,
                                                  w.shape[2 + axis], attrs["stride"][axis],
                                                  attrs["dilation"][axis], 0))
    return tuple(pads)


def _crop_to(v, shape):
    """Drop trailing rows/columns of v beyond `shape`'s spatial size (a transposed-conv edge)."""
    if tuple(v.shape[2:]) == tuple(shape[2:]):
        return v
    whole = ("slice", None, None, None)
    return slice_op(v, index=(whole, whole, ("slice", 0, shape[2], 1), ("slice", 0, shape[3], 1)))


def _bias_grad(c, g):
    return [sum(g, dims=(0, 2, 3))] if len(c.inputs) == 3 and c.needs_input_grad[2] else \
        [None] * (len(c.inputs) - 2)


def _conv2d_vjp(c, g):
    x, w = c.inputs[:2]
    gx = gw = None
    if c.needs_input_grad[0]:
        gx = conv_transpose2d_op(g, w, **_geometry(c.attrs),
                              output_padding=_input_output_padding(x, g, w, c.attrs))
    if c.needs_input_grad[1]:
        gw = conv2d_weight_grad(x, g, kernel_size=tuple(w.shape[2:]), **_geometry(c.attrs))
    return [gx, gw] + _bias_grad(c, g)


_CONV_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}

conv2d_op = _op("conv2d", _conv2d_infer, ref.conv2d, _conv2d_vjp, _CONV_DEFAULTS,
                normalize=_conv_normalize, num_inputs=None,
                doc="2-D cross-correlation (x, w[, b]); w is (out, in/groups, kh, kw).")


def _conv_transpose2d_infer(in_types, stride, padding, output_padding, dilation, groups):
    x, w = _check_conv_inputs(in_types, 0, groups)
    C, Og, KH, KW = w.shape
    _check_bias(in_types, Og * groups)
    sizes = []
    for axis, k in ((0, KH), (1, KW)):
        size = x.shape[2 + axis]
        sizes.append(ref.transpose_out_size(size, padding[2 * axis], padding[2 * axis + 1], k,
                                            stride[axis], dilation[axis], output_padding[axis])
                     if is_static_dim(size) else None)
    if any(s is not None and s <= 0 for s in sizes):
        raise ValueError(f"the padding {padding} leaves no output (size {sizes})")
    return [TensorType((x.shape[0], Og * groups) + tuple(sizes), x.dtype)]


def _conv_transpose2d_vjp(c, g):
    x, w = c.inputs[:2]
    gx = gw = None
    if c.needs_input_grad[0]:
        gx = _crop_to(conv2d_op(g, w, **_geometry(c.attrs)), x.shape)
    if c.needs_input_grad[1]:
        gw = conv2d_weight_grad(g, x, kernel_size=tuple(w.shape[2:]), **_geometry(c.attrs))
    return [gx, gw] + _bias_grad(c, g)


conv_transpose2d_op = _op(
    "conv_transpose2d", _conv_transpose2d_infer, ref.conv_transpose2d, _conv_transpose2d_vjp,
    {**_CONV_DEFAULTS, "output_padding": 0}, normalize=_conv_normalize, num_inputs=None,
    doc="Transposed convolution (x, w[, b]); w is (in, out/groups, kh, kw). Also conv2d's "
        "input gradient.")


def _weight_grad_normalize(in_types, attrs):
    out = dict(attrs)
    out["kernel_size"] = _pair(attrs["kernel_size"], "kernel_size", 1)
    out["stride"] = _pair(attrs["stride"], "stride", 1)
    out["dilation"] = _pair(attrs["dilation"], "dilation", 1)
    out["padding"] = _conv_padding(attrs["padding"], out["kernel_size"], out["dilation"],
                                   out["stride"])
    return out


def _weight_grad_infer(in_types, kernel_size, stride, padding, dilation, groups):
    x, gy = in_types
    _check_4d(x, "input")
    _check_4d(gy, "output gradient")
    _float_input(x)
    if gy.dtype is not x.dtype:
        raise TypeError(f"input and output gradient dtypes differ: {x.dtype.name}, "
                        f"{gy.dtype.name}")
    for d, what in ((x.shape[1], "input channels"), (gy.shape[1], "output channels")):
        if not is_static_dim(d) or d % groups:
            raise ValueError(f"{what} ({d}) must be known and divisible by groups={groups}")
    return [TensorType((gy.shape[1], x.shape[1] // groups) + tuple(kernel_size), x.dtype)]


def _weight_grad_vjp(c, G):
    x, gy = c.inputs
    geometry = _geometry(c.attrs)
    gx = ggy = None
    if c.needs_input_grad[0]:
        gx = conv_transpose2d_op(gy, G, **geometry,
                              output_padding=_input_output_padding(x, gy, G, c.attrs))
    if c.needs_input_grad[1]:
        ggy = _crop_to(conv2d_op(x, G, **geometry), gy.shape)
    return [gx, ggy]


conv2d_weight_grad = _op(
    "conv2d_weight_grad", _weight_grad_infer, ref.conv2d_weight_grad, _weight_grad_vjp,
    {"kernel_size": None, **_CONV_DEFAULTS}, normalize=_weight_grad_normalize, num_inputs=2,
    doc="conv2d's weight gradient from (input, output gradient).")
