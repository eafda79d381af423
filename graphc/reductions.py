"""Reductions, scans and sorting with PyTorch's names (torch.all ... torch.bucketize).

Most are composites of the reduce ops and of the scan/sort primitives (graphc/ops/scans.py).
Functions whose result size depends on the values (unique, bincount, ...) run in eager mode
only and raise UnsupportedError on symbolic values.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from .errors import ShapeError, UnsupportedError, op_error
from .functional import cat, mean, reshape, split, std, var
from .indexing import gather, index_select, narrow
from .rearrange import movedim
from .ops import elementwise as E, reduce as R, scans as SC, shape as S
from .types import as_dtype, bool_, int64

SortResult = namedtuple("SortResult", ["values", "indices"])
MinMaxResult = namedtuple("MinMaxResult", ["min", "max"])


def _dim_tuple(dim):
    return dim if dim is None or isinstance(dim, (tuple, list)) else (dim,)


def _nonzero(input):
    return input if input.dtype is bool_ else E.ne(input, 0)


# ---- logical and products ------------------------------------------------------------------
def any(input, dim=None, keepdim=False):
    return E.gt(R.sum(E.cast(_nonzero(input), dtype=int64), dims=_dim_tuple(dim), keepdim=keepdim), 0)


def all(input, dim=None, keepdim=False):
    return E.logical_not(any(E.logical_not(_nonzero(input)), dim, keepdim))


def count_nonzero(input, dim=None):
    return R.sum(E.cast(_nonzero(input), dtype=int64), dims=_dim_tuple(dim))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = E.cast(input, dtype=as_dtype(dtype))
    return SC.prod(input, dims=dim, keepdim=keepdim)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = E.where(E.isnan(input), 0, input) if input.dtype.is_floating_point else input
    if dtype is not None:
        x = E.cast(x, dtype=as_dtype(dtype))
    return R.sum(x, dims=_dim_tuple(dim), keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False):
    keep = E.logical_not(E.isnan(input))
    total = R.sum(E.where(keep, input, 0), dims=_dim_tuple(dim), keepdim=keepdim)
    return E.div(total, R.sum(E.cast(keep, dtype=input.dtype), dims=_dim_tuple(dim), keepdim=keepdim))


def aminmax(input, *, dim=None, keepdim=False):
    return MinMaxResult(R.amin(input, dims=dim, keepdim=keepdim),
                        R.amax(input, dims=dim, keepdim=keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


# ---- norms --------------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        x = E.cast(x, dtype=as_dtype(dtype))
    dims = _dim_tuple(dim)
    a = E.abs(x)
    if ord == math.inf:
        return R.amax(a, dims=dims, keepdim=keepdim)
    if ord == -math.inf:
        return R.amin(a, dims=dims, keepdim=keepdim)
    if ord == 0:
        return R.sum(E.cast(E.ne(x, 0), dtype=x.dtype), dims=dims, keepdim=keepdim)
    if ord == 1:
        return R.sum(a, dims=dims, keepdim=keepdim)
    if ord == 2:
        # sqrt(sum x^2) has an infinite gradient at 0; PyTorch defines it as 0 there
        s = R.sum(E.square(x), dims=dims, keepdim=keepdim)
        zero = E.eq(s, 0)
        return E.where(zero, 0.0, E.sqrt(E.where(zero, 1.0, s)))
    return E.pow(R.sum(E.pow(a, float(ord)), dims=dims, keepdim=keepdim), 1.0 / ord)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (or 2) is the 2-norm of the selected dims; other p are vector norms."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise UnsupportedError("norm: p='nuc' (nuclear norm) is not supported")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def dist(input, other, p=2):
    return vector_norm(E.sub(input, other), p)


# ---- scans --------------------------------------------------------------------------------------
def cumsum(input, dim, *, dtype=None):
    if dtype is not None:
        input = E.cast(input, dtype=as_dtype(dtype))
    return SC.cumsum(input, dim=dim)


def cumprod(input, dim, *, dtype=None):
    if dtype is not None:
        input = E.cast(input, dtype=as_dtype(dtype))
    return SC.cumprod(input, dim=dim)


def cummax(input, dim):
    return SortResult(*SC.cummax(input, dim=dim))


def cummin(input, dim):
    return SortResult(*SC.cummin(input, dim=dim))


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))), shifted by the max along dim (exact for moderate ranges)."""
    m = R.amax(input, dims=(dim,), keepdim=True)
    m = E.where(E.isfinite(m), m, 0)
    return E.add(E.log(SC.cumsum(E.exp(E.sub(input, m)), dim=dim)), m)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], dim)
    for _ in range(n):
        size = x.shape[dim]
        if size <= 1:
            return split(x, [0, size], dim)[0]
        lo, hi = split(x, [size - 1, 1], dim)[0], split(x, [1, size - 1], dim)[1]
        x = E.ne(hi, lo) if x.dtype is bool_ else E.sub(hi, lo)
    return x


