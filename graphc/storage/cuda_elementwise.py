"""Elementwise ops on CUDA device arrays: the table of scalar semantics (graphc/ops/scalar.py)
rendered as generated grid-stride kernels (runtime/cuda/elementwise.py). One op at a time for
eager tensors (`run_op`), and whole fused groups for compiled programs (graphc/lower/cuda_fused.py
renders a group with `elementwise_body` and launches it with `run_elementwise`).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from runtime.cuda import elementwise as ew
from runtime.cuda import memory

from ..ops import elementwise, scalar
from ..types import DType


class _Applied:
    """An op with its attributes, as graphc/ops/scalar.py `expression` reads a node."""

    __slots__ = ("op", "attrs")

    def __init__(self, op, attrs):
        self.op, self.attrs = op, attrs


def compute_dtype(op, in_dtype: DType, out_dtype: DType) -> DType:
    """The dtype an elementwise op computes in: its (coerced) input dtype; the output dtype
    for ops that read no input values (full_like, cast) or compute numbers from bools (the
    cpu's graphc/lower/loops.py `_compute_dtype` makes the same choice from a node)."""
    if in_dtype is None or op is elementwise.cast or op is elementwise.full_like:
        return out_dtype
    if in_dtype.is_bool and not out_dtype.is_bool:
        return out_dtype  # where(cond, a, b): the condition is not what is computed
    return in_dtype


def scalar_expr(op, attrs, args, in_dtype: DType, out_dtype: DType) -> str:
    """One op's value as a kernel expression of `args`, typed exactly out_dtype.

    The same table of scalar semantics as the cpu target (graphc/ops/scalar.py: NaN
    propagates through maximum/minimum/relu/clamp, sign(nan) is 0, ...), rendered without the
    cpu's fast float32 helpers: CUDA's math functions are libdevice's. Literals are typed
    with the compute dtype (`f32(0.5)`): a bare 1.0 would make float32 code float64 on the
    GPU (the simulator would not notice)."""
    compute = compute_dtype(op, in_dtype, out_dtype)
    return scalar.expression(_Applied(op, attrs), list(args), compute.name, out_dtype.name,
                             False, set())


def elementwise_body(nodes, stored=None):
    """Kernel statements for a fused group and the values it stores. nodes: (op, attrs, arg
    refs, in dtype, out dtype) in order, refs ("in", k) for kernel inputs or ("node", j) for
    earlier nodes; stored: the positions of the nodes whose values are written out (default:
    the last one). Returns (statements, stored variable names)."""
    lines = []
    for j, (op, attrs, refs, in_dtype, out_dtype) in enumerate(nodes):
        args = [f"x{k}" if kind == "in" else f"v{k}" for kind, k in refs]
        lines.append(f"v{j} = {scalar_expr(op, attrs, args, in_dtype, out_dtype)}")
    if stored is None:
        stored = (len(nodes) - 1,)
    return tuple(lines), tuple(f"v{j}" for j in stored)


@lru_cache(maxsize=4096)
def _kernel(kinds, body, results):
    return ew.compile_kernel(kinds, body, results)


def broadcast_strides(shape, out_shape):
    """Element strides of a contiguous `shape` read broadcast over out_shape (0 where size 1)."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(0 if d == 1 else step)
        step *= d
    strides = strides[::-1]
    return (0,) * (len(out_shape) - len(shape)) + tuple(strides)


def run_elementwise(kinds, code, args, outs):
    """Launch a fused kernel: kinds: each input's kind (input_kind); code: (statements,
    stored names) from elementwise_body; args: device arrays or scalars; outs: one device
    array per stored name, all of one shape."""
    shape = outs[0].shape
    strides = [broadcast_strides(a.shape, shape) for a, k in zip(args, kinds) if k == "strided"]
    ew.run(_kernel(kinds, *code), outs, args, kinds, strides)
    return outs


def input_kind(arg, out_shape):
    if not memory_is_device(arg):
        return "scalar"
    return "same" if tuple(arg.shape) == tuple(out_shape) else "strided"


def scalar_arguments(args, kinds):
    """The kernel arguments: device arrays as they are, host values as scalars of their
    dtype (a 0-d array or a NumPy scalar)."""
    return [a if k != "scalar" else np.asarray(a).reshape(()).astype(dtype_of(a).np)[()]
            for a, k in zip(args, kinds)]


def memory_is_device(a):
    return hasattr(a, "copy_to_host")


def run_op(op, args, attrs, out_types):
    """One elementwise op as its own kernel."""
    out_t = out_types[0]
    in_dtype = dtype_of(args[0]) if args else None
    refs = [("in", k) for k in range(len(args))]
    code = elementwise_body([(op, attrs, refs, in_dtype, out_t.dtype)])
    kinds = tuple(input_kind(a, out_t.shape) for a in args)
    out = memory.empty(out_t.shape, out_t.dtype.np)
    return run_elementwise(kinds, code, scalar_arguments(args, kinds), [out])


def dtype_of(a):
    return DType._by_np[np.dtype(a.dtype)]
