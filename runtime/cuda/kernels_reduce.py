"""Row reductions on a contiguous (M, K) array: one block per row, shared-memory tree.

The caller moves the reduced dims last (one strided gather) so every reduction, softmax and
variance here is over contiguous rows. Kernels are built per (kind, dtype, block size): the
shared array's type and size must be compile-time constants.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import cuda, from_dtype

from . import launch
from .device import simulated
from .memory import flat

if simulated():  # Python's math raises at log(0): the simulator gets a GPU's answers
    from .sim_math import ieee_math as math  # noqa: F811


@cuda.jit(device=True)
def _add(a, b):
    return a + b


# NaN propagates, as in PyTorch's amax/amin and the elementwise maximum/minimum of
# graphc/ops/scalar.py (a bare `a if a >= b else b` would drop a NaN in b)
@cuda.jit(device=True)
def _max(a, b):
    return a if a >= b or a != a else b


@cuda.jit(device=True)
def _min(a, b):
    return a if a <= b or a != a else b


_COMBINE = {"sum": _add, "max": _max, "min": _min}


def _tree(combine, tpb):
    @cuda.jit(device=True)
    def tree(sh, t):
        s = tpb // 2
        while s > 0:
            if t < s:
                sh[t] = combine(sh[t], sh[t + s])
            cuda.syncthreads()
            s //= 2
        result = sh[0]
        cuda.syncthreads()  # sh is reused by the next phase or row
        return result
    return tree


@lru_cache(maxsize=None)
def _reduce_kernel(kind, dtype, tpb):
    dt = from_dtype(np.dtype(dtype))
    combine = _COMBINE[kind]
    tree = _tree(combine, tpb)

    @cuda.jit
    def kernel(x, out, M, K, init, scale):
        sh = cuda.shared.array(tpb, dt)
        t = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            acc = init
            for j in range(t, K, tpb):
                acc = combine(acc, x[row * K + j])
            sh[t] = acc
            cuda.syncthreads()
            total = tree(sh, t)
            if t == 0:
                out[row] = total * scale
    return kernel


@lru_cache(maxsize=None)
def _arg_kernel(is_max, dtype, tpb):
    dt = from_dtype(np.dtype(dtype))

    @cuda.jit(device=True)
    def better(v, i, bv, bi):  # the first extreme wins ties, as np.argmax; NaN is the
        if v != v or bv != bv:  # extreme of both argmax and argmin, as in PyTorch
            return bv == bv or (v != v and i < bi)
        if v == bv:
            return i < bi
        return v > bv if is_max else v < bv

    @cuda.jit
    def kernel(x, values, indices, M, K):
        shv = cuda.shared.array(tpb, dt)
        shi = cuda.shared.array(tpb, np.int64)
        t = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            bi = K
            bv = x[row * K]
            for j in range(t, K, tpb):
                v = x[row * K + j]
                if bi == K or better(v, j, bv, bi):
                    bv, bi = v, j
            shv[t] = bv
            shi[t] = bi
            cuda.syncthreads()
            s = tpb // 2
            while s > 0:
                if t < s and shi[t + s] < K and (shi[t] == K or better(
                        shv[t + s], shi[t + s], shv[t], shi[t])):
                    shv[t] = shv[t + s]
                    shi[t] = shi[t + s]
                cuda.syncthreads()
                s //= 2
            if t == 0:
                values[row] = shv[0]
                indices[row] = shi[0]
            cuda.syncthreads()
    return kernel


# two-pass row kernels: a first statistic (max or mean), then a sum that uses it
@lru_cache(maxsize=None)
def _two_pass_kernel(kind, dtype, tpb):
    dt = from_dtype(np.dtype(dtype))
    tree_max, tree_sum = _tree(_max, tpb), _tree(_add, tpb)
    zero = dt(0)
    # plain bools: the CUDA target has no strings; constant branches are pruned
    is_var, is_softmax = kind == "var", kind == "softmax"
    is_log_softmax, is_logsumexp = kind == "log_softmax", kind == "logsumexp"

    @cuda.jit
    def kernel(x, out, M, K, init, scale):
        sh = cuda.shared.array(tpb, dt)
        t = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            base = row * K
            acc = init
            for j in range(t, K, tpb):
                acc = _add(acc, x[base + j]) if is_var else _max(acc, x[base + j])
            sh[t] = acc
            cuda.syncthreads()
            first = tree_sum(sh, t) * scale if is_var else tree_max(sh, t)
            if not is_var and (first == init or (is_logsumexp and first == -init)):
                first = zero  # an all -inf row (or +inf in logsumexp): avoid inf - inf
            acc = zero
            for j in range(t, K, tpb):
                d = x[base + j] - first
                acc += d * d if is_var else math.exp(d)
            sh[t] = acc
            cuda.syncthreads()
            total = tree_sum(sh, t)
            if is_softmax:
                for j in range(t, K, tpb):
                    out[base + j] = math.exp(x[base + j] - first) / total
            elif is_log_softmax:
                for j in range(t, K, tpb):
                    out[base + j] = x[base + j] - first - math.log(total)
            elif t == 0:
                out[row] = first + math.log(total) if is_logsumexp else total
    return kernel


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return dtype.type(-np.inf) if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    dtype = np.dtype(dtype)
    return dtype.type(np.inf) if dtype.kind == "f" else np.iinfo(dtype).max


def reduce_rows(kind, x, out, M, K, scale=1):
    """out[m] = reduce(x[m, :]) for kind in sum / max / min (sum times `scale`: mean)."""
    dtype = np.dtype(x.dtype)
    init = {"sum": dtype.type(0), "max": _lowest(dtype), "min": _highest(dtype)}[kind]
    if M:
        blocks, threads = launch.rows(M)
        _reduce_kernel(kind, dtype, threads)[blocks, threads](flat(x), flat(out), M, K, init,
                                                              dtype.type(scale))
    return out


def arg_rows(is_max, x, values, indices, M, K):
    if M:
        blocks, threads = launch.rows(M)
        _arg_kernel(bool(is_max), np.dtype(x.dtype), threads)[blocks, threads](
            flat(x), flat(values), flat(indices), M, K)


def two_pass_rows(kind, x, out, M, K, correction=0):
    """logsumexp / softmax / log_softmax / var (with `correction`) over rows of length K."""
    dtype = np.dtype(x.dtype)
    if M:
        init = dtype.type(0) if kind == "var" else _lowest(dtype)
        scale = dtype.type(1 / K if K else 0)
        blocks, threads = launch.rows(M)
        _two_pass_kernel(kind, dtype, threads)[blocks, threads](flat(x), flat(out), M, K, init,
                                                                  scale)
        if kind == "var":
            from .kernels_copy import scale_inplace
            denom = K - correction
            scale_inplace(out, dtype.type(1 / denom) if denom > 0 else dtype.type(np.nan))
    return out
