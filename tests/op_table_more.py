"""The op table, continued: PyTorch's everyday names added for issue 12 (pointwise, reductions,
scans, sorting, shapes, indexing, products), each against an independent NumPy oracle.

Same `Case` as tests/op_table.py. tests/ops/test_op_table.py runs these eagerly and on the
`reference` target, with finite-difference gradients; tests/backends/test_cpu_more_ops.py
compiles the cases marked CPU for the `cpu` target.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.special

import graphc as gc
from op_table import Case, away_from_zero, distinct, normal, positive, rng


def off_integers(*shape):
    """Values at least 0.1 from integers and from half-integers (no jumps nearby)."""
    return (rng.integers(-4, 4, shape) + rng.choice([0.2, 0.3, 0.7, 0.8], shape)).astype(np.float64)


def inside(*shape, bound=0.85):
    return rng.uniform(-bound, bound, shape)


def ints(*shape, lo=-8, hi=9):
    return rng.integers(lo, hi, shape).astype(np.int64)


def with_specials(*shape):
    x = normal(*shape).reshape(-1)
    x[:3] = [np.nan, np.inf, -np.inf]
    return x.reshape(shape)


def _u(name, fn, ref, make=away_from_zero, shape=(3, 4), grad=True, op=None, **kw):
    return Case(name, op or name.split("-")[0], fn, [make(*shape)], ref, grad, **kw)


def _b(name, op, fn, ref, a, b, grad=True, **kw):
    return Case(name, op, fn, [a, b], ref, grad, **kw)


POINTWISE = [
    _u("floor", gc.floor, np.floor, off_integers), _u("ceil", gc.ceil, np.ceil, off_integers),
    _u("trunc", gc.trunc, np.trunc, off_integers),
    _u("round", gc.round, np.round, off_integers),
    Case("round-ties", "round", gc.round, [np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49])],
         np.round, grad=False),
    Case("round-decimals", "round", lambda x: gc.round(x, decimals=2), [off_integers(3, 2) / 7],
         lambda x: np.round(x * 100) / 100),
    Case("floor-int", "floor", gc.floor, [ints(5)], lambda x: x, grad=False),
    _u("frac", gc.frac, lambda x: x - np.trunc(x), off_integers, op="sub"),
    _u("isnan", gc.isnan, np.isnan, with_specials, (2, 4), grad=False),
    _u("isinf", gc.isinf, np.isinf, with_specials, (2, 4), grad=False),
    _u("isfinite", gc.isfinite, np.isfinite, with_specials, (2, 4), grad=False),
    Case("signbit", "signbit", gc.signbit, [np.array([-0.0, 0.0, -1.5, 2.0])], np.signbit,
         grad=False),
    _u("nan_to_num", gc.nan_to_num, lambda x: np.nan_to_num(x, posinf=np.finfo(np.float64).max,
                                                            neginf=np.finfo(np.float64).min),
       with_specials, (2, 4), grad=False, op="where"),
    Case("nan_to_num-args", "where", lambda x: gc.nan_to_num(x, 1.0, 2.0, -3.0), [with_specials(2, 3)],
         lambda x: np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0), grad=False),
    _u("reciprocal", gc.reciprocal, np.reciprocal, op="div"),
    _u("expm1", gc.expm1, np.expm1, normal), _u("exp2", gc.exp2, np.exp2, normal, op="pow"),
    _u("log2", gc.log2, np.log2, positive), _u("log10", gc.log10, np.log10, positive),
    _u("tan", gc.tan, np.tan, inside), _u("asin", gc.asin, np.arcsin, inside),
    _u("acos", gc.acos, np.arccos, inside), _u("atan", gc.atan, np.arctan, normal),
    _u("sinh", gc.sinh, np.sinh, normal), _u("cosh", gc.cosh, np.cosh, normal),
    _u("asinh", gc.asinh, np.arcsinh, normal),
    _u("acosh", gc.acosh, np.arccosh, lambda *s: positive(*s) + 1.2),
    _u("atanh", gc.atanh, np.arctanh, inside), _u("erfc", gc.erfc, scipy.special.erfc, normal),
    _u("erfinv", gc.erfinv, scipy.special.erfinv, inside),
    _u("lgamma", gc.lgamma, scipy.special.gammaln, lambda *s: positive(*s) * 3),
    _u("lgamma-negative", gc.lgamma, scipy.special.gammaln, lambda *s: -off_integers(*s) ** 2 - 0.1),
    _u("digamma", gc.digamma, scipy.special.digamma, off_integers, op="where", rtol=1e-9),
    _u("sinc", gc.sinc, np.sinc, normal, op="where"),
    Case("sinc-zero", "where", gc.sinc, [np.array([0.0, 0.5])], np.sinc),
    _u("logit", gc.logit, scipy.special.logit, lambda *s: rng.uniform(0.1, 0.9, s), op="log"),
    Case("logit-eps", "clamp", lambda x: gc.logit(x, eps=0.2), [rng.uniform(0.05, 0.95, (7,))],
         lambda x: scipy.special.logit(np.clip(x, 0.2, 0.8))),
    _u("deg2rad", gc.deg2rad, np.deg2rad, normal, op="mul"),
    _u("sgn", gc.sgn, np.sign, op="sign", grad=False),
    _u("clamp_min", lambda x: gc.clamp_min(x, 0.3), lambda x: np.maximum(x, 0.3), op="clamp"),
    _u("clamp_max", lambda x: x.clamp_max(0.3), lambda x: np.minimum(x, 0.3), op="clamp"),
    _u("float_power", lambda x: gc.float_power(x, 3), lambda x: x ** 3.0, normal, op="pow"),
]

BINARY_MORE = [
    _b("remainder", "remainder", gc.remainder, np.remainder, off_integers(3, 4), positive(4) + 0.5),
    _b("remainder-neg-divisor", "remainder", lambda a, b: a % b, np.remainder, off_integers(3, 4),
       -positive(4) - 0.5),
    _b("remainder-int", "remainder", lambda a, b: a % b, np.remainder, ints(3, 4), ints(4, lo=1),
       grad=False),
    _b("fmod", "fmod", gc.fmod, np.fmod, off_integers(3, 4), -positive(4) - 0.5),
    _b("fmod-int", "fmod", gc.fmod, np.fmod, ints(3, 4), ints(4, lo=1), grad=False),
    _b("floor_divide", "floor_divide", lambda a, b: a // b, np.floor_divide, off_integers(3, 4),
       positive(4) + 0.5),
    _b("floor_divide-int", "floor_divide", lambda a, b: a // b, np.floor_divide, ints(3, 4),
       ints(4, lo=1), grad=False),
    _b("div-trunc", "trunc", lambda a, b: gc.div(a, b, rounding_mode="trunc"),
       lambda a, b: np.trunc(a / b), off_integers(3, 4), positive(4) + 0.5),
    _b("div-trunc-int", "floor_divide", lambda a, b: gc.div(a, b, rounding_mode="trunc"),
       lambda a, b: np.trunc(a / b).astype(np.int64), ints(3, 4), np.array([3, -3, 2, -5]),
       grad=False),
    _b("div-floor", "floor_divide", lambda a, b: a.div(b, rounding_mode="floor"),
       np.floor_divide, off_integers(3, 4), -positive(4) - 0.5),
    _b("atan2", "atan2", gc.atan2, np.arctan2, normal(3, 4), normal(4)),
    _b("hypot", "hypot", gc.hypot, np.hypot, normal(3, 4), normal(4)),
    _b("bitwise_and", "bitwise_and", lambda a, b: a & b, np.bitwise_and, ints(3, 4), ints(4),
       grad=False),
    _b("bitwise_or", "bitwise_or", gc.bitwise_or, np.bitwise_or, ints(3, 4), ints(4), grad=False),
    _b("bitwise_xor", "bitwise_xor", lambda a, b: a ^ b, np.bitwise_xor, ints(3, 4), ints(4),
       grad=False),
    _b("bitwise_and-bool", "bitwise_and", lambda a, b: a & b, np.logical_and,
       rng.random((3, 4)) > 0.5, rng.random(4) > 0.5, grad=False),
    _b("bitwise_left_shift", "bitwise_left_shift", lambda a, b: a << b, np.left_shift,
       ints(3, 4, lo=0), ints(4, lo=0, hi=4), grad=False),
    _b("bitwise_right_shift", "bitwise_right_shift", gc.bitwise_right_shift, np.right_shift,
       ints(3, 4), ints(4, lo=0, hi=4), grad=False),
    Case("bitwise_not", "bitwise_not", lambda a: ~a, [ints(3, 4)], np.invert, grad=False),
    Case("bitwise_not-bool", "logical_not", gc.bitwise_not, [rng.random(4) > 0.5], np.invert,
         grad=False),
    _b("logical_xor", "ne", gc.logical_xor, np.logical_xor, normal(3, 4) > 0, ints(4), grad=False),
    _b("rsub", "sub", lambda a, b: gc.rsub(a, b, alpha=2), lambda a, b: b - 2 * a, normal(3, 4),
       normal(4)),
    _b("logaddexp", "maximum", gc.logaddexp, np.logaddexp, distinct(3, 4), distinct(4) + 0.01),
    Case("logaddexp-inf", "maximum", gc.logaddexp, [np.array([-np.inf, np.inf, 1.0]),
                                                     np.array([-np.inf, np.inf, -np.inf])],
         np.logaddexp, grad=False),
    _b("logaddexp2", "maximum", gc.logaddexp2, np.logaddexp2, distinct(3, 4), distinct(4) + 0.01),
    _b("xlogy", "where", gc.xlogy, scipy.special.xlogy, np.array([[0.5, 1.5], [2.0, -1.0]]),
       positive(2)),
    # at x == 0 PyTorch's gradient is 0 (not the one-sided log y): values only here
    _b("xlogy-zero", "where", gc.xlogy, scipy.special.xlogy, np.array([0.0, 0.0, 1.0]),
       np.array([0.0, np.nan, 2.0]), grad=False),
    _b("fmax", "where", gc.fmax, np.fmax, np.array([1.0, np.nan, 3.0, np.nan]),
       np.array([2.0, 1.0, np.nan, np.nan]), grad=False),
    _b("fmax-grad", "where", gc.fmax, np.fmax, distinct(3, 4), distinct(4) + 0.01),
    _b("fmin", "where", gc.fmin, np.fmin, distinct(3, 4), distinct(4) + 0.01),
    _b("copysign", "copysign", gc.copysign, np.copysign, away_from_zero(3, 4), away_from_zero(4)),
    _b("float_power-tensor", "pow", gc.float_power, np.power, positive(3, 4), normal(4)),
    _b("isclose", "le", lambda a, b: gc.isclose(a, b, rtol=0.1), lambda a, b: np.isclose(a, b, 0.1),
       normal(3, 4), normal(4), grad=False),
    _b("isclose-nan", "le", lambda a, b: gc.isclose(a, b, equal_nan=True),
       lambda a, b: np.isclose(a, b, equal_nan=True), np.array([np.nan, np.inf, 1.0, 1.0]),
       np.array([np.nan, np.inf, 1.0 + 1e-9, np.inf]), grad=False),
    Case("lerp", "add", gc.lerp, [normal(3, 4), normal(4), rng.uniform(0, 1, (3, 1))],
         lambda a, b, w: a + w * (b - a)),
    Case("lerp-scalar", "add", lambda a, b: gc.lerp(a, b, 0.3), [normal(3), normal(3)],
         lambda a, b: a + 0.3 * (b - a)),
    Case("addcmul", "mul", lambda a, b, c: gc.addcmul(a, b, c, value=0.5),
         [normal(3, 4), normal(4), normal(3, 1)], lambda a, b, c: a + 0.5 * b * c),
    Case("addcdiv", "div", lambda a, b, c: a.addcdiv(b, c, value=2),
         [normal(3, 4), normal(4), away_from_zero(3, 1)], lambda a, b, c: a + 2 * b / c),
]


def _r(name, op, fn, ref, make=normal, shape=(3, 4, 5), **kw):
    return Case(name, op, fn, [make(*shape)], ref, **kw)


def _with_zeros(*shape):
    x = away_from_zero(*shape)
    x[0, 1] = 0.0            # one zero in a row of the last dim
    x[1, 2] = x[1, 3] = 0.0  # two zeros in another
    return x


def _nan_some(*shape):
    x = distinct(*shape)
    x[0, 0] = x[1, 2] = x[1, 3] = np.nan
    return x


def _quantile(x, q, axis):
    return np.quantile(x, q, axis=axis)


REDUCTIONS_MORE = [
    _r("all", "sum", lambda x: gc.all(x > 0), lambda x: np.all(x > 0), grad=False),
    _r("any-dim", "sum", lambda x: (x > 1).any(1), lambda x: np.any(x > 1, 1), grad=False),
    _r("all-keepdim", "sum", lambda x: gc.all(x, 1, keepdim=True), lambda x: np.all(x, 1, keepdims=True),
       _with_zeros, (3, 4), grad=False),
    _r("count_nonzero", "sum", lambda x: gc.count_nonzero(x, 1), lambda x: np.count_nonzero(x, 1),
       _with_zeros, (3, 4), grad=False),
    _r("prod", "prod", lambda x: x.prod(), np.prod, away_from_zero, (2, 3)),
    _r("prod-zeros", "prod", lambda x: gc.prod(x, 1), lambda x: np.prod(x, 1), _with_zeros, (3, 4)),
    _r("prod-keepdim", "prod", lambda x: gc.prod(x, 0, keepdim=True),
       lambda x: np.prod(x, 0, keepdims=True), _with_zeros, (3, 4)),
    Case("prod-int", "prod", lambda x: x.prod(0), [ints(3, 2)], lambda x: np.prod(x, 0), grad=False),
    _r("nansum", "sum", lambda x: gc.nansum(x, 1), lambda x: np.nansum(x, 1), _nan_some, (3, 4)),
    _r("nanmean", "sum", lambda x: gc.nanmean(x, 1), lambda x: np.nanmean(x, 1), _nan_some, (3, 4)),
    _r("aminmax", "amin", lambda x: gc.aminmax(x, dim=1).max - gc.aminmax(x).min,
       lambda x: x.max(1) - x.min(), distinct),
    _r("var_mean", "var", lambda x: gc.var_mean(x, 1)[0] + gc.var_mean(x, 1)[1],
       lambda x: x.var(1, ddof=1) + x.mean(1)),
    _r("std_mean", "var", lambda x: gc.std_mean(x, (0, 2), correction=0)[0],
       lambda x: x.std((0, 2))),
    _r("norm", "sum", lambda x: x.norm(), lambda x: np.sqrt((x ** 2).sum())),
    _r("norm-p1-dim", "sum", lambda x: gc.norm(x, 1, dim=1), lambda x: np.abs(x).sum(1)),
    _r("norm-p3", "pow", lambda x: gc.norm(x, 3, dim=(0, 2)),
       lambda x: (np.abs(x) ** 3).sum((0, 2)) ** (1 / 3), away_from_zero),
    _r("norm-inf", "amax", lambda x: gc.linalg.vector_norm(x, math.inf, dim=-1),
       lambda x: np.abs(x).max(-1), distinct),
    Case("norm-at-zero", "where", lambda x: gc.norm(x * 0), [normal(3)], lambda x: 0.0 * x.sum()),
    Case("dist", "sum", gc.dist, [normal(3, 4), normal(4)],
         lambda a, b: np.sqrt(((a - b) ** 2).sum())),
    _r("cumsum", "cumsum", lambda x: x.cumsum(1), lambda x: np.cumsum(x, 1)),
    _r("cumsum-neg-dim", "cumsum", lambda x: gc.cumsum(x, -1), lambda x: np.cumsum(x, -1)),
    Case("cumsum-int", "cumsum", lambda x: x.cumsum(0), [ints(4, 2).astype(np.int32)],
         lambda x: np.cumsum(x, 0).astype(np.int64), grad=False),
    Case("cumsum-scalar", "cumsum", lambda x: gc.cumsum(x, 0), [normal()], lambda x: x),
    _r("cumprod", "cumprod", lambda x: x.cumprod(1), lambda x: np.cumprod(x, 1), _with_zeros, (3, 4)),
    _r("cumprod-3d", "cumprod", lambda x: gc.cumprod(x, 0), lambda x: np.cumprod(x, 0),
       away_from_zero, (3, 2, 2)),
    _r("cummax", "cummax", lambda x: gc.cummax(x, 1).values, lambda x: np.maximum.accumulate(x, 1),
       distinct),
    _r("cummax-indices", "cummax", lambda x: x.cummax(0).indices,
       lambda x: np.array([[0, 0, 0], [1, 0, 1], [1, 0, 1]]), lambda *s: np.array(
           [[1.0, 5.0, 2.0], [3.0, 1.0, 2.0], [0.0, 0.0, 1.0]]), grad=False),
    _r("cummin", "cummin", lambda x: gc.cummin(x, 2).values, lambda x: np.minimum.accumulate(x, 2),
       distinct),
    _r("logcumsumexp", "cumsum", lambda x: gc.logcumsumexp(x, 1),
       lambda x: np.logaddexp.accumulate(x, 1)),
    _r("diff", "slice", lambda x: gc.diff(x, dim=1), lambda x: np.diff(x, axis=1)),
    _r("diff-n2-prepend", "cat", lambda x: gc.diff(x, 2, 0, prepend=x[:1] * 2),
       lambda x: np.diff(x, 2, 0, prepend=x[:1] * 2)),
    _r("sort", "sort", lambda x: x.sort(1).values, lambda x: np.sort(x, 1), distinct),
    _r("sort-desc", "sort", lambda x: gc.sort(x, 0, descending=True)[0], lambda x: -np.sort(-x, 0),
       distinct),
    _r("sort-indices", "sort", lambda x: gc.sort(x).indices, lambda x: np.argsort(x, -1), distinct,
       grad=False),
    Case("sort-stable-nan", "sort", lambda x: gc.sort(x, descending=True).indices,
         [np.array([1.0, np.nan, 1.0, 3.0, 1.0])], lambda x: np.array([1, 3, 0, 2, 4]), grad=False),
    _r("argsort", "sort", lambda x: x.argsort(0, descending=True),
       lambda x: np.argsort(-x, 0, kind="stable"), distinct, grad=False),
    _r("msort", "sort", gc.msort, lambda x: np.sort(x, 0), distinct),
    _r("topk", "sort", lambda x: x.topk(2, 1).values, lambda x: -np.sort(-x, 1)[:, :2], distinct),
    _r("topk-smallest", "sort", lambda x: gc.topk(x, 3, largest=False).indices,
       lambda x: np.argsort(x, -1)[..., :3], distinct, grad=False),
    _r("kthvalue", "sort", lambda x: gc.kthvalue(x, 2, 1).values, lambda x: np.sort(x, 1)[:, 1],
       distinct),
    _r("median", "sort", lambda x: x.median(), lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
       distinct),
    _r("median-dim", "sort", lambda x: x.median(1, keepdim=True).values,
       lambda x: np.sort(x, 1)[:, 1:2], distinct),
    _r("nanmedian", "sort", lambda x: gc.nanmedian(x, 1).values,
       lambda x: np.array([np.sort(r[~np.isnan(r)])[(np.sum(~np.isnan(r)) - 1) // 2] for r in x]),
       _nan_some, (3, 4)),
    _r("nanmedian-all", "sort", gc.nanmedian,
       lambda x: np.sort(x[~np.isnan(x)])[(np.sum(~np.isnan(x)) - 1) // 2], _nan_some, (3, 4)),
    _r("quantile", "sort", lambda x: gc.quantile(x, 0.3), lambda x: np.quantile(x, 0.3), distinct),
    _r("quantile-dim", "sort", lambda x: gc.quantile(x, [0.25, 0.8], dim=1, keepdim=True),
       lambda x: np.quantile(x, [0.25, 0.8], axis=1, keepdims=True), distinct),
    Case("searchsorted", "lt", lambda s, v: gc.searchsorted(s, v),
         [np.array([1.0, 2.0, 3.0, 5.0]), np.array([[0.5, 2.0], [5.0, 9.0]])],
         lambda s, v: np.searchsorted(s, v), grad=False),
    Case("searchsorted-right-2d", "le", lambda s, v: gc.searchsorted(s, v, right=True),
         [np.sort(ints(2, 5).astype(np.float64), 1), ints(2, 3).astype(np.float64)],
         lambda s, v: np.stack([np.searchsorted(a, b, "right") for a, b in zip(s, v)]), grad=False),
    Case("bucketize", "lt", lambda v, b: gc.bucketize(v, b), [normal(3, 2), np.array([-1.0, 0, 1])],
         lambda v, b: np.searchsorted(b, v), grad=False),
]


def _i(name, op, fn, ref, inputs, **kw):
    return Case(name, op, fn, inputs, ref, grad_inputs=kw.pop("grad_inputs", [0]), **kw)


IDX = np.array([[0, 2, 1, 0], [1, 1, 0, 2]])  # into a (3, 4) tensor along dim 0, or (2, 3) dim 1


def _np_scatter_add(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _np_scatter_set(x, s):
    out = x.copy()
    idx = np.array([[2, 0], [1, 3]])
    for i in range(2):
        for j in range(2):
            out[i, idx[i, j]] = s[i, j]
    return out


def _np_scatter_set_value(x):
    out = x.copy()
    for j in range(4):
        out[IDX[0, j], j] = 5.0
    return out


def _np_scatter_mean(x, s):
    total, count = x.copy(), np.ones_like(x)
    for pos in np.ndindex(IDX.shape):
        total[IDX[pos], pos[1]] += s[pos]
        count[IDX[pos], pos[1]] += 1
    return total / count


def _np_scatter_ext(x, s, fn, include_self=True):
    out = x.copy()
    if not include_self:
        for pos in np.ndindex(IDX.shape):
            out[IDX[pos], pos[1]] = np.inf if fn is np.minimum else -np.inf
    for pos in np.ndindex(IDX.shape):
        out[IDX[pos], pos[1]] = fn(out[IDX[pos], pos[1]], s[pos])
    return out


def _np_index_add(x, s):
    out = x.copy()
    for k, i in enumerate([2, 0, 2]):
        out[i] += 2 * s[k]
    return out


INDEXING = [
    _i("gather", "index", lambda x: gc.gather(x, 0, IDX[:, :3]),
       lambda x: x[IDX[:, :3], np.arange(3)], [normal(3, 4)]),
    _i("gather-dim1", "index", lambda x, i: x.gather(1, i), lambda x, i: np.take_along_axis(x, i, 1),
       [normal(2, 4), np.array([[3, 0, 0], [1, 2, 3]])]),
    _i("take_along_dim", "index", lambda x, i: gc.take_along_dim(x, i, 1),
       lambda x, i: np.take_along_axis(x, i, 1), [normal(2, 4), np.argsort(normal(2, 4), 1)]),
    _i("scatter_add", "index_backward", lambda x, s: x.scatter_add(0, IDX, s),
       lambda x, s: _np_scatter_add(x, 0, IDX, s), [normal(3, 4), normal(2, 4)],
       grad_inputs=[0, 1]),
    _i("scatter", "index_backward", lambda x, s: gc.scatter(x, 1, np.array([[2, 0], [1, 3]]), s),
       lambda x, s: _np_scatter_set(x, s), [normal(2, 4), normal(2, 3)], grad_inputs=[0, 1]),
    _i("scatter-value", "index_backward", lambda x: x.scatter(0, IDX[:1], value=5.0),
       _np_scatter_set_value, [normal(3, 4)]),
    _i("scatter_reduce-mean", "index_backward",
       lambda x, s: gc.scatter_reduce(x, 0, IDX, s, "mean"),
       lambda x, s: _np_scatter_mean(x, s), [normal(3, 4), normal(2, 4)], grad_inputs=[0, 1]),
    _i("scatter_reduce-amax", "scatter_reduce_extreme",
       lambda x, s: gc.scatter_reduce(x, 0, IDX, s, "amax"), lambda x, s: _np_scatter_ext(x, s, np.maximum),
       [distinct(3, 4), distinct(2, 4) + 0.01], grad_inputs=[0, 1]),
    _i("scatter_reduce-amin-exclude", "scatter_reduce_extreme",
       lambda x, s: x.scatter_reduce(0, IDX, s, "amin", include_self=False),
       lambda x, s: _np_scatter_ext(x, s, np.minimum, False), [distinct(3, 4), distinct(2, 4) + 0.01],
       grad_inputs=[0, 1]),
    _i("index_select", "index", lambda x: x.index_select(1, np.array([3, 0, 3])),
       lambda x: x[:, [3, 0, 3]], [normal(2, 4)]),
    _i("index_add", "index_backward", lambda x, s: gc.index_add(x, 0, np.array([2, 0, 2]), s, alpha=2),
       lambda x, s: _np_index_add(x, s), [normal(3, 2), normal(3, 2)], grad_inputs=[0, 1]),
    _i("index_fill", "index_backward", lambda x: x.index_fill(1, np.array([0, 2]), -1.0),
       lambda x: np.where(np.isin(np.arange(3), [0, 2]), -1.0, x), [normal(2, 3)]),
    _i("index_copy", "index_backward", lambda x, s: gc.index_copy(x, 0, np.array([2, 0]), s),
       lambda x, s: np.stack([s[1], x[1], s[0]]), [normal(3, 2), normal(2, 2)], grad_inputs=[0, 1]),
    _i("masked_fill", "where", lambda x, m: x.masked_fill(m, 0.5), lambda x, m: np.where(m, 0.5, x),
       [normal(3, 4), rng.random(4) > 0.5]),
    _i("take", "index", lambda x: gc.take(x, np.array([[0, 5], [11, 3]])),
       lambda x: np.take(x, [[0, 5], [11, 3]]), [normal(3, 4)]),
    _i("select", "slice", lambda x: x.select(1, -1), lambda x: x[:, -1], [normal(3, 4)]),
    _i("narrow", "slice", lambda x: gc.narrow(x, 1, 1, 2), lambda x: x[:, 1:3], [normal(3, 4)]),
    _i("flip", "index", lambda x: x.flip((0, 2)), lambda x: np.flip(x, (0, 2)), [normal(2, 3, 2)]),
    _i("fliplr", "index", gc.fliplr, np.fliplr, [normal(2, 3)]),
    _i("flipud", "index", gc.flipud, np.flipud, [normal(2, 3)]),
    _i("roll", "index", lambda x: x.roll(1, 1), lambda x: np.roll(x, 1, 1), [normal(2, 3)]),
    _i("roll-flat", "index", lambda x: gc.roll(x, -2), lambda x: np.roll(x, -2), [normal(2, 3)]),
    _i("roll-two", "index", lambda x: gc.roll(x, (1, 2), (0, 1)), lambda x: np.roll(x, (1, 2), (0, 1)),
       [normal(2, 3)]),
    _i("rot90", "index", lambda x: gc.rot90(x), np.rot90, [normal(2, 3)]),
    _i("rot90-k3", "index", lambda x: x.rot90(3, (1, 2)), lambda x: np.rot90(x, 3, (1, 2)),
       [normal(2, 2, 3)]),
    _i("tril", "where", lambda x: x.tril(), np.tril, [normal(3, 4)]),
    _i("triu-batched", "where", lambda x: gc.triu(x, 1), lambda x: np.triu(x, 1), [normal(2, 3, 3)]),
    _i("diag-1d", "index_backward", lambda x: gc.diag(x, 1), lambda x: np.diag(x, 1), [normal(3)]),
    _i("diag-2d", "index", lambda x: x.diag(-1), lambda x: np.diag(x, -1), [normal(3, 4)]),
    _i("diagonal", "index", lambda x: x.diagonal(0, 1, 2), lambda x: np.diagonal(x, 0, 1, 2),
       [normal(2, 3, 3)]),
    _i("diag_embed", "index_backward", gc.diag_embed,
       lambda x: np.stack([np.diag(r) for r in x]), [normal(2, 3)]),
    _i("trace", "index", lambda x: x.trace(), np.trace, [normal(3, 4)]),
    _i("repeat", "broadcast_to", lambda x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)),
       [normal(2, 3)]),
    _i("tile", "broadcast_to", lambda x: gc.tile(x, (2,)), lambda x: np.tile(x, 2), [normal(2, 3)]),
    _i("repeat_interleave", "index", lambda x: x.repeat_interleave(2, 0),
       lambda x: np.repeat(x, 2, 0), [normal(2, 3)]),
    _i("movedim", "permute", lambda x: gc.movedim(x, 0, -1), lambda x: np.moveaxis(x, 0, -1),
       [normal(2, 3, 4)]),
    _i("movedim-two", "permute", lambda x: gc.movedim(x, (0, 1), (2, 0)),
       lambda x: np.moveaxis(x, (0, 1), (2, 0)), [normal(2, 3, 4)]),
    _i("swapdims", "permute", lambda x: x.swapdims(0, 2), lambda x: np.swapaxes(x, 0, 2),
       [normal(2, 3, 4)]),
    _i("unbind", "slice", lambda x: gc.unbind(x, 1)[2], lambda x: x[:, 2], [normal(2, 3)]),
    _i("unflatten", "reshape", lambda x: x.unflatten(1, (2, 3)), lambda x: x.reshape(2, 2, 3),
       [normal(2, 6)]),
    _i("tensor_split", "slice", lambda x: gc.tensor_split(x, 3, 1)[0], lambda x: x[:, :3],
       [normal(2, 7)]),
    _i("tensor_split-indices", "slice", lambda x: x.tensor_split([1, 5], 1)[1], lambda x: x[:, 1:5],
       [normal(2, 7)]),
    _i("vstack", "cat", lambda a, b: gc.vstack([a, b]), lambda a, b: np.vstack([a, b]),
       [normal(3), normal(2, 3)], grad_inputs=[0, 1]),
    _i("hstack", "cat", lambda a, b: gc.hstack([a, b]), lambda a, b: np.hstack([a, b]),
       [normal(2, 2), normal(2, 3)], grad_inputs=[0, 1]),
    _i("dstack", "cat", lambda a, b: gc.dstack([a, b]), lambda a, b: np.dstack([a, b]),
       [normal(2, 2), normal(2, 2)], grad_inputs=[0, 1]),
    _i("column_stack", "cat", lambda a, b: gc.column_stack([a, b]),
       lambda a, b: np.column_stack([a, b]), [normal(3), normal(3, 2)], grad_inputs=[0, 1]),
    _i("cat-promotes", "cat", lambda a, b: gc.cat([a, b]), lambda a, b: np.concatenate([a, b]),
       [normal(2), ints(3)]),
    _i("meshgrid", "broadcast_to", lambda a, b: gc.meshgrid(a, b, indexing="xy")[0] * 2
       + gc.meshgrid(a, b, indexing="xy")[1],
       lambda a, b: np.meshgrid(a, b)[0] * 2 + np.meshgrid(a, b)[1], [normal(3), normal(2)],
       grad_inputs=[0, 1]),
    _i("broadcast_tensors", "broadcast_to", lambda a, b: gc.broadcast_tensors(a, b)[0]
       * gc.broadcast_tensors(a, b)[1], lambda a, b: a * b, [normal(3, 1), normal(4)],
       grad_inputs=[0, 1]),
    _i("atleast_3d", "reshape", lambda a: gc.atleast_3d(a), lambda a: np.atleast_3d(a), [normal(3)]),
    _i("block_diag", "pad", lambda a, b: gc.block_diag(a, b),
       lambda a, b: scipy.linalg.block_diag(a, b), [normal(2, 2), normal(1, 3)],
       grad_inputs=[0, 1]),
    _i("cartesian_prod", "cat", lambda a, b: gc.cartesian_prod(a, b),
       lambda a, b: np.array([[x, y] for x in a for y in b]), [normal(3), normal(2)],
       grad_inputs=[0, 1]),
]


def _sym(a):
    return (a + a.mT) * 0.5


def _np_sym(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


def _spd(*shape):
    a = normal(*shape)
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(shape[-1])


PRODUCTS = [
    Case("outer", "mul", gc.outer, [normal(3), normal(4)], np.outer),
    Case("dot", "matmul", gc.dot, [normal(4), normal(4)], np.dot),
    Case("vdot", "matmul", lambda a, b: a.vdot(b), [normal(4), normal(4)], np.vdot),
    Case("inner", "matmul", gc.inner, [normal(2, 4), normal(3, 4)], np.inner),
    Case("mv", "matmul", lambda a, b: a.mv(b), [normal(3, 4), normal(4)], np.matmul),
    Case("addmm", "matmul", lambda c, a, b: gc.addmm(c, a, b, beta=0.5, alpha=2),
         [normal(3), normal(3, 4), normal(4, 3)], lambda c, a, b: 0.5 * c + 2 * a @ b),
    Case("addmv", "matmul", gc.addmv, [normal(3), normal(3, 4), normal(4)],
         lambda c, a, b: c + a @ b),
    Case("addr", "mul", gc.addr, [normal(3, 2), normal(3), normal(2)],
         lambda c, a, b: c + np.outer(a, b)),
    Case("baddbmm", "matmul", gc.baddbmm, [normal(3, 2), normal(2, 3, 4), normal(2, 4, 2)],
         lambda c, a, b: c + a @ b),
    Case("addbmm", "matmul", gc.addbmm, [normal(3, 2), normal(2, 3, 4), normal(2, 4, 2)],
         lambda c, a, b: c + (a @ b).sum(0)),
    Case("kron", "mul", gc.kron, [normal(2, 3), normal(2, 2)], np.kron),
    Case("cross", "sub", lambda a, b: gc.cross(a, b, dim=1), [normal(2, 3), normal(2, 3)],
         lambda a, b: np.cross(a, b, axis=1)),
    Case("tensordot", "matmul", lambda a, b: gc.tensordot(a, b, ([1, 0], [0, 2])),
         [normal(3, 2, 4), normal(2, 5, 3)], lambda a, b: np.tensordot(a, b, ([1, 0], [0, 2]))),
    Case("einsum-matmul", "mul", lambda a, b: gc.einsum("ij,jk->ik", a, b),
         [normal(2, 3), normal(3, 4)], lambda a, b: np.einsum("ij,jk->ik", a, b)),
    Case("einsum-batch-ellipsis", "mul", lambda a, b: gc.einsum("...ij,...jk", a, b),
         [normal(2, 2, 3), normal(2, 3, 2)], lambda a, b: np.einsum("...ij,...jk", a, b)),
    Case("einsum-trace-outer", "index", lambda a, b: gc.einsum("ii,j->j", a, b),
         [normal(3, 3), normal(2)], lambda a, b: np.einsum("ii,j->j", a, b)),
    Case("einsum-implicit", "mul", lambda a, b: gc.einsum("bi,bj", a, b),
         [normal(4, 2), normal(4, 3)], lambda a, b: np.einsum("bi,bj", a, b)),
    Case("cdist", "sum", gc.cdist, [normal(3, 2), normal(4, 2)],
         lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))),
    Case("multi_dot", "matmul", lambda a, b, c: gc.linalg.multi_dot([a, b, c]),
         [normal(2, 3), normal(3, 4), normal(4, 2)], lambda a, b, c: a @ b @ c),
    Case("matrix_power", "matmul", lambda a: gc.matrix_power(a, 3), [normal(3, 3) / 2],
         lambda a: np.linalg.matrix_power(a, 3)),
    Case("matrix_power-neg", "inverse", lambda a: gc.linalg.matrix_power(a, -2), [_spd(3, 3)],
         lambda a: np.linalg.matrix_power(a, -2), rtol=1e-6),
    Case("det", "det", gc.det, [_spd(2, 3, 3)], np.linalg.det, rtol=1e-6),
    Case("slogdet", "slogdet", lambda a: gc.slogdet(a)[1] * gc.slogdet(a)[0],
         [normal(3, 3) + 2 * np.eye(3)], lambda a: np.prod(np.linalg.slogdet(a), 0), rtol=1e-6),
    Case("solve", "inverse", gc.linalg.solve, [_spd(3, 3), normal(3, 2)], np.linalg.solve, rtol=1e-6),
    Case("solve-vector", "inverse", gc.linalg.solve, [_spd(3, 3), normal(3)], np.linalg.solve,
         rtol=1e-6),
    Case("matrix_norm-fro", "sum", gc.linalg.matrix_norm, [normal(2, 3, 3)],
         lambda a: np.linalg.norm(a, "fro", (-2, -1))),
    Case("matrix_norm-1", "amax", lambda a: gc.linalg.matrix_norm(a, 1), [distinct(3, 3)],
         lambda a: np.linalg.norm(a, 1)),
    Case("linalg.norm", "sum", lambda a: gc.linalg.norm(a, dim=1), [normal(3, 4)],
         lambda a: np.linalg.norm(a, axis=1)),
    # factorizations of a symmetrized input, so that finite differences see what the
    # (symmetric) gradient formulas assume
    Case("cholesky", "cholesky", lambda a: gc.linalg.cholesky(_sym(a)), [_spd(2, 3, 3)],
         lambda a: np.linalg.cholesky(_np_sym(a)), rtol=1e-6),
    Case("cholesky-upper", "cholesky", lambda a: gc.linalg.cholesky(_sym(a), upper=True),
         [_spd(3, 3)], lambda a: np.swapaxes(np.linalg.cholesky(_np_sym(a)), -1, -2), rtol=1e-6),
    Case("eigvalsh", "eigh", lambda a: gc.linalg.eigvalsh(_sym(a)), [_spd(2, 3, 3)],
         lambda a: np.linalg.eigvalsh(_np_sym(a)), rtol=1e-6),
    Case("eigh-vectors", "eigh", lambda a: gc.linalg.eigh(_sym(a))[1].abs(), [_spd(3, 3)],
         lambda a: np.abs(np.linalg.eigh(_np_sym(a))[1]), rtol=1e-6),
    Case("svdvals", "svdvals", gc.linalg.svdvals, [normal(2, 4, 3)],
         lambda a: np.linalg.svd(a, compute_uv=False), rtol=1e-6),
    Case("svd", "svd", lambda a: gc.linalg.svd(a, full_matrices=False).S, [normal(3, 2)],
         lambda a: np.linalg.svd(a, compute_uv=False), grad=False),
    Case("qr", "qr", lambda a: gc.linalg.qr(a).R, [normal(4, 3)], lambda a: np.linalg.qr(a)[1],
         rtol=1e-6),
    Case("qr-Q", "qr", lambda a: gc.linalg.qr(a)[0], [normal(3, 3)], lambda a: np.linalg.qr(a)[0],
         rtol=1e-6),
    Case("pinv", "pinv", gc.linalg.pinv, [normal(3, 4)], np.linalg.pinv, rtol=1e-6),
    Case("lstsq", "pinv", lambda a, b: gc.linalg.lstsq(a, b).solution, [normal(4, 3), normal(4, 2)],
         lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-6),
    Case("matrix_rank", "svdvals", gc.linalg.matrix_rank,
         [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])],
         lambda a: np.linalg.matrix_rank(a), grad=False),
    Case("solve_triangular", "inverse",
         lambda a, b: gc.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
         [normal(3, 3), normal(3, 2)],
         lambda a, b: np.linalg.solve(np.tril(a, -1) + np.eye(3), b), rtol=1e-6),
]

# eager only: result sizes depend on values
EAGER_ONLY = [
    Case("nonzero", "eager", lambda x: gc.nonzero(x), [_with_zeros(3, 4)],
         lambda x: np.argwhere(x), grad=False, static=False),
    Case("where-cond", "eager", lambda x: gc.where(x)[1], [_with_zeros(3, 4)],
         lambda x: np.nonzero(x)[1], grad=False, static=False),
    Case("masked_select", "eager", lambda x: x.masked_select(x > 0), [normal(3, 4)],
         lambda x: x[x > 0], static=False),
    Case("unique", "eager", lambda x: gc.unique(x), [ints(10, lo=0, hi=4)], np.unique, grad=False,
         static=False),
    Case("unique-counts", "eager", lambda x: gc.unique(x, return_counts=True)[1],
         [ints(10, lo=0, hi=4)], lambda x: np.unique(x, return_counts=True)[1], grad=False,
         static=False),
    Case("unique_consecutive", "eager", lambda x: gc.unique_consecutive(x),
         [np.array([1, 1, 2, 2, 3, 1, 1])], lambda x: np.array([1, 2, 3, 1]), grad=False,
         static=False),
    Case("bincount", "eager", gc.bincount, [ints(10, lo=0, hi=5)], np.bincount, grad=False,
         static=False),
    Case("histc", "eager", lambda x: gc.histc(x, 4, -2, 2), [normal(20)],
         lambda x: np.histogram(x, 4, (-2, 2))[0].astype(np.float64), grad=False, static=False),
    Case("mode", "eager", lambda x: gc.mode(x, 1).values, [np.array([[1, 2, 2, 3], [4, 4, 1, 1]])],
         lambda x: np.array([2, 1]), grad=False, static=False),
]

MORE_CASES = POINTWISE + BINARY_MORE + REDUCTIONS_MORE + INDEXING + PRODUCTS + EAGER_ONLY

# A representative subset compiled for the cpu target (Numba compiles are slow): every new
# scalar template, and composites over gathers, scatters and matmul.
CPU = {c.name for c in MORE_CASES if c.op in {
    "floor", "ceil", "trunc", "round", "isnan", "isinf", "isfinite", "signbit", "expm1", "log2",
    "log10", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erfc",
    "lgamma", "remainder", "fmod", "floor_divide", "atan2", "hypot", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "copysign"}} | {
    "digamma", "sinc", "logaddexp", "fmax-grad", "xlogy", "gather-dim1", "scatter_add", "flip",
    "roll", "tril", "diag-2d", "repeat", "kron", "einsum-matmul", "tensordot", "any-dim",
    "norm", "searchsorted", "index_add", "masked_fill", "div-trunc-int", "isclose"}
# ops with no cpu lowering yet: compiling them raises UnsupportedError (tested)
NO_CPU_LOWERING = {"cumsum", "cumprod", "cummax", "cummin", "sort", "prod", "erfinv", "det",
                   "slogdet", "cholesky", "eigh", "svdvals", "svd", "qr", "pinv",
                   "scatter_reduce_extreme"}
