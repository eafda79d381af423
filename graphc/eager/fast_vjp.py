"""NumPy stand-ins for the gradient rules of common ops, for eager backward on CPU.

An op's gradient rule (`op.vjp`) is written with graphc ops, so that static autodiff and
eager backward share it and `create_graph=True` can differentiate it again. Run eagerly,
each op it calls pays the dispatcher (~1-2 µs on small tensors) and the rule makes
temporaries the result does not need: on the XOR MLP step, 20 dispatched ops were half of
`loss.backward()`. As `op.eager` is a faster stand-in for `op.reference`, a rule here is a
faster stand-in for `op.vjp`: same inputs, same result, the same NumPy operations in the
same order (so the same rounding: tests/eager/test_fast_vjp.py compares them bit for bit),
but on the arrays at once. PyTorch does the same with its C++ backward formulas.

Used only where nothing can tell the difference: backward without create_graph (the
results carry no history anyway), a single output, CPU float32/float64 arrays of one dtype
for the cotangent, the output and every input, and only while the op's vjp is the one the
rule was written for (a replaced vjp runs). Anything else (and every op not listed) runs
`op.vjp`. A rule may return a cotangent of a broadcast shape; the sweep sums it down
to the input's shape as it does for `op.vjp`'s. Cotangents made here are new, writable,
contiguous arrays (never views of an input or of `g`), except where the shared rule
passes `g` through unchanged (add, sub).
"""
from __future__ import annotations

import numpy as np

from ..ops import elementwise as E, linalg as L, reduce as R
from ..ops.nn_kernels import relu_backward
from .tensor import Tensor

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_ZERO = {_F32: np.float32(0), _F64: np.float64(0)}
# the rules' numbers as scalars of the arrays' dtype: the same values (exact in either
# dtype) without NumPy converting a Python number on each call (~0.3 µs)
_ONE = {_F32: np.float32(1), _F64: np.float64(1)}
_TWO = {_F32: np.float32(2), _F64: np.float64(2)}
_new = Tensor._new


# Each rule: (input arrays, output array, cotangent g, needs_input_grad, attrs) -> one array
# (or None: no gradient) per input; `g` may itself be returned (add, sub) as op.vjp does.
def _add(ins, y, g, needs, attrs):
    return [g if needs[0] else None, g if needs[1] else None]


def _sub(ins, y, g, needs, attrs):
    return [g if needs[0] else None, np.negative(g) if needs[1] else None]


def _mul(ins, y, g, needs, attrs):
    return [np.multiply(g, ins[1]) if needs[0] else None,
            np.multiply(g, ins[0]) if needs[1] else None]


def _div(ins, y, g, needs, attrs):
    a, b = ins
    return [np.true_divide(g, b) if needs[0] else None,
            np.negative(np.true_divide(np.multiply(g, a), np.square(b))) if needs[1] else None]


def _neg(ins, y, g, needs, attrs):
    return [np.negative(g)]


# (Python numbers in these rules are cast to the arrays' float dtype, as op.vjp casts them)
def _square(ins, y, g, needs, attrs):  # mul(g, mul(x, 2))
    return [np.multiply(g, np.multiply(ins[0], _TWO[g.dtype]))]


def _sigmoid(ins, y, g, needs, attrs):  # mul(g, mul(y, sub(1, y)))
    return [np.multiply(g, np.multiply(y, np.subtract(_ONE[y.dtype], y)))]


def _tanh(ins, y, g, needs, attrs):  # mul(g, sub(1, square(y)))
    return [np.multiply(g, np.subtract(_ONE[y.dtype], np.square(y)))]


def _exp(ins, y, g, needs, attrs):  # mul(g, y)
    return [np.multiply(g, y)]


def _log(ins, y, g, needs, attrs):  # div(g, x)
    return [np.true_divide(g, ins[0])]


def _relu(ins, y, g, needs, attrs):  # where(gt(x, 0), g, 0); one kernel pass when large
    fast = relu_backward(g, ins[0])
    return [fast if fast is not None else np.where(np.greater(ins[0], 0), g, _ZERO[y.dtype])]


def _spread(g, x, attrs):
    """expand_like(keep(g), x) materialized: g of a sum or mean over attrs' dims copied
    along the reduced dims into a new array of x's shape."""
    out = np.empty(x.shape, g.dtype)
    dims = attrs["dims"]
    if g.ndim == 0 or attrs["keepdim"] or not dims:
        out[...] = g  # (broadcasts as it is)
    else:  # the reduced dims back as size-1 dims (np.expand_dims, without its checks)
        out[...] = g.reshape(tuple([1 if i in dims else n for i, n in enumerate(x.shape)]))
    return out


def _sum(ins, y, g, needs, attrs):  # expand_like(keep(g), x)
    return [_spread(g, ins[0], attrs)]


