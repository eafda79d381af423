"""The op table that drives the op tests: for every op, sample inputs and a NumPy oracle.

Each case is a function written with graphc functions (so it runs on eager tensors and on
symbolic values alike), input arrays, and an independent NumPy reference of the same thing.
Other test modules (compiler targets) reuse CASES to check their results against the same oracle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.special

import graphc as gc

rng = np.random.default_rng(1234)


def away_from_zero(*shape, lo=0.2, hi=2.0):
    """Random float64 values with |x| in [lo, hi]: no kinks of abs/relu/sign nearby."""
    x = rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def positive(*shape, lo=0.3, hi=2.0):
    return rng.uniform(lo, hi, shape)


def normal(*shape):
    return rng.standard_normal(shape)


def distinct(*shape):
    """Values with no ties (for max/min/argmax gradients)."""
    n = int(np.prod(shape)) if shape else 1
    return rng.permutation(np.linspace(-2.0, 2.0, n)).reshape(shape)


@dataclass
class Case:
    name: str            # test id
    op: str              # registry op it exercises
    fn: object           # graphc function of the inputs
    inputs: list         # NumPy arrays
    ref: object          # NumPy reference of fn
    grad: bool = True    # check gradients of float inputs
    static: bool = True  # also run as a static graph
    rtol: float = 1e-6
    atol: float = 1e-8
    grad_inputs: list = field(default=None)  # which inputs to differentiate (default: floats)


def _unary(name, ref, make=away_from_zero, fn=None, grad=True):
    f = fn or getattr(gc, name)
    return [Case(f"{name}-{'x'.join(map(str, s)) or 'scalar'}", name, f, [make(*s)], ref, grad)
            for s in [(3, 4), (), (0, 3), (1, 5)]]


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


UNARY = (
    _unary("neg", np.negative) + _unary("abs", np.abs) + _unary("sign", np.sign)
    + _unary("detach", lambda x: x, grad=False)
    + _unary("exp", np.exp) + _unary("log", np.log, positive) + _unary("log1p", np.log1p, positive)
    + _unary("sqrt", np.sqrt, positive) + _unary("rsqrt", lambda x: 1 / np.sqrt(x), positive)
    + _unary("square", np.square) + _unary("sin", np.sin) + _unary("cos", np.cos)
    + _unary("tanh", np.tanh) + _unary("sigmoid", scipy.special.expit)
    + _unary("relu", lambda x: np.maximum(x, 0))
    + _unary("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x),
             fn=lambda x: gc.leaky_relu(x, 0.2))
    + _unary("elu", lambda x: np.where(x > 0, x, 1.5 * (np.exp(x) - 1)), fn=lambda x: gc.elu(x, 1.5))
    + _unary("gelu", lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2))), normal)
    + [Case("gelu-tanh", "gelu", lambda x: gc.gelu(x, approximate="tanh"), [normal(4, 3)], _gelu_tanh)]
    + _unary("softplus", lambda x: np.log1p(np.exp(x)), normal)
    + [Case("softplus-beta", "softplus", lambda x: gc.softplus(x, beta=2.0, threshold=3.0),
            [normal(5, 4) * 3],
            lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2))]
    + _unary("erf", scipy.special.erf, normal)
    + [Case("clamp-both", "clamp", lambda x: gc.clamp(x, -0.5, 0.7), [away_from_zero(4, 5)],
            lambda x: np.clip(x, -0.5, 0.7)),
       Case("clamp-min", "clamp", lambda x: x.clamp(min=0.5), [away_from_zero(4, 5)],
            lambda x: np.maximum(x, 0.5)),
       Case("logical_not", "logical_not", gc.logical_not, [rng.random((3, 4)) > 0.5],
            np.logical_not, grad=False),
       Case("cast-f32", "cast", lambda x: x.float(), [normal(3, 4)],
            lambda x: x.astype(np.float32), rtol=1e-6, grad=False),
       Case("cast-f64-roundtrip", "cast", lambda x: x.float().double() * 2, [normal(3, 4)],
            lambda x: x * 2, rtol=1e-6),  # float32 rounding stays within rtol
       Case("cast-long", "cast", lambda x: x.long(), [normal(3, 4) * 5],
            lambda x: x.astype(np.int64), grad=False),
       Case("full_like", "full_like", lambda x: gc.full_like(x, 3.0) + x, [normal(2, 3)],
            lambda x: 3.0 + x)]
)

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (3,)),
                    ((1, 5), (1, 1)), ((0, 3), (3,))]


def _binary(name, ref, make=(away_from_zero, away_from_zero), grad=True, fn=None):
    f = fn or getattr(gc, name)
    cases = []
    for sa, sb in BROADCAST_SHAPES:
        tag = f"{'x'.join(map(str, sa)) or 'scalar'}_{'x'.join(map(str, sb)) or 'scalar'}"
        cases.append(Case(f"{name}-{tag}", name, f, [make[0](*sa), make[1](*sb)], ref, grad))
    return cases


def _maxlike(np_fn):
    def make_pair():
        return [distinct(3, 4), distinct(4)]
    return make_pair


BINARY = (
    _binary("add", np.add) + _binary("sub", np.subtract) + _binary("mul", np.multiply)
    + _binary("div", np.divide) + _binary("pow", np.power, (positive, normal))
    + _binary("maximum", np.maximum, (distinct, lambda *s: distinct(*s) + 0.01))
    + _binary("minimum", np.minimum, (distinct, lambda *s: distinct(*s) + 0.01))
    + [Case(f"{n}-3x4_4", n, getattr(gc, n), [rng.integers(0, 3, (3, 4)).astype(np.float64),
                                             rng.integers(0, 3, (4,)).astype(np.float64)],
            getattr(np, npn), grad=False)
       for n, npn in [("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                      ("gt", "greater"), ("ge", "greater_equal")]]
    + [Case("logical_and", "logical_and", gc.logical_and,
            [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5], np.logical_and, grad=False),
       Case("logical_or", "logical_or", gc.logical_or,
            [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5], np.logical_or, grad=False),
       Case("where", "where", gc.where, [rng.random((3, 4)) > 0.5, normal(3, 4), normal(4)],
            np.where),
       Case("where-scalar", "where", lambda c, a: gc.where(c, a, 0.0),
            [rng.random((3, 1)) > 0.5, normal(3, 4)], lambda c, a: np.where(c, a, 0.0)),
       Case("sub-scalar-left", "sub", lambda a: 2.0 - a, [normal(3, 2)], lambda a: 2.0 - a),
       Case("pow-scalar", "pow", lambda a: a ** 3, [normal(3, 2)], lambda a: a ** 3),
       Case("rpow-scalar", "pow", lambda a: 2.0 ** a, [normal(3, 2)], lambda a: 2.0 ** a),
       Case("div-int", "div", lambda a, b: a / b, [rng.integers(1, 9, (3, 2)),
                                                   rng.integers(1, 9, (2,))],
            lambda a, b: (a / b).astype(np.float32), grad=False, rtol=1e-6)]
)


def _red(name, fn, ref, make=normal, shape=(3, 4, 5), **kw):
    return Case(name, name.split("-")[0], fn, [make(*shape)], ref, **kw)


REDUCTIONS = [
    _red("sum-all", lambda x: x.sum(), np.sum),
    _red("sum-dim", lambda x: x.sum(1), lambda x: x.sum(1)),
    _red("sum-dims-keepdim", lambda x: gc.sum(x, (0, 2), keepdim=True),
         lambda x: x.sum((0, 2), keepdims=True)),
    _red("sum-neg-dim", lambda x: x.sum(-1), lambda x: x.sum(-1)),
    _red("sum-empty", lambda x: x.sum(0), lambda x: x.sum(0), shape=(0, 3)),
    Case("sum-int", "sum", lambda x: x.sum(), [rng.integers(0, 5, (3, 4))], np.sum, grad=False),
    _red("mean-all", lambda x: x.mean(), np.mean),
    _red("mean-dim", lambda x: x.mean(2, keepdim=True), lambda x: x.mean(2, keepdims=True)),
    _red("var-all", lambda x: x.var(), lambda x: x.var(ddof=1)),
    _red("var-dim-biased", lambda x: x.var(1, unbiased=False), lambda x: x.var(1)),
    _red("var-keepdim", lambda x: gc.var(x, (0, 1), keepdim=True, correction=0),
         lambda x: x.var((0, 1), keepdims=True)),
    _red("std-dim", lambda x: x.std(0), lambda x: x.std(0, ddof=1)),
    _red("amax-all", lambda x: x.max(), np.max, distinct),
    _red("amax-dim", lambda x: gc.amax(x, (0, 2)), lambda x: x.max((0, 2)), distinct),
    _red("amin-dim", lambda x: gc.amin(x, 1, keepdim=True), lambda x: x.min(1, keepdims=True),
         distinct),
    _red("max_dim-values", lambda x: x.max(1).values, lambda x: x.max(1), distinct),
    _red("max_dim-indices", lambda x: x.max(1, keepdim=True)[1],
         lambda x: np.argmax(x, 1)[:, None, :], distinct, grad=False),
    _red("min_dim-values", lambda x: gc.min(x, -1)[0], lambda x: x.min(-1), distinct),
    _red("max-binary", lambda x: gc.max(x, x * 0.5), lambda x: np.maximum(x, 0.5 * x),
         away_from_zero),
    _red("argmax-all", lambda x: x.argmax(), np.argmax, distinct, grad=False),
    _red("argmax-dim", lambda x: x.argmax(1), lambda x: x.argmax(1), distinct, grad=False),
    _red("argmin-keepdim", lambda x: x.argmin(2, keepdim=True),
         lambda x: x.argmin(2, keepdims=True), distinct, grad=False),
    _red("logsumexp", lambda x: x.logsumexp(1), lambda x: scipy.special.logsumexp(x, 1)),
    _red("logsumexp-dims", lambda x: gc.logsumexp(x, (0, 2), keepdim=True),
         lambda x: scipy.special.logsumexp(x, (0, 2), keepdims=True)),
    _red("softmax", lambda x: x.softmax(-1), lambda x: scipy.special.softmax(x, -1)),
    _red("softmax-dim0", lambda x: gc.softmax(x, 0), lambda x: scipy.special.softmax(x, 0)),
    _red("log_softmax", lambda x: x.log_softmax(1), lambda x: scipy.special.log_softmax(x, 1)),
]

LINALG = [
    Case("matmul-1d1d", "matmul", gc.matmul, [normal(4), normal(4)], np.matmul),
    Case("matmul-2d1d", "matmul", gc.matmul, [normal(3, 4), normal(4)], np.matmul),
    Case("matmul-1d2d", "matmul", gc.matmul, [normal(4), normal(4, 2)], np.matmul),
    Case("matmul-2d2d", "matmul", gc.matmul, [normal(3, 4), normal(4, 2)], np.matmul),
    Case("matmul-batched", "matmul", gc.matmul, [normal(2, 3, 4), normal(2, 4, 5)], np.matmul),
    Case("matmul-broadcast", "matmul", gc.matmul, [normal(2, 1, 3, 4), normal(3, 4, 2)], np.matmul),
    Case("matmul-batched-1d", "matmul", gc.matmul, [normal(2, 3, 4), normal(4)], np.matmul),
    Case("matmul-empty", "matmul", gc.matmul, [normal(0, 4), normal(4, 2)], np.matmul),
    Case("matmul-operator", "matmul", lambda a, b: a @ b.T, [normal(3, 4), normal(2, 4)],
         lambda a, b: a @ b.T),
    Case("mm", "matmul", gc.mm, [normal(3, 4), normal(4, 2)], np.matmul),
    Case("bmm", "matmul", gc.bmm, [normal(2, 3, 4), normal(2, 4, 2)], np.matmul),
    Case("transpose", "permute", lambda x: x.transpose(0, 2), [normal(2, 3, 4)],
         lambda x: x.transpose(2, 1, 0)),
    Case("permute", "permute", lambda x: x.permute(1, 2, 0), [normal(2, 3, 4)],
         lambda x: x.transpose(1, 2, 0)),
    Case("T", "permute", lambda x: x.T, [normal(3, 4)], lambda x: x.T),
    Case("mT", "permute", lambda x: x.mT, [normal(2, 3, 4)], lambda x: np.swapaxes(x, -1, -2)),
    Case("inverse", "inverse", gc.inverse, [normal(3, 3) + 3 * np.eye(3)], np.linalg.inv, rtol=1e-6),
    Case("inverse-batched", "inverse", lambda x: x.inverse(), [normal(2, 3, 3) + 3 * np.eye(3)],
         np.linalg.inv, rtol=1e-6),
]

SHAPES = [
    Case("reshape", "reshape", lambda x: x.reshape(4, -1), [normal(2, 3, 4)],
         lambda x: x.reshape(4, -1)),
    Case("view", "reshape", lambda x: x.view(-1), [normal(2, 3)], lambda x: x.reshape(-1)),
    Case("reshape-scalar", "reshape", lambda x: x.reshape(1, 1), [normal()],
         lambda x: x.reshape(1, 1)),
    Case("flatten", "reshape", lambda x: x.flatten(1), [normal(2, 3, 4)], lambda x: x.reshape(2, 12)),
    Case("squeeze-all", "squeeze", lambda x: x.squeeze(), [normal(1, 3, 1, 2)],
         lambda x: x.squeeze()),
    Case("squeeze-dim", "squeeze", lambda x: x.squeeze(2), [normal(1, 3, 1, 2)],
         lambda x: x.squeeze(2)),
    Case("squeeze-noop", "squeeze", lambda x: x.squeeze(1), [normal(1, 3)], lambda x: x),
    Case("unsqueeze", "unsqueeze", lambda x: x.unsqueeze(-1), [normal(2, 3)], lambda x: x[..., None]),
    Case("expand", "broadcast_to", lambda x: x.expand(3, -1, 4), [normal(2, 1)],
         lambda x: np.broadcast_to(x, (3, 2, 4))),
    Case("broadcast_to", "broadcast_to", lambda x: gc.broadcast_to(x, (2, 3)), [normal(3)],
         lambda x: np.broadcast_to(x, (2, 3))),
    Case("cat", "cat", lambda a, b: gc.cat([a, b], 1), [normal(2, 3), normal(2, 2)],
         lambda a, b: np.concatenate([a, b], 1)),
    Case("cat-three", "cat", lambda a, b, c: gc.cat([a, b, c]), [normal(1, 2), normal(3, 2), normal(2, 2)],
         lambda a, b, c: np.concatenate([a, b, c])),
    Case("stack", "cat", lambda a, b: gc.stack([a, b], 1), [normal(2, 3), normal(2, 3)],
         lambda a, b: np.stack([a, b], 1)),
    Case("slice-basic", "slice", lambda x: x[1:3, ::2], [normal(4, 5)], lambda x: x[1:3, ::2]),
    Case("slice-int", "slice", lambda x: x[1, :, -1], [normal(3, 4, 5)], lambda x: x[1, :, -1]),
    Case("slice-newaxis-ellipsis", "slice", lambda x: x[..., None, 1:], [normal(2, 3, 4)],
         lambda x: x[..., None, 1:]),
    Case("slice-negative", "slice", lambda x: x[-2:], [normal(5, 2)], lambda x: x[-2:]),
    Case("index-ints", "index", lambda x: x[np.array([0, 2, 2, 1])], [normal(3, 4)],
         lambda x: x[np.array([0, 2, 2, 1])]),
    Case("index-second-dim", "index", lambda x: x[:, [3, 0]], [normal(3, 4)], lambda x: x[:, [3, 0]]),
    Case("index-pairs", "index", lambda x: x[np.arange(3), np.array([1, 0, 3])], [normal(3, 4)],
         lambda x: x[np.arange(3), np.array([1, 0, 3])]),
    Case("index-tensor", "index", lambda x, i: x[i], [normal(4, 2), np.array([[0, 3], [1, 1]])],
         lambda x, i: x[i], grad_inputs=[0]),
    Case("index-bool-mask", "index", lambda x: x[np.array([True, False, True])], [normal(3, 2)],
         lambda x: x[np.array([True, False, True])]),
    Case("pad", "pad", lambda x: gc.pad(x, (1, 2)), [normal(2, 3)],
         lambda x: np.pad(x, ((0, 0), (1, 2)))),
    Case("pad-2d-value", "pad", lambda x: gc.pad(x, (1, 0, 0, 2), value=5.0), [normal(2, 3)],
         lambda x: np.pad(x, ((0, 2), (1, 0)), constant_values=5.0)),
    Case("split", "slice", lambda x: gc.split(x, 2, 1)[1], [normal(2, 5)], lambda x: x[:, 2:4]),
]


def _scan_cell(h, xs, w, reverse=False):
    """A tanh RNN over xs with a tuple carry (h, running sum): graphc.scan."""
    def f(carry, x):
        c, s = carry
        c = gc.tanh(x + c @ w)
        return (c, s + c.sum()), c * s
    (hT, sT), ys = gc.scan(f, (h, gc.zeros_like(h.sum())), xs, reverse=reverse)
    return ys.sum(0) + hT * sT


def _scan_cell_ref(h, xs, w, reverse=False):
    s, ys = np.zeros((), h.dtype), [None] * len(xs)
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        h = np.tanh(xs[t] + h @ w)
        s, ys[t] = s + h.sum(), h * s
    return np.stack(ys).sum(0) + h * s


CONTROL = [
    Case("scan", "scan", _scan_cell, [normal(2, 3), normal(4, 2, 3), normal(3, 3) * 0.5],
         _scan_cell_ref, rtol=1e-5, atol=1e-6),
    Case("scan-reverse", "scan", lambda h, xs, w: _scan_cell(h, xs, w, True),
         [normal(1, 2), normal(3, 1, 2), normal(2, 2) * 0.5],
         lambda h, xs, w: _scan_cell_ref(h, xs, w, True), rtol=1e-5, atol=1e-6),
]

CASES = UNARY + BINARY + REDUCTIONS + LINALG + SHAPES + CONTROL


def by_id(cases):
    return {"argvalues": cases, "ids": [c.name for c in cases]}