# ---- sorting ----------------------------------------------------------------------------------
def sort(input, dim=-1, descending=False, stable=False):
    return SortResult(*SC.sort(input, dim=dim, descending=bool(descending)))


def argsort(input, dim=-1, descending=False, stable=False):
    return SC.sort(input, dim=dim, descending=bool(descending))[1]


def msort(input):
    return sort(input, 0).values


def _check_k(name, input, k, dim, lo):
    n = input.shape[dim] if input.ndim else 1
    if isinstance(n, int) and not lo <= k <= n:
        raise op_error(ShapeError, name, f"k={k} is out of range for dim {dim} of size {n} "
                                         f"(shape {list(input.shape)})")


def topk(input, k, dim=-1, largest=True, sorted=True):
    _check_k("topk", input, k, dim, 0)
    values, indices = SC.sort(input, dim=dim, descending=bool(largest))
    return SortResult(narrow(values, dim, 0, k), narrow(indices, dim, 0, k))


def kthvalue(input, k, dim=-1, keepdim=False):
    _check_k("kthvalue", input, k, dim, 1)
    values, indices = SC.sort(input, dim=dim)
    v, i = narrow(values, dim, k - 1, 1), narrow(indices, dim, k - 1, 1)
    if not keepdim and input.ndim:
        v, i = S.squeeze(v, dims=dim), S.squeeze(i, dims=dim)
    return SortResult(v, i)


