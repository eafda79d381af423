"""Scans, sorting and products along one axis of a contiguous array viewed as (outer, n, inner).

The ops cumsum, cumprod, cummax, cummin, sort and prod of graphc/ops/scans.py. Outputs are
preallocated: x's shape for the scans and sort, (outer, inner) for prod. Integers accumulate
in the output's dtype (int64 for cumsum, cumprod and prod, as the ops' type rules say); float32
accumulates in float32, as the NumPy references do. NaN orders as the largest value (sort) and,
once reached, stays the running extreme (cummax/cummin), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def cumsum_axis(x, out):
    """cumsum_axis(x[outer,n,inner], out[outer,n,inner])"""
    outer, n, inner = x.shape
    for o in range(outer):
        if n == 0:
            continue
        for j in range(inner):
            out[o, 0, j] = x[o, 0, j]
        for k in range(1, n):
            for j in range(inner):
                out[o, k, j] = out[o, k - 1, j] + x[o, k, j]


@kernel
def cumprod_axis(x, out):
    """cumprod_axis(x[outer,n,inner], out[outer,n,inner])"""
    outer, n, inner = x.shape
    for o in range(outer):
        if n == 0:
            continue
        for j in range(inner):
            out[o, 0, j] = x[o, 0, j]
        for k in range(1, n):
            for j in range(inner):
                out[o, k, j] = out[o, k - 1, j] * x[o, k, j]


@kernel
def _running_extreme(x, values, indices, want_max):
    outer, n, inner = x.shape
    for o in range(outer):
        for j in range(inner):
            if n == 0:
                continue
            best = x[o, 0, j]
            where = 0
            values[o, 0, j] = best
            indices[o, 0, j] = 0
            for k in range(1, n):
                v = x[o, k, j]
                if v != v:  # nan takes over (and a later nan moves the index)
                    best, where = v, k
                elif best == best and ((v >= best) if want_max else (v <= best)):
                    best, where = v, k  # the last of equal values, as PyTorch
                values[o, k, j] = best
                indices[o, k, j] = where


@kernel
def cummax_axis(x, values, indices):
    """cummax_axis(x[outer,n,inner], values[outer,n,inner], indices[outer,n,inner] int64)"""
    _running_extreme(x, values, indices, True)


@kernel
def cummin_axis(x, values, indices):
    """cummin_axis(x[outer,n,inner], values[outer,n,inner], indices[outer,n,inner] int64)"""
    _running_extreme(x, values, indices, False)


@kernel
def _before(a, b, descending):
    """a strictly before b in the sort order (nan is the largest value)."""
    if descending:
        if a != a:
            return b == b
        if b != b:
            return False
        return a > b
    if b != b:
        return a == a
    if a != a:
        return False
    return a < b


@kernel
def sort_axis(x, values, indices, descending):
    """sort_axis(x[outer,n,inner], values[outer,n,inner], indices[outer,n,inner] int64, descending int)"""
    outer, n, inner = x.shape
    keys = np.empty(n, x.dtype)
    perm = np.empty(n, np.int64)
    buf = np.empty(n, np.int64)
    for o in range(outer):
        for j in range(inner):
            for k in range(n):
                keys[k] = x[o, k, j]
                perm[k] = k
            width = 1  # bottom-up merge sort: stable, any dtype
            while width < n:
                for lo in range(0, n, 2 * width):
                    mid = min(lo + width, n)
                    hi = min(lo + 2 * width, n)
                    a, b, out = lo, mid, lo
                    while a < mid and b < hi:
                        if _before(keys[perm[b]], keys[perm[a]], descending != 0):
                            buf[out] = perm[b]
                            b += 1
                        else:
                            buf[out] = perm[a]
                            a += 1
                        out += 1
                    while a < mid:
                        buf[out] = perm[a]
                        a += 1
                        out += 1
                    while b < hi:
                        buf[out] = perm[b]
                        b += 1
                        out += 1
                for k in range(n):
                    perm[k] = buf[k]
                width *= 2
            for k in range(n):
                values[o, k, j] = keys[perm[k]]
                indices[o, k, j] = perm[k]


@kernel
def prod_axis(x, out):
    """prod_axis(x[outer,n,inner], out[outer,inner])"""
    outer, n, inner = x.shape
    for o in range(outer):
        for j in range(inner):
            out[o, j] = 1
        for k in range(n):
            for j in range(inner):
                out[o, j] = out[o, j] * x[o, k, j]
