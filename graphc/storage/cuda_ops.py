"""The ops on CUDA device arrays: one table used by eager CUDA tensors and compiled programs.

`run(op, args, attrs, out_types)` computes one op: args are device arrays, or host scalars
for elementwise inputs (passed to the kernel as arguments). Elementwise ops become generated
kernels from their scalar templates (storage/cuda_elementwise.py, shared with fusion); views
become one strided gather whose geometry comes from running the op's own NumPy reference on a
zero-byte stand-in array; everything else calls a runtime.cuda kernel. The ops without a CUDA
kernel run on the host between two transfers. Which function runs each op is the cuda target's rule
table, CUDA (keyed by Op object, graphc/ops/rules.py), at the end of this module.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from runtime.cuda import import_numba_cuda

import_numba_cuda()  # without numba-cuda: CudaUnavailable saying what to install, not ImportError

from runtime.cuda import (kernels_copy, kernels_linalg, kernels_loss,  # noqa: E402
                          kernels_nn, kernels_reduce, memory)

from ..control_flow import scan_op  # noqa: E402
from ..ops import (collective, conv, decompositions as dec, leaves, linalg,  # noqa: E402
                   loss, nn as nn_ops, norm, pool, reduce, scans, shape)
from ..ops import nn_reference  # noqa: E402
from ..ops.registry import get_op  # noqa: E402
from ..ops.rules import TargetRules  # noqa: E402
from ..types import TensorType  # noqa: E402
from . import cuda_decompositions as decomposed  # noqa: E402
from .cuda_elementwise import (broadcast_strides, dtype_of, memory_is_device,  # noqa: E402
                               run_op as _elementwise)

# ops that accept host (CPU) arrays among device ones: their index arrays (storage/cuda.py)
HOST_OPS = {linalg.inverse, shape.index, shape.index_backward, shape.index_put}


# ---- views: geometry from the reference applied to a stand-in --------------------------------
def _stand_in(shape):
    """A zero-byte array of `shape` whose byte strides are C-order element strides."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), tuple(shape), strides[::-1])


def _base_address(a):
    return a.__array_interface__["data"][0]


@lru_cache(maxsize=4096)
def view_geometry(op, shapes, attrs_key):
    """(element strides, offset) of op's output as a view of its first input, or None."""
    attrs = dict(attrs_key)
    fakes = [_stand_in(s) for s in shapes]
    try:
        v = op.reference(*fakes, **attrs)
    except Exception:  # noqa: BLE001 - a reference that needs real data: not a pure view
        return None
    if not isinstance(v, np.ndarray) or v.flags.owndata or not np.may_share_memory(v, fakes[0]):
        return None
    return tuple(v.strides), _base_address(v) - _base_address(fakes[0])


def _attrs_key(attrs):
    return tuple(sorted((k, _hashable(v)) for k, v in attrs.items()))


def _hashable(v):
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("array", v.tobytes(), v.shape, v.dtype.str)
    return v


def _c_strides(shape):
    return tuple(_stand_in(shape).strides)


def shares_storage(op, shapes, attrs, out_shape):
    """Whether _view returns its input's storage (a contiguous reshape) rather than a copy."""
    geometry = view_geometry(op, tuple(tuple(s) for s in shapes), _attrs_key(attrs))
    if geometry is None:
        return False
    strides, offset = geometry
    return offset == 0 and strides == _c_strides(tuple(out_shape)) \
        and int(np.prod(shapes[0], dtype=np.int64)) == int(np.prod(out_shape, dtype=np.int64))


def _view(op, args, attrs, out_types):
    x, out_t = args[0], out_types[0]
    geometry = view_geometry(op, tuple(tuple(a.shape) for a in args), _attrs_key(attrs))
    if geometry is None:
        return _on_host(op, args, attrs, out_types)
    strides, offset = geometry
    if offset == 0 and strides == _c_strides(out_t.shape) and x.size == out_t.numel():
        return [x.reshape(tuple(out_t.shape)) if out_t.shape else x.reshape(())]  # free
    out = memory.empty(out_t.shape, out_t.dtype.np)
    return [kernels_copy.gather(out, x, strides, offset)]