def _mean(ins, y, g, needs, attrs):  # expand_like(div(keep(g), count), x)
    x, dims = ins[0], attrs["dims"]
    count = 1
    for d in (range(x.ndim) if dims is None else dims):
        count *= x.shape[d]
    return [_spread(np.true_divide(g, g.dtype.type(count)), x, attrs)]


def _matmul(ins, y, g, needs, attrs):  # 2-D @ 2-D only; other ranks take op.vjp
    a, b = ins
    if a.ndim != 2 or b.ndim != 2:
        return None
    return [np.matmul(g, b.T) if needs[0] else None, np.matmul(a.T, g) if needs[1] else None]


def _linear(ins, y, g, needs, attrs):  # as ops/linalg._linear_vjp
    x, w = ins[0], ins[1]
    if x.ndim == 1:
        return None
    gx = np.matmul(g, w) if needs[0] else None
    gw = gb = None
    if needs[1]:
        g2 = g if g.ndim == 2 else np.reshape(g, (-1, w.shape[0]))
        x2 = x if x.ndim == 2 else np.reshape(x, (-1, w.shape[1]))
        gw = np.matmul(g2.T, x2)
    if len(ins) == 3 and needs[2]:
        gb = _column_sums(g)
    return [gx, gw, gb][:len(ins)]


_LEADING = {2: (0,), 3: (0, 1), 4: (0, 1, 2)}


def _column_sums(g):
    """sum's eager over g's leading dims (a bias gradient), the same arithmetic: below
    the rows where it takes its matrix-vector product, the plain reduction it runs then
    (without its row count through np.prod, ~3 µs a call)."""
    dims = _LEADING.get(g.ndim) or tuple(range(g.ndim - 1))
    if g.ndim and g.shape[-1] and g.size // g.shape[-1] < _SUM_ROWS:
        # (a float array sums in its own dtype: the loop dtype=g.dtype selects; keyword
        # arguments cost the ufunc ~0.2 µs to parse)
        return np.add.reduce(g, 0) if g.ndim == 2 else np.add.reduce(g, dims)
    return R.sum.eager(g, dims, False)


_SUM_ROWS = 1024  # ops/reduce.py _sum_eager: a column sum of this many rows is a product


RULES = {E.add: _add, E.sub: _sub, E.mul: _mul, E.div: _div, E.neg: _neg, E.square: _square,
         E.sigmoid: _sigmoid, E.tanh: _tanh, E.exp: _exp, E.log: _log, E.relu: _relu,
         R.sum: _sum, R.mean: _mean, L.matmul: _matmul, L.linear: _linear}
# the op.vjp each rule stands for: an op whose vjp was replaced since (a test, a user's
# experiment) runs its new vjp
_STANDS_FOR = {op: op.vjp for op in RULES}
_RULE_AND_VJP = {op: (rule, op.vjp) for op, rule in RULES.items()}  # (one lookup a call)


def eager_vjp(entry, needs, grads):
    """backward_sweep's fast_rule: the input cotangents of a tape entry computed by its
    NumPy rule and summed to the inputs' shapes (autodiff.sum_to's reductions), or None
    where op.vjp must run (see the module docstring)."""
    op = entry.op
    found = _RULE_AND_VJP.get(op)
    if found is None or len(grads) != 1 or op.vjp is not found[1]:
        return None
    rule = found[0]
    g_tensor = grads[0]
    g = g_tensor._data
    y = entry.outs[0][0]
    dt = g.dtype
    if type(g) is not np.ndarray or type(y) is not np.ndarray or y.dtype is not dt or \
            (dt is not _F32 and dt is not _F64):
        return None
    ins = []
    for x in entry.inputs:
        a = x._data
        if type(a) is not np.ndarray or a.dtype is not dt:
            return None
        ins.append(a)
    out = rule(ins, y, g, needs, entry.attrs)  # (a new list: its items are replaced here)
    if out is None:
        return None
    for i, r in enumerate(out):
        if r is None:
            continue
        if r.shape != ins[i].shape:
            r = _sum_to(r, ins[i].shape)
            if r is None:
                return None
        elif r is g:  # (passed through: the cotangent tensor itself, as op.vjp returns it)
            out[i] = g_tensor
            continue
        out[i] = _new(r if type(r) is np.ndarray else np.asarray(r))  # (ufuncs of 0-d
    return out                                                        # arrays: scalars)


def _sum_to(r, shape):
    """autodiff.sum_to on an array: the same reductions (None: r has fewer dims)."""
    lead = r.ndim - len(shape)
    if lead < 0:
        return None
    dims = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and r.shape[lead + i] != 1)
    return np.add.reduce(r, axis=dims, dtype=r.dtype, keepdims=True).reshape(shape)
