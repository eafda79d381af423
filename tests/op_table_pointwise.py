"""Op table cases for issue 12's pointwise functions, reductions, scans and sorting, each
against an independent NumPy oracle (assembled with the others in tests/op_table_more.py)."""
from __future__ import annotations

import math

import numpy as np
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
    _u("erfinv", gc.erfinv, scipy.special.erfinv, inside, op="erfc", rtol=1e-12),
    Case("erfinv-tails", "erfc", gc.erfinv,
         [np.array([1 - 1e-16, -(1 - 1e-12), 1 - 1e-6, 0.0, 1.0, -1.0, 1.5])], scipy.special.erfinv,
         grad=False, rtol=1e-13),
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
    _u("special.ndtr", gc.special.ndtr, scipy.special.ndtr, normal, op="erfc"),
    _u("special.ndtri", gc.special.ndtri, scipy.special.ndtri, lambda *s: rng.uniform(0.1, 0.9, s),
       op="erfc", rtol=1e-9),
    _u("special.entr", gc.special.entr, scipy.special.entr, positive, op="log"),
    _u("special.xlog1py", lambda x: gc.special.xlog1py(x, x * x), lambda x: scipy.special.xlog1py(x, x * x),
       op="log1p"),
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
       lambda x: np.abs(x).max(-1), lambda *s: distinct(*s) + 2.5),  # no ties of |x|
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
