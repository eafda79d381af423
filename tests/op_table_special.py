"""Special values for the op table: NaN, +-inf, -0.0, empty tensors and ties.

Each case is a `Case` of tests/op_table.py whose oracle follows PyTorch's semantics at these
values (NaN propagates through maximum/minimum/clamp/amax/amin, NaN is the extreme of
argmax/argmin, sign(nan) is 0, log(0) is -inf, ...). tests/ops/test_special_values.py runs
them eagerly and on the reference and cpu targets, tests/cuda/sim/test_cuda_special.py on CUDA:
every target gives the same answer, NaN for NaN.

Zeros are compared with their sign only where IEEE arithmetic fixes it (SIGNED_ZEROS): which
zero a tie between -0.0 and 0.0 returns (maximum, amax, relu, clamp) is not specified
(docs/numerics.md).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special

import graphc as gc
from op_table import Case

NAN, INF = math.nan, math.inf
# every special float and a few ordinary ones (negative, in (0, 1), > 1)
S = np.array([NAN, INF, -INF, -0.0, 0.0, 0.5, -0.4, -2.5, 1.5, 3.0])
S32 = S.astype(np.float32)
# every ordered pair of S: binary ops at all combinations
A, B = np.repeat(S, len(S)), np.tile(S, len(S))
# rows for reductions along dim 1: a NaN, +-inf, all -inf, ties, signed zeros, NaN with inf
ROWS = np.array([[1.0, NAN, 2.0], [INF, 1.0, -INF], [-INF, -INF, -INF], [2.0, 2.0, 1.0],
                 [-0.0, 0.0, -1.0], [NAN, INF, NAN]])
# the softmax family without +inf beside finite values (PyTorch gives NaN there, SciPy not)
SOFT_ROWS = np.array([[1.0, NAN, 2.0], [-INF, -INF, -INF], [2.0, 2.0, 1.0], [-INF, 0.0, 1.0]])
EMPTY = np.zeros((0, 3))


def _torch_sign(x):
    return np.where(np.isnan(x), 0.0, np.sign(x)) + 0.0  # (x > 0) - (x < 0)


def _zero_sign_of(r, a):
    """PyTorch's remainder: a zero result keeps the dividend's sign."""
    return np.where(r == 0, np.copysign(r, a), r)


def _lgamma(x):
    return np.where(x == -INF, INF, scipy.special.gammaln(x))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


UNARY_REFS = {
    "neg": np.negative, "abs": np.abs, "sign": _torch_sign, "exp": np.exp, "log": np.log,
    "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "square": np.square,
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "sigmoid": scipy.special.expit,
    "relu": lambda x: np.where(x < 0, 0.0, x), "erf": scipy.special.erf, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "round": np.round, "isnan": np.isnan,
    "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit, "expm1": np.expm1,
    "log2": np.log2, "log10": np.log10, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "erfc": scipy.special.erfc, "lgamma": _lgamma,
    "softplus": _softplus,
}
BINARY_REFS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "eq": np.equal, "lt": np.less,
    "ge": np.greater_equal, "remainder": lambda a, b: _zero_sign_of(np.remainder(a, b), a),
    "fmod": np.fmod, "atan2": np.arctan2,
    "hypot": np.hypot, "copysign": np.copysign, "floor_divide": np.floor_divide,
}


def _case(name, op, fn, inputs, ref, **kw):
    return Case(name, op, fn, inputs, ref, grad=False, **kw)


UNARY = [_case(f"{n}-special", n, getattr(gc, n), [S], ref) for n, ref in UNARY_REFS.items()] + [
    _case("leaky_relu-special", "leaky_relu", lambda x: gc.leaky_relu(x, 0.2), [S],
          lambda x: np.where(x > 0, x, 0.2 * x)),
    _case("elu-special", "elu", lambda x: gc.elu(x, 1.5), [S],
          lambda x: np.where(x > 0, x, 1.5 * np.expm1(x))),
    _case("gelu-special", "gelu", gc.gelu, [S],
          lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2)))),
    _case("gelu-tanh-special", "gelu", lambda x: gc.gelu(x, approximate="tanh"), [S], _gelu_tanh),
    _case("clamp-special", "clamp", lambda x: gc.clamp(x, -1.0, 1.0), [S],
          lambda x: np.minimum(np.maximum(x, -1.0), 1.0)),
    _case("clamp-min-special", "clamp", lambda x: gc.clamp(x, min=0.0), [S],
          lambda x: np.maximum(x, 0.0)),
    _case("cast-bool-special", "cast", lambda x: x.bool(), [S], lambda x: x != 0),
    # float32: the cpu's fast exp/tanh/sigmoid keep NaN and saturate at +-inf
] + [_case(f"{n}-special-f32", n, getattr(gc, n), [S32],
           lambda x, f=f: f(x.astype(np.float64)).astype(np.float32), rtol=1e-6)
     for n, f in (("exp", np.exp), ("tanh", np.tanh), ("sigmoid", scipy.special.expit))]

BINARY = [_case(f"{n}-special", n, getattr(gc, n), [A, B], ref) for n, ref in BINARY_REFS.items()]


def _rows(name, op, fn, ref, rows=ROWS):
    return _case(name, op, fn, [rows], ref)


REDUCTIONS = [
    _rows("amax-special", "amax", lambda x: gc.amax(x, 1), lambda x: x.max(1)),
    _rows("amin-special", "amin", lambda x: gc.amin(x, 1), lambda x: x.min(1)),
    _rows("amax-all-special", "amax", lambda x: x.max(), np.max),
    _rows("sum-special", "sum", lambda x: x.sum(1), lambda x: x.sum(1)),
    _rows("mean-special", "mean", lambda x: x.mean(1), lambda x: x.mean(1)),
    _rows("var-special", "var", lambda x: x.var(1), lambda x: x.var(1, ddof=1)),
    _rows("argmax-special", "argmax", lambda x: x.argmax(1), lambda x: x.argmax(1)),
    _rows("argmin-special", "argmin", lambda x: x.argmin(1), lambda x: x.argmin(1)),
    _rows("argmax-all-special", "argmax", lambda x: x.argmax(), np.argmax),
    _rows("max_dim-special", "max_dim", lambda x: x.max(1)[0], lambda x: x.max(1)),
    _rows("max_dim-indices-special", "max_dim", lambda x: x.max(1)[1], lambda x: x.argmax(1)),
    _rows("min_dim-indices-special", "min_dim", lambda x: x.min(1)[1], lambda x: x.argmin(1)),
    _rows("logsumexp-special", "logsumexp", lambda x: x.logsumexp(1),
          lambda x: scipy.special.logsumexp(x, 1)),
    _rows("softmax-special", "softmax", lambda x: x.softmax(1),
          lambda x: scipy.special.softmax(x, 1), SOFT_ROWS),
    _rows("log_softmax-special", "log_softmax", lambda x: x.log_softmax(1),
          lambda x: scipy.special.log_softmax(x, 1), SOFT_ROWS),
]

EMPTY_CASES = [
    _case("sum-empty-dim", "sum", lambda x: x.sum(0), [EMPTY], lambda x: x.sum(0)),
    _case("mean-empty-dim", "mean", lambda x: x.mean(0), [EMPTY],
          lambda x: np.full(3, NAN)),
    _case("var-empty-dim", "var", lambda x: x.var(0), [EMPTY], lambda x: np.full(3, NAN)),
    _case("amax-empty-rows", "amax", lambda x: gc.amax(x, 1), [EMPTY], lambda x: x.max(1)),
    _case("argmax-empty-rows", "argmax", lambda x: x.argmax(1), [EMPTY], lambda x: x.argmax(1)),
    _case("logsumexp-empty-dim", "logsumexp", lambda x: x.logsumexp(0), [EMPTY],
          lambda x: np.full(3, -INF)),
    _case("softmax-empty", "softmax", lambda x: x.softmax(1), [EMPTY], lambda x: x),
    _case("exp-empty", "exp", gc.exp, [EMPTY], np.exp),
    _case("maximum-empty", "maximum", gc.maximum, [EMPTY, np.ones(3)],
          lambda x, y: np.maximum(x, y)),
    _case("matmul-empty-inner", "matmul", gc.matmul, [np.zeros((2, 0)), np.zeros((0, 3))],
          lambda a, b: np.zeros((2, 3))),
]

# gradients at ties (finite values): PyTorch halves maximum's between equal inputs, shares
# amax's equally among the maxima, and gives max(dim)'s to the index it returns
TIES = [
    Case("max_dim-ties-grad", "max_dim", lambda x: x.max(1).values,
         [np.array([[2.0, 2.0, 1.0], [0.5, 0.5, 0.5]])], lambda x: x.max(1)),
    Case("maximum-ties-grad", "maximum", gc.maximum,
         [np.array([1.0, 2.0, -0.5]), np.array([1.0, 0.5, -0.5])], np.maximum,
         grad_inputs=[0, 1]),
    Case("amax-ties-grad", "amax", lambda x: gc.amax(x, 1),
         [np.array([[2.0, 2.0, 1.0], [0.5, 0.5, 0.5]])], lambda x: x.max(1)),
]
# their gradients for a cotangent of ones, as PyTorch computes them
TIE_GRADS = {
    "max_dim-ties-grad": [[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]],  # the first index only
    "maximum-ties-grad": [[0.5, 1.0, 0.5], [0.5, 0.0, 0.5]],
    "amax-ties-grad": [[[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]],
}

SPECIAL = UNARY + BINARY + REDUCTIONS + EMPTY_CASES
# ops whose zero results have a sign fixed by IEEE arithmetic, compared with it
SIGNED_ZEROS = {"neg", "abs", "sqrt", "sin", "tanh", "trunc", "ceil", "floor", "round", "mul",
                "add", "copysign", "atan", "expm1", "log1p", "sign", "remainder", "fmod"}


def assert_special_equal(actual, expected, case, rtol=1e-12):
    """Equal shapes and dtypes; values equal within rtol, NaN where NaN; zeros' signs for
    SIGNED_ZEROS ops."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{case.name}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case.name}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=max(rtol, case.rtol), atol=0,
                               equal_nan=True, err_msg=case.name)
    if case.op in SIGNED_ZEROS and actual.dtype.kind == "f":
        zeros = (actual == 0) & (expected == 0)
        np.testing.assert_array_equal(np.signbit(actual[zeros]), np.signbit(expected[zeros]),
                                      err_msg=f"{case.name}: signs of zeros")


def expected(case):
    """The oracle's answer (NumPy's warnings at special values silenced)."""
    with np.errstate(all="ignore"):
        return case.ref(*case.inputs)