def median(input, dim=None, keepdim=False):
    """The lower median, as PyTorch; without dim a 0-d tensor."""
    if dim is None:
        flat = reshape(input, -1)
        return kthvalue(flat, (flat.shape[0] + 1) // 2, 0).values
    return kthvalue(input, (input.shape[dim] + 1) // 2, dim, keepdim)


def nanmedian(input, dim=None, keepdim=False):
    """Median of the non-nan values (nan sorts last, so it is a gather at a per-row index)."""
    flat = dim is None
    if flat:
        input, dim = reshape(input, -1), 0
    values, indices = SC.sort(input, dim=dim)
    count = R.sum(E.cast(E.logical_not(E.isnan(input)), dtype=int64), dims=(dim,), keepdim=True)
    at = E.maximum(E.floor_divide(E.sub(count, 1), 2), 0)
    v, i = gather(values, dim, at), gather(indices, dim, at)
    if flat:  # nanmedian(x): a 0-d tensor, as PyTorch
        return S.reshape(v, shape=())
    if not keepdim:
        v, i = S.squeeze(v, dims=dim), S.squeeze(i, dims=dim)
    return SortResult(v, i)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    if dim is None:
        input, dim, flat = reshape(input, -1), 0, True
    else:
        flat = False
    qs = np.atleast_1d(np.asarray(_concrete("quantile's q", q) if hasattr(q, "shape") else q,
                                  dtype=np.float64))
    if np.any((qs < 0) | (qs > 1)):
        raise op_error(ValueError, "quantile", f"q must be in [0, 1], got {qs.tolist()}")
    n = input.shape[dim]
    values = SC.sort(input, dim=dim)[0]
    pos = qs * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    a, b = index_select(values, dim, lo), index_select(values, dim, hi)
    shape = [1] * input.ndim
    shape[dim] = len(qs)
    frac = SC.like_device((pos - lo).reshape(shape).astype(input.dtype.np), input)
    if interpolation == "linear":
        out = E.add(a, E.mul(E.sub(b, a), frac))
    elif interpolation == "lower":
        out = a
    elif interpolation == "higher":
        out = b
    elif interpolation == "midpoint":
        out = E.mul(E.add(a, b), 0.5)
    elif interpolation == "nearest":
        out = index_select(values, dim, np.round(pos).astype(np.int64))
    else:
        raise ValueError(f"quantile: unknown interpolation {interpolation!r}")
    out = movedim(out, dim, 0)  # PyTorch puts the q dim first, in place of the reduced dim
    if keepdim:
        if flat:
            raise UnsupportedError("quantile: keepdim=True with dim=None is not supported")
        out = S.unsqueeze(out, dims=(dim + 1,))
    return S.squeeze(out, dims=(0,)) if np.ndim(q if not hasattr(q, "shape") else
                                                np.empty(tuple(q.shape))) == 0 else out


def mode(input, dim=-1, keepdim=False):
    """Most frequent value along dim (the smallest of ties) and its last index: eager only."""
    x = _concrete("mode", input)
    d = dim % builtins.max(x.ndim, 1)
    xs = np.moveaxis(x, d, -1)
    vals, idx = np.empty(xs.shape[:-1], x.dtype), np.empty(xs.shape[:-1], np.int64)
    for pos in np.ndindex(xs.shape[:-1]):
        row = xs[pos]
        u, counts = np.unique(row, return_counts=True)
        v = u[np.argmax(counts)]
        vals[pos], idx[pos] = v, np.nonzero(row == v)[0][-1]
    if keepdim:
        vals, idx = np.expand_dims(vals, d), np.expand_dims(idx, d)
    return SortResult(SC.host_result(vals, input), SC.host_result(idx, input))


# ---- value-dependent sizes: eager only ----------------------------------------------------
def _concrete(name, x):
    from .ir.graph import Value
    if isinstance(x, Value):
        raise UnsupportedError(f"{name}: the result's size depends on the values, which a "
                               f"symbolic value does not have; call it in eager mode")
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    x = _concrete("unique", input)
    out = np.unique(x, return_inverse=True, return_counts=True, axis=dim)
    values, inverse, counts = out
    result = [SC.host_result(values, input)]
    if return_inverse:
        inverse = inverse.reshape(x.shape if dim is None else -1).astype(np.int64)
        result.append(SC.host_result(inverse, input))
    if return_counts:
        result.append(SC.host_result(counts.astype(np.int64), input))
    return result[0] if len(result) == 1 else tuple(result)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    if dim is not None:
        raise UnsupportedError("unique_consecutive: dim is not supported")
    x = _concrete("unique_consecutive", input).reshape(-1)
    if x.size == 0:
        starts = np.zeros(0, bool)
    else:
        starts = np.concatenate([[True], x[1:] != x[:-1]])
    result = [SC.host_result(x[starts], input)]
    if return_inverse:
        result.append(SC.host_result((np.cumsum(starts) - 1).reshape(input.shape).astype(np.int64),
                                      input))
    if return_counts:
        edges = np.flatnonzero(np.concatenate([starts, [True]]))
        result.append(SC.host_result(np.diff(edges).astype(np.int64), input))
    return result[0] if len(result) == 1 else tuple(result)


def bincount(input, weights=None, minlength=0):
    x = _concrete("bincount", input)
    w = None if weights is None else _concrete("bincount", weights)
    out = np.bincount(x, w, minlength)
    return SC.host_result(out if w is not None else out.astype(np.int64), input)


def histc(input, bins=100, min=0, max=0):
    x = _concrete("histc", input)
    lo, hi = (float(x.min()), float(x.max())) if min == max and x.size else (min, max)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(x, bins, (lo, hi))
    return SC.host_result(counts.astype(x.dtype), input)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Per row of sorted_sequence, where each value of input would be inserted: a count of
    the values below it (composite, so it also runs on symbolic values)."""
    if sorter is not None:
        raise UnsupportedError("searchsorted: sorter is not supported")
    right = right or side == "right"
    from .eager.creation import tensor
    seq = sorted_sequence
    vals = tensor(input) if isinstance(input, (int, float)) else input
    cmp = E.le if right else E.lt  # counts the boundaries below (or not above) each value
    rows = seq if seq.ndim == 1 else S.unsqueeze(seq, dims=(seq.ndim - 1,))
    hits = cmp(rows, S.unsqueeze(vals, dims=(vals.ndim,)))
    out = R.sum(E.cast(hits, dtype=int64), dims=(hits.ndim - 1,))
    return E.cast(out, dtype=as_dtype("int32")) if out_int32 else out


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


__all__ = ["any", "all", "count_nonzero", "prod", "nansum", "nanmean", "aminmax", "var_mean",
           "std_mean", "norm", "dist", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
           "diff", "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian",
           "quantile", "mode", "unique", "unique_consecutive", "bincount", "histc",
           "searchsorted", "bucketize"]
