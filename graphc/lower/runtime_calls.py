"""Ops lowered to calls of the runtime kernel library (runtime/kernels): conv, pooling, dropout,
batch normalization, the scans, sorts and products along one axis (cumsum ... sort, prod) and
the factorizations over a batch of matrices (det ... pinv).

The kernels take contiguous N-D arrays: a value whose layout is not contiguous is copied
into a scratch array first. Their argument conventions mirror graphc/ops/nn_kernels.py
(eager mode calls the same kernels with the same arguments).
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError, op_error
from ..ops import (conv, decompositions as dec, linalg, loss, nn as nn_ops, norm, pool,
                   scans)
from ..ops import nn_reference as ref
from .kernels import dense
from .scalar import CTOR


def _shape(shape):
    return "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")"


def nd(em, value):
    """A contiguous N-D array expression holding `value`."""
    return f"{dense(em, value)}.reshape({_shape(value.type.shape)})"


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


def _max_pool2d_variant(node):
    """(kernel, geometry arguments) of a max pooling node: the variant for its sizes
    (runtime/kernels/pool.py max_pool2d_variant; programs are generated for concrete
    shapes), so that the program compiles that one only."""
    from runtime.kernels.pool import max_pool2d_variant
    a = node.attrs
    return max_pool2d_variant(*node.inputs[0].type.shape[2:], *node.outputs[0].type.shape[2:],
                              *a["kernel_size"], *a["stride"], *a["padding"], *a["dilation"])


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
        kernel, geometry = _max_pool2d_variant(node)
        return kernel, [ins[0], outs[0], outs[1]] + ([lambda em: _ints(*geometry)]
                                                     if geometry else [])
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
    if name in ("cross_entropy", "cross_entropy_backward"):
        return name, _cross_entropy_args(name, node, ins, outs)
    if name in ("batch_norm", "batch_norm_backward"):
        return name, _batch_norm_call(name, node, ins, outs)
    if name in AXIS_KERNELS:
        return name, _axis_call(name, node, ins, outs)
    if name in MATRIX_KERNELS:
        return name, _matrix_call(name, node)
    return None


def _cross_entropy_args(name, node, ins, outs):
    """Builders for runtime/kernels/loss.py: the class weights (or an empty array) follow the
    target; a reduced loss or incoming gradient is a 1-element array."""
    from ..ops.loss import REDUCTIONS
    x = node.inputs[0]
    weighted = len(node.inputs) == (3 if name == "cross_entropy" else 5)
    weight = ins[-1] if weighted else (
        lambda em: f"np.empty(0, {CTOR[x.dtype.name]})")
    flags = lambda em: _ints(node.attrs["ignore_index"], REDUCTIONS[node.attrs["reduction"]])
    if name == "cross_entropy":
        return [ins[0], ins[1], weight, outs[1], lambda em: dense(em, node.outputs[0]), flags]
    return [ins[0], ins[1], weight, ins[2], lambda em: dense(em, node.inputs[3]), outs[0], flags]


def _batch_norm_call(name, node, ins, outs):
    """Builders for runtime/kernels/norm.py: activations as (N, C, S), statistics as (C,)."""
    x, a = node.inputs[1 if name == "batch_norm_backward" else 0], node.attrs
    if x.type.numel() == 0:
        raise op_error(UnsupportedError, node.op.name, f"target 'cpu' needs a non-empty input, "
                       f"got shape {list(x.type.shape)}", node.location)
    n, c = x.type.shape[:2]
    ncs = f".reshape(({n}, {c}, {x.type.numel() // (n * c)}))"
    if name == "batch_norm":
        return [lambda em: ins[0](em) + ncs, *ins[1:], lambda em: outs[0](em) + ncs, *outs[1:],
                lambda em: f"{a['training']}, {a['momentum']!r}, {a['eps']!r}"]
    return [lambda em: ins[0](em) + ncs, lambda em: ins[1](em) + ncs, *ins[2:],
            lambda em: outs[0](em) + ncs, *outs[1:], lambda em: str(a["training"])]


def _batched(value, matrix_dims):
    """value's contiguous array viewed with one leading batch dim before its last
    `matrix_dims` dims (a 0-d or vector result gets batch 1)."""
    shape = value.type.shape
    lead = shape[:len(shape) - matrix_dims]
    batch = 1
    for d in lead:
        batch *= d
    tail = tuple(shape[len(shape) - matrix_dims:])
    return lambda em: f"{nd(em, value)}.reshape({_shape((batch,) + tail)})"


def _matrix_call(name, node):
    """Builders for the batched factorization kernels of runtime/kernels/linalg.py."""
    a = node.attrs
    if name == "eigh_batched" and a.get("UPLO", "L") != "L":
        raise op_error(UnsupportedError, "eigh", "target 'cpu' reads the lower triangle only "
                       "(UPLO='L')", node.location)
    if name == "qr_batched" and a.get("mode") != "reduced":
        raise op_error(UnsupportedError, "qr", "target 'cpu' computes mode='reduced' only",
                       node.location)
    out_dims = {"det_batched": (0,), "slogdet_batched": (0, 0), "eigh_batched": (1, 2),
                "svd_batched": (2, 1, 2), "svdvals_batched": (1,), "qr_batched": (2, 2)}
    args = [_batched(node.inputs[0], 2)]
    args += [_batched(v, k) for v, k in zip(node.outputs, out_dims.get(name, (2,)))]
    if name == "svd_batched":
        args.append(lambda em: str(int(bool(a["full_matrices"]))))
    if name == "pinv_batched":
        m, n = node.inputs[0].type.shape[-2:]
        eps = float(np.finfo(node.inputs[0].dtype.np).eps)
        args.append(lambda em: repr(max(m, n) * eps))
    return args


def _axis_shape(shape, first, last):
    """(outer, n, inner) of `shape` reduced or scanned over the dims first..last."""
    outer = 1
    for d in shape[:first]:
        outer *= d
    n = 1
    for d in shape[first:last + 1]:
        n *= d
    inner = 1
    for d in shape[last + 1:]:
        inner *= d
    return outer, n, inner


def _axis_call(name, node, ins, outs):
    """Builders for the (outer, n, inner) kernels of runtime/kernels/scan.py."""
    x = node.inputs[0]
    if node.op is scans.prod:
        dims = node.attrs["dims"]  # normalized: sorted, () for a 0-d input
        if dims and list(dims) != list(range(dims[0], dims[-1] + 1)):
            raise op_error(UnsupportedError, "prod", f"target 'cpu' multiplies over adjacent dims "
                           f"only, got dims {dims} of shape {list(x.type.shape)}", node.location)
        o, n, i = _axis_shape(x.type.shape, dims[0], dims[-1]) if dims else (x.type.numel(), 1, 1)
        return [lambda em: f"{ins[0](em)}.reshape(({o}, {n}, {i}))",
                lambda em: f"{outs[0](em)}.reshape(({o}, {i}))"]
    dim = node.attrs["dim"] if x.type.ndim else 0
    o, n, i = _axis_shape(x.type.shape, dim, dim) if x.type.ndim else (1, 1, 1)
    view = f".reshape(({o}, {n}, {i}))"
    args = [lambda em: ins[0](em) + view] + [lambda em, b=b: b(em) + view for b in outs]
    if name == "sort_axis":
        args.append(lambda em: str(int(bool(node.attrs["descending"]))))
    return args


# scans, sorting and products: any dtype (the kernels accumulate in the output's dtype)
AXIS_KERNELS = {"cumsum_axis", "cumprod_axis", "cummax_axis", "cummin_axis", "sort_axis",
                "prod_axis"}

# factorizations over a batch of matrices (float32/float64)
MATRIX_KERNELS = {"det_batched", "slogdet_batched", "cholesky_batched", "eigh_batched",
                  "svd_batched", "svdvals_batched", "qr_batched", "pinv_batched"}

# op -> runtime kernel name (graphc/lower/rules.py registers these ops as the cpu target's
# rules, lowered by emit_runtime_call)
RUNTIME_OPS = {conv.conv2d_op: "conv2d", conv.conv_transpose2d_op: "conv_transpose2d",
               conv.conv2d_weight_grad: "conv2d_weight_grad",
               pool.max_pool2d_op: "max_pool2d", pool.max_pool2d_backward: "max_pool2d_backward",
               pool.max_pool2d_gather: "max_pool2d_gather", pool.avg_pool2d_op: "avg_pool2d",
               pool.avg_pool2d_backward: "avg_pool2d_backward",
               pool.adaptive_avg_pool2d_op: "adaptive_avg_pool2d",
               pool.adaptive_avg_pool2d_backward: "adaptive_avg_pool2d_backward",
               nn_ops.dropout_op: "dropout", scans.cumsum: "cumsum_axis",
               scans.cumprod: "cumprod_axis", scans.cummax: "cummax_axis",
               scans.cummin: "cummin_axis", scans.sort: "sort_axis", scans.prod: "prod_axis",
               linalg.det: "det_batched", linalg.slogdet: "slogdet_batched",
               dec.cholesky: "cholesky_batched", dec.eigh: "eigh_batched",
               dec.svd: "svd_batched", dec.svdvals: "svdvals_batched", dec.qr: "qr_batched",
               dec.pinv: "pinv_batched", loss.cross_entropy: "cross_entropy",
               loss.cross_entropy_backward: "cross_entropy_backward",
               norm.batch_norm: "batch_norm", norm.batch_norm_backward: "batch_norm_backward"}


def emit_runtime_call(em, node, opts, helpers):
    """A call of the runtime kernel library (lower/runtime_calls.py)."""
    if RUNTIME_OPS[node.op] not in AXIS_KERNELS:
        _floats_only(node)
    kernel, builders = _call(RUNTIME_OPS[node.op], node)
    written = [v for v in node.outputs if not em.layout(v).is_contiguous]
    assert not written, "outputs of kernels are contiguous roots"
    if any(v.type.numel() == 0 for v in node.inputs[:1] + node.outputs):
        return  # nothing to compute (the kernels expect non-empty arrays)
    args = [b(em) for b in builders]
    helpers.add(("runtime", kernel))
    em.line(f"rk_{kernel}({', '.join(args)})")
