"""Ops lowered to calls of the runtime kernel library (runtime/kernels): conv, pooling, dropout.

The kernels take contiguous N-D arrays: a value whose layout is not contiguous is copied
into a scratch array first. Their argument conventions mirror graphc/ops/nn_kernels.py
(eager mode calls the same kernels with the same arguments).
"""
from __future__ import annotations

from ..errors import UnsupportedError, op_error
from ..ops import nn_reference as ref
from ..passes.layout import contiguous_strides
from .kernels import emit_copy
from .scalar import CTOR


def _shape(shape):
    return "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")"


def nd(em, value):
    """A contiguous N-D array expression holding `value`."""
    n, shape = value.type.numel(), value.type.shape
    if em.layout(value).is_contiguous:
        name, base = em.array_of(value)
        return f"{name}[{base}:{base + n}].reshape({_shape(shape)})"
    tmp = em.fresh("dense")
    em.line(f"{tmp} = np.empty({n}, {CTOR[value.dtype.name]})")
    emit_copy(em, value, tmp, 0, contiguous_strides(shape))
    return f"{tmp}.reshape({_shape(shape)})"


def _floats_only(node):
    for v in node.inputs[:1] + node.outputs[:1]:
        if v.dtype.name not in ("float32", "float64"):
            raise op_error(UnsupportedError, node.op.name, f"target 'cpu' runs it on float32 "
                           f"and float64 only, got {v.dtype.name}", node.location)


def _ints(*values):
    return ", ".join(str(int(v)) for v in values)


def _conv_args(a):
    return _ints(*a["stride"], a["padding"][0], a["padding"][2], *a["dilation"], a["groups"])


def _avg_args(a):
    return (_ints(*a["kernel_size"], *a["stride"], *a["padding"]) +
            f", {bool(a['count_include_pad'])}, {int(a['divisor_override'] or 0)}")


def _call(name, node):
    """(kernel, list of argument builders): each builder is em -> argument source."""
    a = node.attrs
    ins = [lambda em, v=v: nd(em, v) for v in node.inputs]
    outs = [lambda em, v=v: nd(em, v) for v in node.outputs]
    if name in ("conv2d", "conv_transpose2d"):
        bias = ins[2] if len(ins) > 2 else (
            lambda em: f"np.empty(0, {CTOR[node.outputs[0].dtype.name]})")
        return name, [ins[0], ins[1], bias, outs[0], lambda em: _conv_args(a)]
    if name == "conv2d_weight_grad":
        return name, [ins[0], ins[1], outs[0], lambda em: _conv_args(a)]
    if name == "max_pool2d":
        return name, [ins[0], outs[0], outs[1],
                      lambda em: _ints(*a["kernel_size"], *a["stride"], *a["padding"],
                                       *a["dilation"])]
    if name in ("max_pool2d_backward", "max_pool2d_gather"):
        return name, [ins[0], ins[1], outs[0]]
    if name == "avg_pool2d":
        return name, [ins[0], outs[0], lambda em: _avg_args(a)]
    if name == "avg_pool2d_backward":
        return name, [ins[0], outs[0], lambda em: _avg_args(a)]
    if name in ("adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"):
        return name, [ins[0], outs[0]]
    if name == "dropout":
        seed = node.inputs[1]
        return name, [lambda em: nd(em, node.inputs[0]) + ".reshape(-1)",
                      lambda em: nd(em, node.outputs[0]) + ".reshape(-1)",
                      lambda em: f"i64({em.load(seed, [])})",
                      lambda em: f"{a['stream']}, {ref.dropout_threshold(a['p'])}, "
                                 f"{ref.dropout_scale(a['p'])!r}"]
    return None


# op name -> runtime kernel name
RUNTIME_OPS = {"conv2d": "conv2d", "conv_transpose2d": "conv_transpose2d",
               "conv2d_weight_grad": "conv2d_weight_grad", "max_pool2d": "max_pool2d",
               "max_pool2d_backward": "max_pool2d_backward",
               "max_pool2d_gather": "max_pool2d_gather", "avg_pool2d": "avg_pool2d",
               "avg_pool2d_backward": "avg_pool2d_backward",
               "adaptive_avg_pool2d": "adaptive_avg_pool2d",
               "adaptive_avg_pool2d_backward": "adaptive_avg_pool2d_backward",
               "dropout": "dropout"}


def emit_runtime_call(em, node, opts, helpers):
    _floats_only(node)
    kernel, builders = _call(RUNTIME_OPS[node.op.name], node)
    written = [v for v in node.outputs if not em.layout(v).is_contiguous]
    assert not written, "outputs of kernels are contiguous roots"
    if any(v.type.numel() == 0 for v in node.inputs[:1] + node.outputs):
        return  # nothing to compute (the kernels expect non-empty arrays)
    args = [b(em) for b in builders]
    helpers.add(("runtime", kernel))
    em.line(f"rk_{kernel}({', '.join(args)})")
