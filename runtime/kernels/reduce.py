"""Reductions along one axis of a contiguous array viewed as (outer, n, inner).

Any reduction over a set of adjacent axes becomes this form by a free reshape; other axis sets
need a copy (runtime.kernels.copy) first. Outputs are (outer, inner), preallocated. Sums of
float32 accumulate in float64 along contiguous rows (inner == 1).
"""
from __future__ import annotations

from ._jit import kernel


@kernel
def sum_axis(x, out):
    """sum_axis(x[outer,n,inner], out[outer,inner])"""
    outer, n, inner = x.shape
    for o in range(outer):
        if inner == 1:
            acc = 0.0
            row = x[o, :, 0]
            for k in range(n):
                acc += row[k]
            out[o, 0] = acc
            continue
        dst = out[o]
        for j in range(inner):
            dst[j] = 0
        for k in range(n):
            src = x[o, k]
            for j in range(inner):
                dst[j] += src[j]


@kernel
def _extreme_axis(x, out, indices, want_max):
    """out/indices of the max (or min) along n; the first extreme wins, NaN beats numbers."""
    outer, n, inner = x.shape
    for o in range(outer):
        for j in range(inner):
            best = x[o, 0, j]
            where = 0
            if best == best:
                for k in range(1, n):
                    v = x[o, k, j]
                    if v != v:
                        best, where = v, k
                        break
                    if (v > best) if want_max else (v < best):
                        best, where = v, k
            out[o, j] = best
            indices[o, j] = where


@kernel
def max_axis(x, out, indices):
    """max_axis(x[outer,n,inner], out[outer,inner], indices[outer,inner] int64): values and first argmax"""
    _extreme_axis(x, out, indices, True)


@kernel
def min_axis(x, out, indices):
    """min_axis(x[outer,n,inner], out[outer,inner], indices[outer,inner] int64): values and first argmin"""
    _extreme_axis(x, out, indices, False)