def _cat(op, args, attrs, out_types):
    out_t, dim = out_types[0], attrs["dim"]
    out = memory.empty(out_t.shape, out_t.dtype.np)
    strides = _c_strides(out_t.shape)
    start = 0
    for a in args:
        kernels_copy.scatter(out, a, strides, start * strides[dim] if strides else 0)
        start += a.shape[dim]
    return [out]


def _pad(op, args, attrs, out_types):
    x, out_t = args[0], out_types[0]
    out = memory.full(out_t.shape, out_t.dtype.np, attrs["value"])
    strides = _c_strides(out_t.shape)
    pad = attrs["pad"]
    offset = sum(pad[2 * i] * strides[x.ndim - 1 - i] for i in range(len(pad) // 2))
    return [kernels_copy.scatter(out, x, strides, offset)]


def _slice_backward(op, args, attrs, out_types):
    g, like = args
    from ..ops.shape import slice as slice_op
    strides, offset = view_geometry(slice_op, (tuple(like.shape),), _attrs_key(attrs))
    out = memory.zeros(out_types[0].shape, out_types[0].dtype.np)
    return [kernels_copy.scatter(out, g, strides, offset)]


# ---- reductions ----------------------------------------------------------------------------------
def _rows(x, dims):
    """x with `dims` moved last, as a contiguous (M, K) array (a gather only if needed)."""
    kept = [d for d in range(x.ndim) if d not in dims]
    order = kept + list(dims)
    M = int(np.prod([x.shape[d] for d in kept]))
    K = int(np.prod([x.shape[d] for d in dims]))
    if order != list(range(x.ndim)):
        strides = _c_strides(x.shape)
        moved = memory.empty([x.shape[d] for d in order], x.dtype)
        x = kernels_copy.gather(moved, x, [strides[d] for d in order])
    return x, M, K


def _cast_to(x, dtype):
    if np.dtype(x.dtype) == dtype.np:
        return x
    from ..ops.elementwise import cast
    from ..types import TensorType
    return _elementwise(cast, [x], {"dtype": dtype}, [TensorType(x.shape, dtype)])[0]


def _reduce(op, args, attrs, out_types):
    out_t = out_types[0]
    x = _cast_to(args[0], out_t.dtype)
    rows, M, K = _rows(x, attrs["dims"])
    out = memory.empty(out_t.shape, out_t.dtype.np)
    red = op.reduction
    if red is not None:  # a single-pass reduction: its combine names the kernel's
        kind = {"add": "sum", "max": "max", "min": "min"}[red.combine]
        scale = 1 / K if red.mean and K else (math.nan if red.mean else 1)
        kernels_reduce.reduce_rows(kind, rows, out, M, K, scale)
    else:  # var, logsumexp: runtime/cuda/kernels_reduce.py's two-pass kernel of that name
        kernels_reduce.two_pass_rows(op.name, rows, out, M, K, attrs.get("correction", 0))
    return [out]


def _softmax(op, args, attrs, out_types):
    x, dim = args[0], attrs["dim"]
    rows, M, K = _rows(x, (dim,))
    out = memory.empty(rows.shape, x.dtype)
    kernels_reduce.two_pass_rows(op.name, rows, out, M, K)
    return [_move_back(out, x.shape, dim)]


def _move_back(y, shape, dim):
    """Undo _rows for one dim moved last: y has shape[:dim] + shape[dim+1:] + (shape[dim],)."""
    if dim == len(shape) - 1:
        return y.reshape(tuple(shape))
    order = [d for d in range(len(shape)) if d != dim] + [dim]
    inverse = [order.index(d) for d in range(len(shape))]
    strides = _c_strides(y.shape)
    out = memory.empty(shape, y.dtype)
    return kernels_copy.gather(out, y, [strides[d] for d in inverse])


def _arg_extreme(op, args, attrs, out_types):
    x, dim = args[0], attrs["dim"]
    is_max = op is reduce.argmax or op is reduce.max_dim
    if dim is None:
        rows, M, K = memory.flat(x).reshape((1, x.size)), 1, x.size
    else:
        rows, M, K = _rows(x, (dim,))
    values = memory.empty((M,), x.dtype)
    indices = memory.empty((M,), np.int64)
    kernels_reduce.arg_rows(is_max, rows, values, indices, M, K)
    outs = [values, indices] if op.num_outputs == 2 else [indices]
    return [o.reshape(tuple(t.shape)) for o, t in zip(outs, out_types)]


# ---- matmul ----------------------------------------------------------------------------------
def _matmul(op, args, attrs, out_types):
    a, b = args
    out_t = out_types[0]
    A = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    B = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    ash, bsh = tuple(A.shape), tuple(B.shape)  # plain tuples: the simulator's shapes are not
    M, K, N = ash[-2], ash[-1], bsh[-1]
    batch = tuple(np.broadcast_shapes(ash[:-2], bsh[:-2]))
    nb = int(np.prod(batch))
    A, sa = _batched(A, batch, M * K)
    B, sb = _batched(B, batch, K * N)
    out = memory.empty((nb, M, N), out_t.dtype.np)
    kernels_linalg.matmul(A, B, out, nb, M, N, K, sa, sb)
    return [out.reshape(tuple(out_t.shape))]


def _batched(x, batch, size):
    """x's batch dims as one: (x, batch stride); 0 broadcasts, a gather expands the rest."""
    xsh = tuple(x.shape)
    own = xsh[:-2]
    if int(np.prod(own)) == 1:
        return x, 0
    if own == tuple(batch):
        return x, size
    shape = tuple(batch) + xsh[-2:]
    out = memory.empty(shape, x.dtype)
    return kernels_copy.gather(out, x, broadcast_strides(x.shape, shape)), size


# ---- nn ----------------------------------------------------------------------------------------
def _conv(kernel):
    def run(op, args, attrs, out_types):
        x, w = args[:2]
        bias = args[2] if len(args) == 3 else None
        out = memory.empty(out_types[0].shape, out_types[0].dtype.np)
        kernel(x, w, bias, out, attrs["stride"], attrs["padding"], attrs["dilation"],
               attrs["groups"])
        return [out]
    return run


def _weight_grad(op, args, attrs, out_types):
    x, gy = args
    gw = memory.empty(out_types[0].shape, out_types[0].dtype.np)
    kernels_nn.conv2d_weight_grad(x, gy, gw, attrs["stride"], attrs["padding"],
                                  attrs["dilation"], attrs["groups"])
    return [gw]


def _max_pool2d(op, args, attrs, out_types):
    values = memory.empty(out_types[0].shape, out_types[0].dtype.np)
    indices = memory.empty(out_types[1].shape, np.int64)
    kernels_nn.max_pool2d(args[0], values, indices, attrs["kernel_size"], attrs["stride"],
                          attrs["padding"], attrs["dilation"])
    return [values, indices]


def _new(out_types):
    return memory.empty(out_types[0].shape, out_types[0].dtype.np)


def _max_pool2d_backward(op, args, attrs, out_types):
    return [kernels_nn.max_pool2d_backward(args[0], _int64(args[1]), _new(out_types))]


def _max_pool2d_gather(op, args, attrs, out_types):
    return [kernels_nn.max_pool2d_gather(args[0], _int64(args[1]), _new(out_types))]


def _int64(a):
    from ..types import int64
    return _cast_to(a, int64)


@lru_cache(maxsize=256)
def _divisors(dtype, in_shape, out_hw, kernel_size, stride, padding, include_pad, override):
    div = nn_reference._avg_divisor(in_shape, *out_hw, kernel_size, stride, padding,
                                    include_pad, override)
    return memory.to_device(np.asarray(div, dtype).reshape(-1))


def _avg_pool2d(op, args, attrs, out_types):
    x, out = args[0], _new(out_types)
    div = _divisors(np.dtype(x.dtype), tuple(x.shape), tuple(out.shape[2:]),
                    attrs["kernel_size"], attrs["stride"], attrs["padding"],
                    attrs["count_include_pad"], attrs["divisor_override"])
    return [kernels_nn.avg_pool2d(x, div, out, attrs["kernel_size"], attrs["stride"],
                                  attrs["padding"])]


def _avg_pool2d_backward(op, args, attrs, out_types):
    g, out = args[0], _new(out_types)
    div = _divisors(np.dtype(g.dtype), tuple(out.shape), tuple(g.shape[2:]),
                    attrs["kernel_size"], attrs["stride"], attrs["padding"],
                    attrs["count_include_pad"], attrs["divisor_override"])
    return [kernels_nn.avg_pool2d_backward(g, div, out, attrs["kernel_size"], attrs["stride"],
                                           attrs["padding"])]


def _adaptive(op, args, attrs, out_types):
    return [kernels_nn.adaptive_avg_pool2d(args[0], _new(out_types))]


def _adaptive_backward(op, args, attrs, out_types):
    return [kernels_nn.adaptive_avg_pool2d_backward(args[0], _new(out_types))]


def _dropout(op, args, attrs, out_types):
    x, seed = args
    seed = int(np.asarray(seed if not memory_is_device(seed) else memory.to_host(seed)))
    p = attrs["p"]
    key = nn_reference.dropout_key(seed, attrs["stream"])
    return [kernels_nn.dropout(x, _new(out_types), key, nn_reference.dropout_threshold(p),
                               nn_reference.dropout_scale(p))]


def _cross_entropy(op, args, attrs, out_types):
    x, target = args[0], _int64(args[1])
    loss = memory.empty(out_types[0].shape, out_types[0].dtype.np)
    lse = memory.empty(out_types[1].shape, out_types[1].dtype.np)
    return list(kernels_loss.cross_entropy(x, target, args[2] if len(args) > 2 else None, loss,
                                           lse, attrs["ignore_index"], attrs["reduction"]))


def _cross_entropy_backward(op, args, attrs, out_types):
    x, target, lse, grad = args[0], _int64(args[1]), args[2], args[3]
    return [kernels_loss.cross_entropy_backward(
        x, target, lse, grad, args[4] if len(args) > 4 else None, _new(out_types),
        attrs["ignore_index"], attrs["reduction"])]


def _shape_prod(op, args, attrs, out_types):
    value = op.reference(_stand_in(args[0].shape), **attrs)
    return [memory.to_device(np.asarray(value, out_types[0].dtype.np))]


def _apply(name, *args, **attrs):
    """One registered op on device arrays (numbers as NumPy scalars): decompositions'
    building block."""
    op = get_op(name)
    attrs = {**op.defaults, **attrs}
    types = [TensorType(tuple(a.shape), dtype_of(a)) for a in args]
    if op.normalize is not None:
        attrs = op.normalize(types, attrs)
    results = run(op, list(args), attrs, op.infer(types, **attrs))
    return results[0] if len(results) == 1 else results


def _decomposed(fn):
    """An op run as other ops' kernels (cuda_decompositions.py); the host where fn returns
    None."""
    def impl(op, args, attrs, out_types):
        results = fn(_apply, args, attrs)
        return _on_host(op, args, attrs, out_types) if results is None else results
    return impl


def _on_host(op, args, attrs, out_types):
    """Run the op's NumPy reference between two transfers (ops without a CUDA kernel)."""
    host = [memory.to_host(a) if memory_is_device(a) else a for a in args]
    result = op.reference(*host, **attrs)
    results = result if op.num_outputs != 1 else (result,)
    return [memory.to_device(np.asarray(r, t.dtype.np)) for r, t in zip(results, out_types)]


# ---- the cuda target's rules (graphc/ops/rules.py) --------------------------------------------
CUDA = TargetRules("cuda")
CUDA.trait_rule("a generated elementwise kernel (fusable)",
                lambda op: op.scalar is not None)(_elementwise)
CUDA.trait_rule("a strided gather (free for a contiguous reshape)",
                lambda op: op.view is not None)(_view)
CUDA.trait_rule("a row reduction kernel", lambda op: op.reduction is not None)(_reduce)
CUDA.rule(shape.cat)(_cat)
CUDA.rule(shape.pad)(_pad)
CUDA.rule(shape.slice_backward)(_slice_backward)
CUDA.rule(reduce.var, reduce.logsumexp)(_reduce)
CUDA.rule(reduce.softmax, reduce.log_softmax)(_softmax)
CUDA.rule(reduce.argmax, reduce.argmin, reduce.max_dim, reduce.min_dim)(_arg_extreme)
CUDA.rule(linalg.matmul)(_matmul)
CUDA.rule(conv.conv2d_op)(_conv(kernels_nn.conv2d))
CUDA.rule(conv.conv_transpose2d_op)(_conv(kernels_nn.conv_transpose2d))
CUDA.rule(conv.conv2d_weight_grad)(_weight_grad)
CUDA.rule(pool.max_pool2d_op)(_max_pool2d)
CUDA.rule(pool.max_pool2d_backward)(_max_pool2d_backward)
CUDA.rule(pool.max_pool2d_gather)(_max_pool2d_gather)
CUDA.rule(pool.avg_pool2d_op)(_avg_pool2d)
CUDA.rule(pool.avg_pool2d_backward)(_avg_pool2d_backward)
CUDA.rule(pool.adaptive_avg_pool2d_op)(_adaptive)
CUDA.rule(pool.adaptive_avg_pool2d_backward)(_adaptive_backward)
CUDA.rule(nn_ops.dropout_op)(_dropout)
CUDA.rule(reduce.shape_prod)(_shape_prod)
CUDA.rule(loss.cross_entropy)(_cross_entropy)
CUDA.rule(loss.cross_entropy_backward)(_cross_entropy_backward)
# (no kernels of their own yet: chains of the kernels above, on the device)
CUDA.rule(norm.batch_norm)(_decomposed(decomposed.batch_norm))
CUDA.rule(norm.batch_norm_backward)(_decomposed(decomposed.batch_norm_backward))
CUDA.rule(linalg.linear)(_decomposed(decomposed.linear))
CUDA.fallback("pass", "bound by the plan: a device argument or uploaded constant "
              "(backends/cuda.py)", leaves.placeholder, leaves.constant, leaves.variable)
CUDA.fallback("host", "NumPy on the host, between two transfers (no CUDA kernel yet)",
              linalg.inverse, linalg.det, linalg.slogdet, dec.cholesky, dec.eigh, dec.svd,
              dec.svdvals, dec.qr, dec.pinv, shape.index, shape.index_backward,
              shape.index_put, shape.bitcast, scans.cumsum, scans.cumprod, scans.cummax,
              scans.cummin, scans.sort, scans.prod, scans.scatter_extreme, scan_op)
CUDA.fallback("host", "NumPy on the host, between two transfers; graphc.compile runs "
              "collectives between the compiled parts", collective.all_reduce,
              collective.broadcast)


def implementation(op):
    """The function that runs `op` on device arrays: its rule, else the host fallback."""
    return CUDA.lookup(op) or _on_host


def run(op, args, attrs, out_types):
    """One op on device arrays (host scalars allowed for elementwise inputs): output arrays."""
    if any(t.numel() == 0 for t in out_types):
        return [memory.empty(t.shape, t.dtype.np) for t in out_types]
    impl = implementation(op)
    if impl is not _elementwise:
        args = [a if memory_is_device(a) else memory.to_device(np.asarray(a)) for a in args]
    return impl(op, args, attrs, out_types)
