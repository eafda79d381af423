"""PyTorch names of issue 12 (items 2-8), each as one call written once for both libraries.

An entry is `N(name, fn, inputs, ...)`: `fn(L, *xs)` is called with `L` = torch or graphc and
the NumPy `inputs` turned into each library's tensors. tests/parity/sweep.py runs every entry
through both libraries and compares values, dtypes, shapes and gradients (eagerly, and the
forward pass under graphc.jit). Options: grad=False (not differentiable / not compared),
jit=False (eager only by nature), check="shape" (random: only shape and dtype compared).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

rng = np.random.default_rng(2024)


@dataclass
class N:
    name: str
    fn: object
    inputs: tuple = ()
    grad: bool = True
    jit: bool = True
    check: str = "values"
    item: str = ""
    rtol: float = 1e-7


def f(*s):
    return rng.standard_normal(s)


def pos(*s):
    return rng.uniform(0.3, 2.0, s)


def unit(*s):
    return rng.uniform(-0.8, 0.8, s)


def offint(*s):
    return rng.integers(-4, 4, s) + rng.choice([0.2, 0.3, 0.7, 0.8], s)


def i64(*s, lo=-6, hi=7):
    return rng.integers(lo, hi, s)


def f32(*s):
    return rng.standard_normal(s).astype(np.float32)


def special(*s):
    x = f(*s).reshape(-1)
    x[:3] = [np.nan, np.inf, -np.inf]
    return x.reshape(s)


X, P, U, O = f(3, 4), pos(3, 4), unit(3, 4), offint(3, 4)
I, B = i64(3, 4), rng.random((3, 4)) > 0.5
SQ = f(3, 3) + 3 * np.eye(3)
SPD = (lambda a: a @ a.T + 3 * np.eye(3))(f(3, 3))
NANX = X.copy()
NANX[0, 1] = NANX[2, 2] = NANX[2, 3] = np.nan


def _items(item, entries):
    for e in entries:
        e.item = item
    return entries


POINTWISE = _items("2 pointwise", [
    N("floor", lambda L, x: L.floor(x), (O,)), N("ceil", lambda L, x: L.ceil(x), (O,)),
    N("round", lambda L, x: L.round(x), (O,)),
    N("round(decimals)", lambda L, x: L.round(x, decimals=1), (O / 3,)),
    N("trunc", lambda L, x: L.trunc(x), (O,)), N("frac", lambda L, x: L.frac(x), (O,)),
    N("isnan", lambda L, x: L.isnan(x), (special(3, 4),), grad=False),
    N("isinf", lambda L, x: L.isinf(x), (special(3, 4),), grad=False),
    N("isfinite", lambda L, x: L.isfinite(x), (special(3, 4),), grad=False),
    N("nan_to_num", lambda L, x: L.nan_to_num(x, nan=0.5), (special(3, 4),), grad=False),
    N("reciprocal", lambda L, x: L.reciprocal(x), (P,)),
    N("log2", lambda L, x: L.log2(x), (P,)), N("log10", lambda L, x: L.log10(x), (P,)),
    N("expm1", lambda L, x: L.expm1(x), (X,)), N("exp2", lambda L, x: L.exp2(x), (X,)),
    N("tan", lambda L, x: L.tan(x), (U,)), N("asin", lambda L, x: L.asin(x), (U,)),
    N("acos", lambda L, x: L.acos(x), (U,)), N("atan", lambda L, x: L.atan(x), (X,)),
    N("atan2", lambda L, a, b: L.atan2(a, b), (X, f(4))),
    N("sinh", lambda L, x: L.sinh(x), (X,)), N("cosh", lambda L, x: L.cosh(x), (X,)),
    N("asinh", lambda L, x: L.asinh(x), (X,)), N("acosh", lambda L, x: L.acosh(x), (P + 1,)),
    N("atanh", lambda L, x: L.atanh(x), (U,)),
    N("remainder", lambda L, a, b: L.remainder(a, b), (O, pos(4) + 0.5)),
    N("fmod", lambda L, a, b: L.fmod(a, b), (O, -pos(4) - 0.5)),
    N("floor_divide", lambda L, a, b: L.floor_divide(a, b), (O, pos(4) + 0.5), grad=False),
    N("div(rounding_mode=trunc)", lambda L, a, b: L.div(a, b, rounding_mode="trunc"),
      (I, np.array([3, -3, 2, -5])), grad=False),
    N("div(rounding_mode=floor)", lambda L, a, b: L.div(a, b, rounding_mode="floor"), (O, -P - 0.5)),
    N("//", lambda L, a, b: a // b, (I, np.array([3, -3, 2, -5])), grad=False),
    N("%", lambda L, a, b: a % b, (O, -pos(4) - 0.5)),
    N("lerp", lambda L, a, b, w: L.lerp(a, b, w), (X, f(4), rng.uniform(0, 1, (3, 1)))),
    N("addcmul", lambda L, a, b, c: L.addcmul(a, b, c, value=0.5), (X, f(4), f(3, 1))),
    N("addcdiv", lambda L, a, b, c: L.addcdiv(a, b, c, value=2), (X, f(4), pos(3, 1))),
    N("hypot", lambda L, a, b: L.hypot(a, b), (X, f(4))),
    N("logaddexp", lambda L, a, b: L.logaddexp(a, b), (X, f(4))),
    N("erfc", lambda L, x: L.erfc(x), (X,)), N("erfinv", lambda L, x: L.erfinv(x), (U,)),
    N("logit", lambda L, x: L.logit(x), (rng.uniform(0.1, 0.9, (3, 4)),)),
    N("logit(eps)", lambda L, x: L.logit(x, eps=0.2), (rng.uniform(0.05, 0.95, (3, 4)),)),
    N("xlogy", lambda L, a, b: L.xlogy(a, b), (np.array([[0.0, 1.5], [2.0, -1.0]]), pos(2))),
    N("clamp_min", lambda L, x: L.clamp_min(x, 0.2), (X,)),
    N("clamp_max", lambda L, x: L.clamp_max(x, 0.2), (X,)),
    N("rsub", lambda L, a, b: L.rsub(a, b, alpha=2), (X, f(4))),
    N("float_power", lambda L, a, b: L.float_power(a, b), (P.astype(np.float32), f(4))),
    N("fmax", lambda L, a, b: L.fmax(a, b), (np.array([1.0, np.nan, 3.0, 0.5]), np.array([2.0, 1.0, np.nan, -1.0]))),
    N("fmin", lambda L, a, b: L.fmin(a, b), (np.array([1.0, np.nan, 3.0, 0.5]), np.array([2.0, 1.0, np.nan, -1.0]))),
    N("sgn", lambda L, x: L.sgn(x), (X,)), N("sinc", lambda L, x: L.sinc(x), (np.array([0.0, 0.3, -1.2]),)),
    N("signbit", lambda L, x: L.signbit(x), (np.array([-0.0, 0.0, -2.0, 1.0]),), grad=False),
    N("lgamma", lambda L, x: L.lgamma(x), (P * 2,)),
    N("digamma", lambda L, x: L.digamma(x), (O,)),
    N("bitwise_and", lambda L, a, b: L.bitwise_and(a, b), (I, i64(4)), grad=False),
    N("bitwise_or", lambda L, a, b: L.bitwise_or(a, b), (I, i64(4)), grad=False),
    N("bitwise_xor", lambda L, a, b: L.bitwise_xor(a, b), (I, i64(4)), grad=False),
    N("bitwise_not", lambda L, a: L.bitwise_not(a), (I,), grad=False),
    N("bitwise_left_shift", lambda L, a, b: L.bitwise_left_shift(a, b), (i64(3, 4, lo=0), i64(4, lo=0, hi=3)), grad=False),
    N("bitwise_right_shift", lambda L, a, b: L.bitwise_right_shift(a, b), (I, i64(4, lo=0, hi=3)), grad=False),
    N("<< >>", lambda L, a, b: (a << b) + (a >> b), (i64(3, 4, lo=0), i64(4, lo=0, hi=3)), grad=False),
    N("& | ^ ~ (int)", lambda L, a, b: (a & b) + (a | b) + (a ^ b) + ~a, (I, i64(4)), grad=False),
    N("logical_xor", lambda L, a, b: L.logical_xor(a, b), (B, I), grad=False),
    N("isclose", lambda L, a, b: L.isclose(a, b, rtol=0.1), (X, X + f(3, 4) * 0.05), grad=False),
    N("allclose", lambda L, a, b: L.allclose(a, b), (X, X + 1e-12), grad=False, jit=False),
    N("equal", lambda L, a, b: L.equal(a, b), (X, X), grad=False, jit=False),
    N("logaddexp2", lambda L, a, b: L.logaddexp2(a, b), (X, f(4))),
    N("copysign", lambda L, a, b: L.copysign(a, b), (X, f(4))),
    N("deg2rad", lambda L, x: L.deg2rad(x), (X,)), N("rad2deg", lambda L, x: L.rad2deg(x), (X,)),
    N("floor (int)", lambda L, x: L.floor(x), (I,), grad=False),
    N("remainder (int)", lambda L, a, b: L.remainder(a, b), (I, np.array([3, -3, 2, -5])), grad=False),
    N("true_divide (int)", lambda L, a, b: L.true_divide(a, b), (I, np.array([3, -3, 2, -5])), grad=False),
    N("atan2 (float32, promotion)", lambda L, a, b: L.atan2(a, b), (f32(3, 4), i64(4, lo=1)), grad=False),
])

REDUCTIONS = _items("3 reductions", [
    N("all", lambda L, x: L.all(x > -1), (X,), grad=False),
    N("all(dim)", lambda L, x: L.all(x, 1), (B,), grad=False),
    N("any", lambda L, x: L.any(x > 1, dim=0), (X,), grad=False),
    N("prod", lambda L, x: L.prod(x), (f(2, 3),)),
    N("prod(dim, zeros)", lambda L, x: L.prod(x, 1), (np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [1.5, 2.0, -1.0]]),)),
    N("cumsum", lambda L, x: L.cumsum(x, 1), (X,)),
    N("cumsum (int)", lambda L, x: L.cumsum(x, 0), (I.astype(np.int32),), grad=False),
    N("cumprod", lambda L, x: L.cumprod(x, 1), (np.array([[1.0, 0.0, 2.0], [0.5, 3.0, 0.0]]),)),
    N("cummax", lambda L, x: L.cummax(x, 1).values, (X,)),
    N("cummax.indices", lambda L, x: L.cummax(x, 0).indices, (X,), grad=False),
    N("cummin", lambda L, x: L.cummin(x, 1).values, (X,)),
    N("sort", lambda L, x: L.sort(x, 1).values, (X,)),
    N("sort(descending).indices", lambda L, x: L.sort(x, 0, descending=True).indices, (X,), grad=False),
    N("argsort", lambda L, x: L.argsort(x, 1), (X,), grad=False),
    N("topk", lambda L, x: L.topk(x, 2).values, (X,)),
    N("topk.indices", lambda L, x: L.topk(x, 2, largest=False).indices, (X,), grad=False),
    N("kthvalue", lambda L, x: L.kthvalue(x, 2, 1).values, (X,)),
    N("median", lambda L, x: L.median(x), (X,)),
    N("median(dim)", lambda L, x: L.median(x, 1).values, (X,)),
    N("nanmedian", lambda L, x: L.nanmedian(x, 1).values, (NANX,)),
    N("mode", lambda L, x: L.mode(x, 1).values, (np.array([[1.0, 2.0, 2.0, 3.0], [4.0, 4.0, 1.0, 1.0]]),), grad=False, jit=False),
    N("quantile", lambda L, x: L.quantile(x, 0.3, dim=1), (X,)),
    N("quantile(list)", lambda L, x: L.quantile(x, L.tensor([0.1, 0.9], dtype=L.float64)), (X,)),
    N("norm", lambda L, x: L.norm(x), (X,)),
    N("norm(p=1, dim)", lambda L, x: L.norm(x, 1, dim=1), (X,)),
    N("dist", lambda L, a, b: L.dist(a, b), (X, f(4))),
    N("std_mean", lambda L, x: L.std_mean(x, 1)[0], (X,)),
    N("var_mean", lambda L, x: L.var_mean(x, 0)[1], (X,)),
    N("count_nonzero", lambda L, x: L.count_nonzero(x, 1), (np.where(B, X, 0),), grad=False),
    N("aminmax", lambda L, x: L.aminmax(x, dim=1).max, (X,)),
    N("nanmean", lambda L, x: L.nanmean(x, 1), (NANX,)),
    N("nansum", lambda L, x: L.nansum(x), (np.where(B, np.nan, X),)),
    N("unique", lambda L, x: L.unique(x), (i64(10, lo=0, hi=4),), grad=False, jit=False),
    N("unique_consecutive", lambda L, x: L.unique_consecutive(x), (np.array([1, 1, 2, 2, 3, 1]),), grad=False, jit=False),
    N("bincount", lambda L, x: L.bincount(x), (i64(10, lo=0, hi=5),), grad=False, jit=False),
    N("histc", lambda L, x: L.histc(x, 4, -2, 2), (f(20),), grad=False, jit=False),
    N("searchsorted", lambda L, s, v: L.searchsorted(s, v), (np.array([1.0, 2.0, 3.0, 5.0]), f(2, 3) * 3), grad=False),
    N("bucketize", lambda L, v, b: L.bucketize(v, b, right=True), (f(2, 3), np.array([-1.0, 0.0, 1.0])), grad=False),
    N("diff", lambda L, x: L.diff(x, dim=1), (X,)),
    N("logcumsumexp", lambda L, x: L.logcumsumexp(x, 1), (X,)),
])

SHAPES = _items("4 shape and indexing", [
    N("gather", lambda L, x, i: L.gather(x, 1, i), (X, np.array([[0, 3], [1, 1], [2, 0]]))),
    N("scatter", lambda L, x, i, s: L.scatter(x, 1, i, s), (X, np.array([[0, 3], [1, 2], [2, 0]]), f(3, 2))),
    N("scatter_add", lambda L, x, i, s: L.scatter_add(x, 0, i, s), (X, np.array([[0, 2, 1, 0], [1, 1, 0, 2]]), f(2, 4))),
    N("scatter_reduce(mean)", lambda L, x, i, s: L.scatter_reduce(x, 0, i, s, "mean"), (X, np.array([[0, 2, 1, 0], [1, 1, 0, 2]]), f(2, 4))),
    N("scatter_reduce(amax)", lambda L, x, i, s: L.scatter_reduce(x, 0, i, s, "amax", include_self=False), (X, np.array([[0, 2, 1, 0], [1, 1, 0, 2]]), f(2, 4))),
    N("scatter_reduce(amin)", lambda L, x, i, s: x.scatter_reduce(0, i, s, "amin"), (X, np.array([[0, 2, 1, 0], [1, 1, 0, 2]]), f(2, 4))),
    N("index_select", lambda L, x, i: L.index_select(x, 1, i), (X, np.array([3, 0, 3]))),
    N("index_add", lambda L, x, i, s: L.index_add(x, 0, i, s), (X, np.array([2, 0, 2]), f(3, 4))),
    N("index_fill", lambda L, x, i: L.index_fill(x, 1, i, -1.0), (X, np.array([0, 2]))),
    N("index_copy", lambda L, x, i, s: L.index_copy(x, 0, i, s), (X, np.array([2, 0]), f(2, 4))),
    N("masked_fill", lambda L, x, m: L.masked_fill(x, m, 0.5), (X, B)),
    N("masked_select", lambda L, x, m: L.masked_select(x, m), (X, B), jit=False),
    N("masked_scatter", lambda L, x, m, s: L.masked_scatter(x, m, s), (X, B, f(12)), jit=False),
    N("take", lambda L, x, i: L.take(x, i), (X, np.array([[0, 5], [11, 3]]))),
    N("take_along_dim", lambda L, x, i: L.take_along_dim(x, i, 1), (X, np.argsort(X, 1))),
    N("where(cond)", lambda L, x: L.where(x > 0)[1], (X,), grad=False, jit=False),
    N("nonzero", lambda L, x: L.nonzero(x > 0), (X,), grad=False, jit=False),
    N("argwhere", lambda L, x: L.argwhere(x > 0), (X,), grad=False, jit=False),
    N("flip", lambda L, x: L.flip(x, (0, 1)), (X,)), N("fliplr", lambda L, x: L.fliplr(x), (X,)),
    N("flipud", lambda L, x: L.flipud(x), (X,)), N("roll", lambda L, x: L.roll(x, 1, 1), (X,)),
    N("rot90", lambda L, x: L.rot90(x, 1, (0, 1)), (X,)),
    N("tril", lambda L, x: L.tril(x, -1), (X,)), N("triu", lambda L, x: L.triu(x, 1), (X,)),
    N("diag", lambda L, x: L.diag(x, 1), (f(3),)), N("diagonal", lambda L, x: L.diagonal(x, 1), (X,)),
    N("diag_embed", lambda L, x: L.diag_embed(x), (f(2, 3),)), N("trace", lambda L, x: L.trace(x), (X,)),
    N("tile", lambda L, x: L.tile(x, (2, 1)), (X,)), N("repeat", lambda L, x: x.repeat(2, 1, 2), (X,)),
    N("repeat_interleave", lambda L, x: L.repeat_interleave(x, 2, dim=1), (X,)),
    N("narrow", lambda L, x: L.narrow(x, 1, 1, 2), (X,)), N("select", lambda L, x: L.select(x, 1, 2), (X,)),
    N("movedim", lambda L, x: L.movedim(x, 0, -1), (f(2, 3, 4),)),
    N("swapdims", lambda L, x: L.swapdims(x, 0, 2), (f(2, 3, 4),)),
    N("unbind", lambda L, x: L.unbind(x, 1)[2], (X,)),
    N("unflatten", lambda L, x: L.unflatten(x, 1, (2, 2)), (X,)),
    N("tensor_split", lambda L, x: L.tensor_split(x, 3, dim=1)[0], (f(2, 7),)),
    N("vstack", lambda L, a, b: L.vstack([a, b]), (f(4), X)),
    N("hstack", lambda L, a, b: L.hstack([a, b]), (X, f(3, 2))),
    N("dstack", lambda L, a, b: L.dstack([a, b]), (X, X * 2)),
    N("column_stack", lambda L, a, b: L.column_stack([a, b]), (f(3), X)),
    N("meshgrid", lambda L, a, b: L.meshgrid(a, b, indexing="xy")[0], (f(3), f(2))),
    N("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b)[1], (f(3, 1), f(4))),
    N("atleast_1d", lambda L, x: L.atleast_1d(x), (np.array(2.0),)),
    N("atleast_2d", lambda L, x: L.atleast_2d(x), (f(3),)),
    N("atleast_3d", lambda L, x: L.atleast_3d(x), (X,)),
    N("block_diag", lambda L, a, b: L.block_diag(a, b), (f(2, 2), f(1, 3))),
    N("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), (f(3), f(2))),
    N("tril_indices", lambda L: L.tril_indices(3, 4, 1), (), grad=False, jit=False),
    N("triu_indices", lambda L: L.triu_indices(4, 3, -1), (), grad=False, jit=False),
    N("cat (promotion)", lambda L, a, b: L.cat([a, b]), (f32(2, 2), i64(1, 2)), grad=False),
    N("iteration", lambda L, x: list(x)[1], (X,), jit=False),
])

LINALG = _items("5 linear algebra", [
    N("einsum", lambda L, a, b: L.einsum("bij,bjk->bik", a, b), (f(2, 2, 3), f(2, 3, 2))),
    N("einsum(ellipsis, trace)", lambda L, a: L.einsum("...ii->...", a), (f(2, 3, 3),)),
    N("tensordot", lambda L, a, b: L.tensordot(a, b, dims=([1, 0], [0, 2])), (f(3, 2, 4), f(2, 5, 3))),
    N("outer", lambda L, a, b: L.outer(a, b), (f(3), f(4))),
    N("inner", lambda L, a, b: L.inner(a, b), (X, f(2, 4))),
    N("dot", lambda L, a, b: L.dot(a, b), (f(4), f(4))), N("vdot", lambda L, a, b: L.vdot(a, b), (f(4), f(4))),
    N("mv", lambda L, a, b: L.mv(a, b), (X, f(4))), N("mm", lambda L, a, b: L.mm(a, b), (X, f(4, 2))),
    N("bmm", lambda L, a, b: L.bmm(a, b), (f(2, 2, 3), f(2, 3, 2))),
    N("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2), (f(3, 2), X, f(4, 2))),
    N("addmv", lambda L, c, a, b: L.addmv(c, a, b), (f(3), X, f(4))),
    N("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b), (f(2, 2), f(2, 2, 3), f(2, 3, 2))),
    N("kron", lambda L, a, b: L.kron(a, b), (f(2, 2), f(2, 3))),
    N("cross", lambda L, a, b: L.cross(a, b, dim=1), (f(2, 3), f(2, 3))),
    N("cdist", lambda L, a, b: L.cdist(a, b), (f(3, 2), f(4, 2))),
    N("linalg.norm", lambda L, x: L.linalg.norm(x), (X,)),
    N("linalg.vector_norm", lambda L, x: L.linalg.vector_norm(x, 3, dim=1), (X,)),
    N("linalg.matrix_norm", lambda L, x: L.linalg.matrix_norm(x), (X,)),
    N("linalg.matrix_norm(1)", lambda L, x: L.linalg.matrix_norm(x, 1), (X,)),
    N("linalg.inv", lambda L, a: L.linalg.inv(a), (SQ,)),
    N("linalg.solve", lambda L, a, b: L.linalg.solve(a, b), (SQ, f(3, 2))),
    N("linalg.det", lambda L, a: L.linalg.det(a), (SQ,)),
    N("linalg.slogdet", lambda L, a: L.linalg.slogdet(a)[1], (SQ,)),
    N("linalg.cholesky", lambda L, a: L.linalg.cholesky(a), (SPD,)),
    N("linalg.qr", lambda L, a: L.linalg.qr(a)[1], (SQ,)),
    N("linalg.svd", lambda L, a: L.linalg.svd(a)[1], (SQ,), grad=False),
    N("linalg.svdvals", lambda L, a: L.linalg.svdvals(a), (SQ,)),
    N("linalg.eigh", lambda L, a: L.linalg.eigh(a)[0], (SPD,)),
    N("linalg.eigvalsh", lambda L, a: L.linalg.eigvalsh(a), (SPD,)),
    N("linalg.pinv", lambda L, a: L.linalg.pinv(a), (X,)),
    N("linalg.lstsq", lambda L, a, b: L.linalg.lstsq(a, b).solution, (f(4, 3), f(4, 2))),
    N("linalg.matrix_rank", lambda L, a: L.linalg.matrix_rank(a), (X,), grad=False),
    N("linalg.matrix_power", lambda L, a: L.linalg.matrix_power(a, 3), (SQ / 3,)),
    N("linalg.multi_dot", lambda L, a, b, c: L.linalg.multi_dot([a, b, c]), (X, f(4, 2), f(2, 3))),
    N("linalg.solve_triangular", lambda L, a, b: L.linalg.solve_triangular(a, b, upper=True), (np.triu(SQ), f(3, 2))),
])

METHODS = _items("6 methods and properties", [
    N("Tensor.floor_", lambda L, x: (x * 1).floor_(), (O,), grad=False),
    N("Tensor.clamp_min_", lambda L, x: (x * 1).clamp_min_(0.1), (X,), grad=False),
    N("Tensor.cumsum_", lambda L, x: (x * 1).cumsum_(1), (X,), grad=False),
    N("Tensor.masked_fill_", lambda L, x, m: (x * 1).masked_fill_(m, 0.0), (X, B), grad=False),
    N("Tensor.gather", lambda L, x, i: x.gather(1, i), (X, np.array([[0, 3], [1, 1], [2, 0]]))),
    N("Tensor.sort", lambda L, x: x.sort(1)[0], (X,)),
    N("Tensor.new_ones", lambda L, x: x.new_ones((2, 3)), (X,), grad=False),
    N("Tensor.new_zeros", lambda L, x: x.new_zeros(2, 3), (X,), grad=False),
    N("Tensor.new_full", lambda L, x: x.new_full((2,), 3.5), (X,), grad=False),
    N("Tensor.new_tensor", lambda L, x: x.new_tensor([1.0, 2.0]), (X,), grad=False),
    N("Tensor.new_empty", lambda L, x: x.new_empty((2, 3)), (X,), grad=False, check="shape"),
    N("Tensor.type(dtype)", lambda L, x: x.type(L.int32), (X * 3,), grad=False),
    N("Tensor.view(dtype)", lambda L, x: x.view(L.int32), (f32(2, 3),), grad=False),
    N("Tensor.element_size", lambda L, x: x.element_size(), (X,), grad=False, jit=False),
    N("Tensor.nelement", lambda L, x: x.nelement(), (X,), grad=False, jit=False),
    N("Tensor.ndimension", lambda L, x: x.ndimension(), (X,), grad=False, jit=False),
    N("Tensor.is_contiguous", lambda L, x: x.is_contiguous(), (X,), grad=False, jit=False),
    N("Tensor.stride", lambda L, x: tuple(x.stride()), (X,), grad=False, jit=False),
    N("Tensor.nbytes", lambda L, x: x.nbytes, (X,), grad=False, jit=False),
    N("Tensor.is_cuda", lambda L, x: x.is_cuda, (X,), grad=False, jit=False),
    N("Tensor.__format__", lambda L, x: f"{x.sum():.4f}", (X,), grad=False, jit=False),
    N("Tensor.__contains__", lambda L, x: 0.5 in x, (np.array([0.5, 1.0]),), grad=False, jit=False),
    N("Tensor.clone", lambda L, x: x.clone(), (X,)),
    N("Tensor.contiguous", lambda L, x: x.t().contiguous(), (X,)),
    N("Tensor.cpu", lambda L, x: x.cpu() * 2, (X,)),
    N("Tensor.device", lambda L, x: x * 2 if x.device.type == "cpu" else x, (X,)),
    N("Tensor.itemsize", lambda L, x: x.itemsize, (X,), grad=False, jit=False),
    N("Tensor.abs_ (method in-place)", lambda L, x: (x * 1).abs_(), (X,), grad=False, jit=False),
    N("set_default_dtype(float32)", lambda L: L.set_default_dtype(L.float32), (), grad=False, jit=False),
    N("set_printoptions", lambda L: L.set_printoptions(precision=3), (), grad=False, jit=False),
    N("Tensor(2, 3)", lambda L: L.Tensor(2, 3).shape, (), grad=False, jit=False),
    N("FloatTensor", lambda L: L.FloatTensor([1, 2]), (), grad=False, jit=False),
    N("LongTensor", lambda L: L.LongTensor([1, 2]), (), grad=False, jit=False),
    N("Size", lambda L: L.Size([2, 3]), (), grad=False, jit=False),
    N("finfo", lambda L: L.finfo(L.float32).eps, (), grad=False, jit=False),
    N("iinfo", lambda L: L.iinfo(L.int32).max, (), grad=False, jit=False),
    N("get_default_dtype", lambda L: str(L.get_default_dtype()).split(".")[-1], (), grad=False, jit=False),
    N("is_tensor", lambda L, x: L.is_tensor(x), (X,), grad=False, jit=False),
    N("is_floating_point", lambda L, x: L.is_floating_point(x), (X,), grad=False, jit=False),
    N("inference_mode", lambda L, x: _inference(L, x), (X,), grad=False, jit=False),
])


def _inference(L, x):
    with L.inference_mode():
        return x * 2


RANDOM = _items("7 random", [
    N("normal(mean, std)", lambda L, m, s: L.normal(m, s), (X, P), grad=False, jit=False, check="shape"),
    N("normal(float, float, size)", lambda L: L.normal(0.0, 1.0, size=(2, 3)), (), grad=False, jit=False, check="shape"),
    N("bernoulli", lambda L, p: L.bernoulli(p), (rng.uniform(0, 1, (3, 4)),), grad=False, jit=False, check="shape"),
    N("multinomial", lambda L, p: L.multinomial(p, 2), (rng.uniform(0.1, 1, (2, 4)),), grad=False, jit=False, check="shape"),
    N("randint(high, size)", lambda L: L.randint(5, (10,)), (), grad=False, jit=False, check="shape"),
    N("randint(low, high, size)", lambda L: L.randint(2, 5, (3, 2)), (), grad=False, jit=False, check="shape"),
    N("randint_like", lambda L, x: L.randint_like(x, 10), (X,), grad=False, jit=False, check="shape"),
    N("Tensor.random_", lambda L, x: (x * 0).random_(0, 5), (X,), grad=False, jit=False, check="shape"),
    N("Tensor.bernoulli_", lambda L, x: (x * 0).bernoulli_(0.3), (X,), grad=False, jit=False, check="shape"),
    N("Tensor.exponential_", lambda L, x: (x * 0).exponential_(), (X,), grad=False, jit=False, check="shape"),
    N("Tensor.uniform_", lambda L, x: (x * 0).uniform_(-1, 1), (X,), grad=False, jit=False, check="shape"),
    N("Tensor.normal_", lambda L, x: (x * 0).normal_(), (X,), grad=False, jit=False, check="shape"),
    N("get_rng_state/set_rng_state", lambda L: _rng_roundtrip(L), (), grad=False, jit=False),
    N("seed", lambda L: type(L.seed()).__name__, (), grad=False, jit=False),
])


def _rng_roundtrip(L):
    state = L.get_rng_state()
    a = L.rand(3)
    L.set_rng_state(state)
    return bool((L.rand(3) == a).all())


I32, F32 = i64(3, 4).astype(np.int32), f32(3, 4)
PROMOTION = _items("promotion and dtypes", [
    N("log2 (int)", lambda L, x: L.log2(x), (i64(4, lo=1),), grad=False),
    N("expm1 (float32)", lambda L, x: L.expm1(x), (F32,), grad=False),
    N("remainder (float32, int)", lambda L, a, b: L.remainder(a, b), (F32, i64(4, lo=1)), grad=False),
    N("floor_divide (int, float)", lambda L, a, b: L.floor_divide(a, b), (I, pos(4)), grad=False),
    N("fmod (int32, int64)", lambda L, a, b: L.fmod(a, b), (I32, i64(4, lo=1)), grad=False),
    N("% scalar (int)", lambda L, a: a % 3, (I,), grad=False),
    N("// scalar (float32)", lambda L, a: a // 0.5, (F32,), grad=False),
    N("hypot (float32)", lambda L, a, b: L.hypot(a, b), (F32, f32(4)), grad=False),
    N("lerp (float32)", lambda L, a, b: L.lerp(a, b, 0.25), (F32, f32(4)), grad=False),
    N("addcdiv (float32)", lambda L, a, b, c: L.addcdiv(a, b, c), (F32, f32(4), f32(3, 1) + 3), grad=False),
    N("xlogy (int, float32)", lambda L, a, b: L.xlogy(a, b), (i64(4, lo=0), f32(4) ** 2 + 0.5), grad=False),
    N("logaddexp (float32)", lambda L, a, b: L.logaddexp(a, b), (F32, f32(4)), grad=False),
    N("bitwise_and (bool, int)", lambda L, a, b: L.bitwise_and(a, b), (B, I), grad=False),
    N("isclose (int)", lambda L, a, b: L.isclose(a, b), (I, I + i64(4, lo=0, hi=2)), grad=False),
    N("nan_to_num (float32)", lambda L, x: L.nan_to_num(x), (special(2, 3).astype(np.float32),), grad=False),
    N("round (float32)", lambda L, x: L.round(x), (F32 * 3,), grad=False),
    N("cumsum (bool)", lambda L, x: L.cumsum(x, 1), (B,), grad=False),
    N("cumprod (int32)", lambda L, x: L.cumprod(x, 0), (I32,), grad=False),
    N("prod (int32)", lambda L, x: L.prod(x), (I32[:1, :3],), grad=False),
    N("prod (bool)", lambda L, x: L.prod(x, 1), (B,), grad=False),
    N("sort (int)", lambda L, x: L.sort(x, 1).values, (I,), grad=False),
    N("topk (float32)", lambda L, x: L.topk(x, 2).values, (F32,), grad=False),
    N("count_nonzero (bool)", lambda L, x: L.count_nonzero(x), (B,), grad=False),
    N("all (float)", lambda L, x: L.all(x), (X,), grad=False),
    N("any (int)", lambda L, x: L.any(x, 0), (I,), grad=False),
    N("norm (float32)", lambda L, x: L.norm(x), (F32,), grad=False),
    N("gather (int)", lambda L, x, i: L.gather(x, 1, i), (I, np.array([[0, 3], [1, 1], [2, 0]])), grad=False),
    N("scatter_add (float32)", lambda L, x, i, s: L.scatter_add(x, 0, i, s), (F32, np.array([[0, 2, 1, 0]]), f32(1, 4)), grad=False),
    N("index_add (int)", lambda L, x, i, s: L.index_add(x, 0, i, s), (I, np.array([2, 0]), i64(2, 4)), grad=False),
    N("masked_fill (int, float value)", lambda L, x, m: L.masked_fill(x, m, 2), (I, B), grad=False),
    N("tril (int)", lambda L, x: L.tril(x), (I,), grad=False),
    N("flip (bool)", lambda L, x: L.flip(x, (1,)), (B,), grad=False),
    N("diff (bool)", lambda L, x: L.diff(x), (B,), grad=False),
    N("kron (int)", lambda L, a, b: L.kron(a, b), (i64(2, 2), i64(2, 2)), grad=False),
    N("outer (float32)", lambda L, a, b: L.outer(a, b), (f32(3), f32(2)), grad=False),
    N("einsum (float32)", lambda L, a, b: L.einsum("ij,jk", a, b), (F32, f32(4, 2)), grad=False),
    N("linalg.det (float32)", lambda L, a: L.linalg.det(a), (SQ.astype(np.float32),), grad=False),
    N("vstack (mixed)", lambda L, a, b: L.vstack([a, b]), (F32, I), grad=False),
])

SPECIAL = _items("torch.special", [
    N("special.expit", lambda L, x: L.special.expit(x), (X,)),
    N("special.ndtr", lambda L, x: L.special.ndtr(x), (X,)),
    N("special.log_ndtr", lambda L, x: L.special.log_ndtr(x), (X,)),
    N("special.ndtri", lambda L, x: L.special.ndtri(x), (rng.uniform(0.05, 0.95, (3, 4)),)),
    N("special.entr", lambda L, x: L.special.entr(x), (np.array([0.1, 0.5, 2.0]),)),
    N("special.entr (0, < 0)", lambda L, x: L.special.entr(x), (np.array([0.0, -1.0]),), grad=False),
    N("special.xlog1py", lambda L, a, b: L.special.xlog1py(a, b), (X, P)),
    N("special.gammaln", lambda L, x: L.special.gammaln(x), (P,)),
    N("special.psi", lambda L, x: L.special.psi(x), (P,)),
    N("special.logsumexp", lambda L, x: L.special.logsumexp(x, 1), (X,)),
])

# names graphc had before issue 12: kept in the sweep so that a regression shows
CORE = _items("core (before issue 12)", [
    N("abs", lambda L, x: L.abs(x), (X,)), N("neg", lambda L, x: -x, (X,)),
    N("exp", lambda L, x: L.exp(x), (X,)), N("log", lambda L, x: L.log(x), (P,)),
    N("log1p", lambda L, x: L.log1p(x), (P,)), N("sqrt", lambda L, x: L.sqrt(x), (P,)),
    N("rsqrt", lambda L, x: L.rsqrt(x), (P,)), N("square", lambda L, x: L.square(x), (X,)),
    N("sin", lambda L, x: L.sin(x), (X,)), N("cos", lambda L, x: L.cos(x), (X,)),
    N("tanh", lambda L, x: L.tanh(x), (X,)), N("sigmoid", lambda L, x: L.sigmoid(x), (X,)),
    N("relu", lambda L, x: L.relu(x), (X,)), N("erf", lambda L, x: L.erf(x), (X,)),
    N("sign", lambda L, x: L.sign(x), (X,)),
    N("add(alpha)", lambda L, a, b: L.add(a, b, alpha=2), (X, f(4))),
    N("sub", lambda L, a, b: L.sub(a, b), (X, f(4))), N("mul", lambda L, a, b: a * b, (X, f(4))),
    N("div", lambda L, a, b: a / b, (X, P)), N("pow", lambda L, a, b: L.pow(a, b), (P, f(4))),
    N("pow (scalar)", lambda L, a: a ** 3, (X,)), N("rpow", lambda L, a: 2.0 ** a, (X,)),
    N("maximum", lambda L, a, b: L.maximum(a, b), (X, f(4))),
    N("minimum", lambda L, a, b: L.minimum(a, b), (X, f(4))),
    N("clamp", lambda L, x: L.clamp(x, -0.5, 0.5), (X,)),
    N("clamp (tensor bounds)", lambda L, x, lo, hi: L.clamp(x, min=lo, max=hi), (X, f(4) - 1, f(4) + 1)),
    N("where", lambda L, c, a, b: L.where(c, a, b), (B, X, f(4))),
    N("eq lt ge", lambda L, a, b: (a == b) | (a < b) & (a >= b * 0), (X, f(4)), grad=False),
    N("logical_and/or/not", lambda L, a, b: L.logical_or(L.logical_and(a, b), L.logical_not(a)), (B, B.T.copy().T), grad=False),
    N("sum", lambda L, x: L.sum(x, 1), (X,)), N("mean", lambda L, x: x.mean((0, 1)), (X,)),
    N("sum (int)", lambda L, x: x.sum(), (I,), grad=False),
    N("var", lambda L, x: L.var(x, 1), (X,)), N("std(correction=0)", lambda L, x: L.std(x, correction=0), (X,)),
    N("max(dim)", lambda L, x: L.max(x, 1).values, (X,)), N("min", lambda L, x: L.min(x), (X,)),
    N("amax", lambda L, x: L.amax(x, 0), (X,)), N("argmax", lambda L, x: L.argmax(x, 1), (X,), grad=False),
    N("logsumexp", lambda L, x: L.logsumexp(x, 1), (X,)),
    N("softmax", lambda L, x: L.softmax(x, 1), (X,)), N("log_softmax", lambda L, x: L.log_softmax(x, 0), (X,)),
    N("matmul", lambda L, a, b: a @ b, (f(2, 3, 4), f(4, 2))),
    N("inverse", lambda L, a: L.inverse(a), (SQ,)),
    N("transpose", lambda L, x: x.transpose(0, 1), (X,)), N("permute", lambda L, x: x.permute(2, 0, 1), (f(2, 3, 4),)),
    N("reshape", lambda L, x: x.reshape(2, -1), (X,)), N("view", lambda L, x: x.view(4, 3), (X,)),
    N("flatten", lambda L, x: L.flatten(x, 1), (f(2, 3, 4),)), N("squeeze", lambda L, x: x.squeeze(1), (f(3, 1, 2),)),
    N("unsqueeze", lambda L, x: x.unsqueeze(1), (X,)), N("expand", lambda L, x: x.expand(2, 3, 4), (X,)),
    N("cat", lambda L, a, b: L.cat([a, b], 1), (X, f(3, 2))), N("stack", lambda L, a, b: L.stack([a, b], 2), (X, X)),
    N("split", lambda L, x: L.split(x, 3, 1)[1], (X,)), N("chunk", lambda L, x: L.chunk(x, 2, 0)[1], (f(5, 2),)),
    N("getitem (slices)", lambda L, x: x[1:, ::2], (X,)), N("getitem (int array)", lambda L, x, i: x[i], (X, np.array([2, 0, 2]))),
    N("getitem (bool mask)", lambda L, x: x[x > 0], (X,), jit=False),
    N("t", lambda L, x: x.t(), (X,)), N("mT", lambda L, x: x.mT, (f(2, 3, 4),)),
    N("full_like", lambda L, x: L.full_like(x, 2.5), (X,), grad=False),
    N("zeros_like", lambda L, x: L.zeros_like(x), (X,), grad=False),
    N("to(float32)", lambda L, x: x.to(L.float32), (X,), grad=False),
    N("float/long/bool", lambda L, x: x.float().long().bool(), (X * 3,), grad=False),
    N("arange", lambda L: L.arange(0, 5, 2), (), grad=False, jit=False),
    N("linspace", lambda L: L.linspace(0, 1, 5), (), grad=False, jit=False),
    N("eye", lambda L: L.eye(3, 2), (), grad=False, jit=False),
    N("zeros/ones/full", lambda L: L.zeros(2) + L.ones(2) + L.full((2,), 3.0), (), grad=False, jit=False),
])

_FUNCTIONS = {}


def _custom(L):
    """Custom autograd.Functions written for library L (made once per library)."""
    if L.__name__ in _FUNCTIONS:
        return _FUNCTIONS[L.__name__]

    class Cube(L.autograd.Function):  # backward deliberately 3x: the user's rule must be used
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 9 * g * x * x * ctx.k, None

    class MaxAndSum(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.max(dim=1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return values, x.sum(dim=1), idx

        @staticmethod
        def backward(ctx, g_values, g_sum, g_idx):
            x, idx = ctx.saved_tensors
            hit = (L.arange(x.shape[1]).reshape(1, -1) == idx.reshape(-1, 1)).to(x.dtype)
            return hit * g_values.reshape(-1, 1) + g_sum.reshape(-1, 1)

    _FUNCTIONS[L.__name__] = Cube, MaxAndSum
    return Cube, MaxAndSum


def _leaf(x):
    return x.detach().requires_grad_()


def _backward_into(L, x):
    w = _leaf(x)
    L.autograd.backward([(w ** 3).sum()], inputs=[w])
    return w.grad


def _retained(L, x):
    w = _leaf(x)
    y = w * 2
    y.retain_grad()
    (y * y).sum().backward()
    return y.grad


def _hooked(L, x):
    y = x * 2
    if y.requires_grad:
        y.register_hook(lambda g: g * 3)
    return y * y


def _anomaly_free(L, x):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with L.autograd.detect_anomaly():
            return (x.sin() * 2).sum()


def _set_anomaly(L):
    L.autograd.set_detect_anomaly(True)
    on = L.is_anomaly_enabled()
    L.autograd.set_detect_anomaly(False)
    return on, L.is_anomaly_enabled()


_AF = "autograd.functional."
_scalar = lambda z: (z.sin() * z).sum() ** 2  # noqa: E731
_vector = lambda z: z.exp() * z.sum()  # noqa: E731
V = f(4)
AUTOGRAD = _items("8 autograd", [
    N("autograd.Function", lambda L, x: _custom(L)[0].apply(x, 0.5), (X,)),
    N("autograd.Function (3 outputs)", lambda L, x: _custom(L)[1].apply(x), (X,)),
    N("autograd.grad", lambda L, x: L.autograd.grad((x ** 3).sum(), x, create_graph=True)[0],
      (X,)),
    N("autograd.backward(inputs=)", _backward_into, (X,), grad=False, jit=False),
    N("Tensor.retain_grad", _retained, (X,), grad=False, jit=False),
    N("Tensor.register_hook", _hooked, (X,), jit=False),
    N("autograd.detect_anomaly", _anomaly_free, (X,), jit=False),
    N("autograd.set_detect_anomaly", _set_anomaly, (), grad=False, jit=False),
    N(_AF + "jacobian", lambda L, x: L.autograd.functional.jacobian(_vector, x), (f(4),),
      grad=False),
    N(_AF + "jacobian(create_graph)", lambda L, x: L.autograd.functional.jacobian(
        _vector, x, create_graph=True), (f(4),)),
    N(_AF + "hessian", lambda L, x: L.autograd.functional.hessian(_scalar, x), (f(4),),
      grad=False),
    N(_AF + "vjp", lambda L, x, v: L.autograd.functional.vjp(_vector, x, v), (f(4), V),
      grad=False),
    N(_AF + "jvp", lambda L, x, v: L.autograd.functional.jvp(_vector, x, v), (f(4), V),
      grad=False),
    N(_AF + "hvp", lambda L, x, v: L.autograd.functional.hvp(_scalar, x, v), (f(4), V),
      grad=False),
    N(_AF + "vhp", lambda L, x, v: L.autograd.functional.vhp(_scalar, x, v), (f(4), V),
      grad=False),
    N("autograd.gradcheck", lambda L, x: L.autograd.gradcheck(_vector, (_leaf(x),)), (f(4),),
      grad=False, jit=False),
    N("autograd.gradgradcheck", lambda L, x: L.autograd.gradgradcheck(_vector, (_leaf(x),)),
      (f(3),), grad=False, jit=False),
    N("autograd.Variable", lambda L, x: L.autograd.Variable(x * 2), (X,)),
])

_F = "nn.functional."
NN_INPLACE = _items("13 nn.functional in-place", [  # (on x * 1: x is a leaf needing grad)
    N(_F + "relu_", lambda L, x: L.nn.functional.relu_(x * 1), (X,)),
    N(_F + "elu_", lambda L, x: L.nn.functional.elu_(x * 1, 0.7), (X,)),
    N(_F + "leaky_relu_", lambda L, x: L.nn.functional.leaky_relu_(x * 1, 0.2), (X,)),
    N(_F + "hardtanh_", lambda L, x: L.nn.functional.hardtanh_(x * 1, -0.5, 1.0), (X,)),
    N(_F + "threshold_", lambda L, x: L.nn.functional.threshold_(x * 1, 0.3, -7.0), (X,)),
    N(_F + "celu_", lambda L, x: L.nn.functional.celu_(x * 1, 1.5), (X,)),
    N(_F + "selu_", lambda L, x: L.nn.functional.selu_(x * 1), (X,)),
    N(_F + "rrelu_", lambda L, x: L.nn.functional.rrelu_(x * 1, 0.1, 0.3), (X,)),
])

def _ties(*s):  # rounded values: ties inside the pooling windows, as after a ReLU
    return np.round(f(*s)).clip(-1, 1)


def _unpool3d(L, x):
    values, indices = L.nn.functional.max_pool3d(x, 2, return_indices=True)
    return L.nn.functional.max_unpool3d(values, indices, 2, output_size=(5, 4, 5))


NN_INDEXED_POOL = _items("13 nn.functional indexed pools", [
    N(_F + "adaptive_max_pool1d_with_indices",
      lambda L, x: L.nn.functional.adaptive_max_pool1d_with_indices(x, 3), (_ties(2, 3, 7),)),
    N(_F + "adaptive_max_pool2d_with_indices",
      lambda L, x: L.nn.functional.adaptive_max_pool2d_with_indices(x, (3, 2)),
      (_ties(2, 2, 5, 7),)),
    N(_F + "adaptive_max_pool3d_with_indices",
      lambda L, x: L.nn.functional.adaptive_max_pool3d_with_indices(x, 2),
      (_ties(1, 2, 3, 5, 4),)),
    N(_F + "max_pool3d_with_indices",
      lambda L, x: L.nn.functional.max_pool3d_with_indices(x, 3, 2, 1), (_ties(1, 2, 5, 4, 5),)),
    N(_F + "lp_pool3d", lambda L, x: L.nn.functional.lp_pool3d(x, 2.0, 2), (f(1, 2, 4, 4, 4),)),
    N(_F + "max_unpool3d", _unpool3d, (f(1, 2, 5, 4, 5),)),
])

NN_INPLACE_ARGUMENT = _items("13 nn.functional inplace=True", [
    N(_F + "relu(inplace=True)", lambda L, x: L.nn.functional.relu(x * 1, inplace=True), (X,)),
    N(_F + "silu(inplace=True)", lambda L, x: L.nn.functional.silu(x * 1, inplace=True), (X,)),
    N(_F + "hardswish(inplace=True)",
      lambda L, x: L.nn.functional.hardswish(x * 1, inplace=True), (X,)),
    N(_F + "dropout(p=0, inplace=True)",
      lambda L, x: L.nn.functional.dropout(x * 1, 0.0, True, True), (X,)),
])

ENTRIES = POINTWISE + REDUCTIONS + SHAPES + LINALG + METHODS + RANDOM + PROMOTION + SPECIAL + CORE \
    + AUTOGRAD + NN_INPLACE + NN_INDEXED_POOL + NN_INPLACE_ARGUMENT
