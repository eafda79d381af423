"""Elementwise ops: the fusable ones. Each has a scalar template for the code generators.

Inputs are cast to one compute dtype before the op runs (the dispatcher inserts `cast`
nodes), so references and templates only ever see inputs of one dtype.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DTypeError, op_error
from ..types import TensorType, bool_, broadcast_shapes, float32, promote_types
from .registry import Op
from .scipy_special import special


def _coerce_to(kind, name=""):
    """Cast rule: all inputs to their promoted dtype; 'float' also lifts int/bool to float32;
    'int' refuses floating inputs (bitwise ops)."""
    def coerce(dtypes, weak):
        dt = promote_types(dtypes, weak)
        if kind == "int" and dt.is_floating_point:
            raise op_error(DTypeError, name, f"expects integer or bool inputs, got {dt.name}")
        if kind == "float" and not dt.is_floating_point:
            dt = float32
        elif kind == "bool":
            dt = bool_
        return [dt] * len(dtypes)
    return coerce


def _infer(out):
    def infer(in_types, **attrs):
        shape = broadcast_shapes(*(t.shape for t in in_types))
        return [TensorType(shape, bool_ if out == "bool" else in_types[0].dtype)]
    return infer


def elementwise(name, arity, reference, vjp, template, *, inputs="any", out="same",
                defaults=None, saves=("inputs", "outputs"), differentiable=None, doc=""):
    """differentiable defaults to False for boolean results (comparisons, predicates) and for
    integer-only ops (bitwise), True otherwise: a differentiable op needs a vjp (see Op)."""
    if differentiable is None:
        differentiable = out != "bool" and inputs != "int"
    return Op(name, infer=_infer(out), reference=reference, vjp=vjp, num_inputs=arity,
              coerce=_coerce_to(inputs, name), defaults=defaults, family="elementwise",
              scalar=template, saves=saves, differentiable=differentiable,
              doc=doc)


def _x(ctx):
    return ctx.inputs[0]


def _y(ctx):
    return ctx.outputs[0]


# ---- unary ---------------------------------------------------------------------------
neg = elementwise("neg", 1, np.negative, lambda c, g: [neg(g)], "(-{0})", saves=())
abs = elementwise("abs", 1, np.abs, lambda c, g: [mul(g, sign(_x(c)))], "abs({0})")
def _sign_ref(x):
    """PyTorch's sign: (x > 0) - (x < 0), so NaN gives 0 (NumPy's np.sign gives NaN)."""
    y = np.sign(x)
    if y.dtype.kind == "f":
        y = np.where(np.isnan(y), y.dtype.type(0), y)
    return y


sign = elementwise("sign", 1, _sign_ref, lambda c, g: [full_like(g, value=0)],
                   "(({0} > 0) - ({0} < 0))", saves=())  # zero almost everywhere, as in PyTorch
exp = elementwise("exp", 1, np.exp, lambda c, g: [mul(g, _y(c))], "math.exp({0})", inputs="float")
log = elementwise("log", 1, np.log, lambda c, g: [div(g, _x(c))], "math.log({0})", inputs="float")
log1p = elementwise("log1p", 1, np.log1p, lambda c, g: [div(g, add(_x(c), 1))],
                    "math.log1p({0})", inputs="float")
sqrt = elementwise("sqrt", 1, np.sqrt, lambda c, g: [div(g, mul(_y(c), 2))], "math.sqrt({0})",
                   inputs="float")
rsqrt = elementwise("rsqrt", 1, lambda x: 1 / np.sqrt(x),
                    lambda c, g: [mul(g, mul(mul(_y(c), square(_y(c))), -0.5))],
                    "(1 / math.sqrt({0}))", inputs="float")
square = elementwise("square", 1, np.square, lambda c, g: [mul(g, mul(_x(c), 2))], "({0} * {0})")
sin = elementwise("sin", 1, np.sin, lambda c, g: [mul(g, cos(_x(c)))], "math.sin({0})", inputs="float")
cos = elementwise("cos", 1, np.cos, lambda c, g: [neg(mul(g, sin(_x(c))))], "math.cos({0})",
                  inputs="float")
tanh = elementwise("tanh", 1, np.tanh, lambda c, g: [mul(g, sub(1, square(_y(c))))],
                   "math.tanh({0})", inputs="float")
sigmoid = elementwise("sigmoid", 1, special.expit,
                      lambda c, g: [mul(g, mul(_y(c), sub(1, _y(c))))],
                      "(1 / (1 + math.exp(-{0})))", inputs="float")


def _relu_ref(x):
    """PyTorch's relu: x < 0 ? 0 : x, so NaN and -0.0 pass through (np.maximum(-0.0, 0) is
    +0.0), as in the compiled targets' template."""
    return np.where(x < 0, x.dtype.type(0), x)


relu = elementwise("relu", 1, _relu_ref,
                   lambda c, g: [where(gt(_x(c), 0), g, 0)], "max({0}, 0)")
leaky_relu = elementwise(
    "leaky_relu", 1, lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
    lambda c, g: [where(gt(_x(c), 0), g, mul(g, c.attrs["negative_slope"]))],
    "({0} if {0} > 0 else {0} * {negative_slope})", inputs="float",
    defaults={"negative_slope": 0.01})
elu = elementwise(
    "elu", 1, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
    # from x, not from y + alpha: that loses precision where y is close to -alpha
    lambda c, g: [where(gt(_x(c), 0), g,
                        mul(g, mul(exp(minimum(_x(c), 0)), c.attrs["alpha"])))],
    "({0} if {0} > 0 else {alpha} * math.expm1({0}))", inputs="float", defaults={"alpha": 1.0})


def _gelu_ref(x, approximate):
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return 0.5 * x * (1 + np.tanh(inner))
    return (0.5 * x * (1 + special.erf(x / math.sqrt(2)))).astype(x.dtype)


def _gelu_vjp(c, g):
    x = _x(c)
    if c.attrs["approximate"] == "tanh":
        k = math.sqrt(2 / math.pi)
        t = tanh(mul(add(x, mul(mul(x, square(x)), 0.044715)), k))
        dinner = mul(add(mul(square(x), 3 * 0.044715), 1), k)
        d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, square(t))), dinner))
        return [mul(g, d)]
    cdf = mul(add(erf(mul(x, 1 / math.sqrt(2))), 1), 0.5)
    pdf = mul(exp(mul(square(x), -0.5)), 1 / math.sqrt(2 * math.pi))
    return [mul(g, add(cdf, mul(x, pdf)))]


gelu = elementwise("gelu", 1, _gelu_ref, _gelu_vjp,
                   "(0.5 * {0} * (1 + math.erf({0} * 0.7071067811865476)))", inputs="float",
                   defaults={"approximate": "none"})


def _softplus_ref(x, beta, threshold):
    bx = x * beta
    return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta).astype(x.dtype)


softplus = elementwise(
    "softplus", 1, _softplus_ref,
    lambda c, g: [where(gt(mul(_x(c), c.attrs["beta"]), c.attrs["threshold"]), g,
                        mul(g, sigmoid(mul(_x(c), c.attrs["beta"]))))],
    "({0} if {0} * {beta} > {threshold} else math.log1p(math.exp({0} * {beta})) / {beta})",
    inputs="float", defaults={"beta": 1.0, "threshold": 20.0})
erf = elementwise("erf", 1, special.erf,
                  lambda c, g: [mul(g, mul(exp(neg(square(_x(c)))), 2 / math.sqrt(math.pi)))],
                  "math.erf({0})", inputs="float")
logical_not = elementwise("logical_not", 1, np.logical_not, None, "(not {0})", inputs="bool",
                          out="bool")


def _clamp_ref(x, min, max):
    if min is not None:
        x = np.maximum(x, np.asarray(min, x.dtype))
    if max is not None:
        x = np.minimum(x, np.asarray(max, x.dtype))
    return x


def _clamp_vjp(c, g):
    x, lo, hi = _x(c), c.attrs["min"], c.attrs["max"]
    inside = None
    if lo is not None:
        inside = ge(x, lo)
    if hi is not None:
        below = le(x, hi)
        inside = below if inside is None else logical_and(inside, below)
    return [g if inside is None else where(inside, g, 0)]


clamp = elementwise("clamp", 1, _clamp_ref, _clamp_vjp, "min(max({0}, {min}), {max})",
                    defaults={"min": None, "max": None})


def _cast_infer(in_types, dtype):
    return [TensorType(in_types[0].shape, dtype)]


def _cast_vjp(c, g):
    src = _x(c).dtype
    return [cast(g, dtype=src) if src.is_floating_point else None]


cast = Op("cast", infer=_cast_infer, reference=lambda x, dtype: x.astype(dtype.np),
          vjp=_cast_vjp, defaults={"dtype": None}, family="elementwise", saves=(),
          scalar="{0}", doc="Convert to another dtype.")


detach = elementwise("detach", 1, lambda x: x.copy(), lambda c, g: [None], "{0}", saves=(),
                     doc="x's value, through which no gradient flows (Tensor.detach on "
                         "symbolic values; torch's detach/stop_gradient).")


def _full_like_infer(in_types, value, dtype):
    return [TensorType(in_types[0].shape, dtype or in_types[0].dtype)]


full_like = Op("full_like", infer=_full_like_infer,
               reference=lambda x, value, dtype: np.full(x.shape, value,
                                                         x.dtype if dtype is None else dtype.np),
               vjp=lambda c, g: [None], defaults={"value": 0, "dtype": None},
               family="elementwise", scalar="{value}",
               doc="A tensor of x's shape filled with `value` (x's values are not read).")

# ---- binary --------------------------------------------------------------------------
add = elementwise("add", 2, np.add, lambda c, g: [g, g], "({0} + {1})", saves=())
sub = elementwise("sub", 2, np.subtract, lambda c, g: [g, neg(g)], "({0} - {1})", saves=())
# (binary rules compute only the cotangents asked for, as PyTorch's do: y * 2 makes no
# gradient for the constant)
mul = elementwise("mul", 2, np.multiply,
                  lambda c, g: [mul(g, c.inputs[1]) if c.needs_input_grad[0] else None,
                                mul(g, c.inputs[0]) if c.needs_input_grad[1] else None],
                  "({0} * {1})")
div = elementwise("div", 2, np.true_divide,
                  lambda c, g: [div(g, c.inputs[1]) if c.needs_input_grad[0] else None,
                                neg(div(mul(g, c.inputs[0]), square(c.inputs[1])))
                                if c.needs_input_grad[1] else None],
                  "({0} / {1})", inputs="float", saves=("inputs",))


def _pow_vjp(c, g):
    a, b = c.inputs
    ga = gb = None
    if c.needs_input_grad[0]:
        ga = mul(g, mul(b, pow(a, sub(b, 1))))
    if c.needs_input_grad[1]:
        gb = where(eq(a, 0), 0, mul(g, mul(_y(c), log(a))))
    return [ga, gb]


pow = elementwise("pow", 2, np.power, _pow_vjp, "({0} ** {1})")


def _minmax_vjp(first_wins):
    def vjp(c, g):
        a, b = c.inputs
        half = mul(g, 0.5)
        tie = eq(a, b)
        return [where(first_wins(a, b), g, where(tie, half, 0)),
                where(first_wins(b, a), g, where(tie, half, 0))]
    return vjp


maximum = elementwise("maximum", 2, np.maximum, _minmax_vjp(lambda a, b: gt(a, b)), "max({0}, {1})")
minimum = elementwise("minimum", 2, np.minimum, _minmax_vjp(lambda a, b: lt(a, b)), "min({0}, {1})")

eq = elementwise("eq", 2, np.equal, None, "({0} == {1})", out="bool")
ne = elementwise("ne", 2, np.not_equal, None, "({0} != {1})", out="bool")
lt = elementwise("lt", 2, np.less, None, "({0} < {1})", out="bool")
le = elementwise("le", 2, np.less_equal, None, "({0} <= {1})", out="bool")
gt = elementwise("gt", 2, np.greater, None, "({0} > {1})", out="bool")
ge = elementwise("ge", 2, np.greater_equal, None, "({0} >= {1})", out="bool")
logical_and = elementwise("logical_and", 2, np.logical_and, None, "({0} and {1})", inputs="bool",
                          out="bool")
logical_or = elementwise("logical_or", 2, np.logical_or, None, "({0} or {1})", inputs="bool",
                         out="bool")



# ---- rounding, classification, more transcendental functions ---------------------------------
def _zero_grads(c, g):
    """Piecewise-constant ops: PyTorch defines their gradient as zeros (not None)."""
    return [full_like(g, value=0)] * len(c.inputs)


# x // 1 is floor in both Numba and CUDA (math.floor returns an int there: it would overflow);
# inf and nan pass through unchanged, as in NumPy's floor.
_FINITE = "({0} - {0} == 0)"
floor = elementwise("floor", 1, np.floor, _zero_grads, f"(({{0}} // 1) if {_FINITE} else {{0}})")
ceil = elementwise("ceil", 1, np.ceil, _zero_grads,
                   f"(-((-{{0}}) // 1) if {_FINITE} else {{0}})")
trunc = elementwise("trunc", 1, np.trunc, _zero_grads,
                    f"((({{0}} // 1) if {{0}} >= 0 else -((-{{0}}) // 1)) if {_FINITE} else {{0}})")
# Half to even, as torch.round and np.round: floor, then look at the exact remainder; the
# result has x's sign (round(-0.4) is -0.0), which the addition would lose.
round = elementwise(
    "round", 1, np.round, _zero_grads,
    f"(math.copysign(({{0}} // 1) + (1 if ({{0}} - {{0}} // 1 > 0.5 or ({{0}} - {{0}} // 1 == 0.5 "
    f"and ({{0}} // 1) % 2 != 0)) else 0), {{0}}) if {_FINITE} else {{0}})", inputs="float")
isnan = elementwise("isnan", 1, np.isnan, None, "({0} != {0})", out="bool")
isinf = elementwise("isinf", 1, np.isinf, None, "(abs({0}) == math.inf)", out="bool")
isfinite = elementwise("isfinite", 1, np.isfinite, None, _FINITE, out="bool")
signbit = elementwise("signbit", 1, np.signbit, None, "(math.copysign(1.0, {0}) < 0)",
                      inputs="float", out="bool")
expm1 = elementwise("expm1", 1, np.expm1, lambda c, g: [mul(g, exp(_x(c)))], "math.expm1({0})",
                    inputs="float")
log2 = elementwise("log2", 1, np.log2, lambda c, g: [div(g, mul(_x(c), math.log(2)))],
                   "math.log2({0})", inputs="float")
log10 = elementwise("log10", 1, np.log10, lambda c, g: [div(g, mul(_x(c), math.log(10)))],
                    "math.log10({0})", inputs="float")
tan = elementwise("tan", 1, np.tan, lambda c, g: [mul(g, add(square(_y(c)), 1))], "math.tan({0})",
                  inputs="float")
asin = elementwise("asin", 1, np.arcsin, lambda c, g: [mul(g, rsqrt(sub(1, square(_x(c)))))],
                   "math.asin({0})", inputs="float")
acos = elementwise("acos", 1, np.arccos, lambda c, g: [neg(mul(g, rsqrt(sub(1, square(_x(c))))))],
                   "math.acos({0})", inputs="float")
atan = elementwise("atan", 1, np.arctan, lambda c, g: [div(g, add(square(_x(c)), 1))],
                   "math.atan({0})", inputs="float")
sinh = elementwise("sinh", 1, np.sinh, lambda c, g: [mul(g, cosh(_x(c)))], "math.sinh({0})",
                   inputs="float")
cosh = elementwise("cosh", 1, np.cosh, lambda c, g: [mul(g, sinh(_x(c)))], "math.cosh({0})",
                   inputs="float")
asinh = elementwise("asinh", 1, np.arcsinh, lambda c, g: [mul(g, rsqrt(add(square(_x(c)), 1)))],
                    "math.asinh({0})", inputs="float")
acosh = elementwise("acosh", 1, np.arccosh, lambda c, g: [mul(g, rsqrt(sub(square(_x(c)), 1)))],
                    "math.acosh({0})", inputs="float")
atanh = elementwise("atanh", 1, np.arctanh, lambda c, g: [div(g, sub(1, square(_x(c))))],
                    "math.atanh({0})", inputs="float")
erfc = elementwise("erfc", 1, special.erfc,
                   lambda c, g: [mul(g, mul(exp(neg(square(_x(c)))), -2 / math.sqrt(math.pi)))],
                   "math.erfc({0})", inputs="float")
def _lgamma_ref(x):
    """log|gamma(x)|; lgamma(-inf) is +inf, as in C, Python and PyTorch (SciPy gives -inf)."""
    return np.where(x == -np.inf, x.dtype.type(np.inf), special.gammaln(x))


lgamma = elementwise("lgamma", 1, _lgamma_ref,
                     lambda c, g: [mul(g, digamma(_x(c)))], "math.lgamma({0})", inputs="float")
# Giles' single-precision erfinv (central and tail polynomials in w = -log(1 - x^2)).
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _horner(coefs, t):
    p = coefs[0]
    for c in coefs[1:]:
        p = add(mul(p, t), c)
    return p


def erfinv(x):
    """erfinv as a composite (every target, gradients by autodiff): Giles' approximation, then
    four Newton steps, on erf(y) = x for |x| <= 1/2 and on log erfc|y| = log(1 - |x|) beyond
    (1 - |x| is exact there), so the far tails keep full precision: relative error ~1e-16
    against SciPy in float64, and the gradient through the converged steps is
    sqrt(pi)/2 exp(y^2) to ~1e-15. +-inf at +-1, nan beyond."""
    if not x.dtype.is_floating_point:
        x = cast(x, dtype=float32)
    inside = lt(abs(x), 1)
    safe = where(inside, x, 0.0)
    w = neg(log(mul(sub(1, safe), add(1, safe))))
    y = mul(where(lt(w, 5), _horner(_GILES_CENTRAL, sub(w, 2.5)),
                  _horner(_GILES_TAIL, sub(sqrt(maximum(w, 5.0)), 3))), safe)
    size = abs(safe)
    tail = gt(size, 0.5)
    log_rest = log(where(tail, sub(1, size), 0.5))
    for _ in range(4):
        slope = mul(exp(neg(square(y))), 2 / math.sqrt(math.pi))  # erf'(y)
        central_step = div(sub(erf(y), safe), slope)
        rest = erfc(abs(y))
        tail_step = neg(mul(sign(safe), div(mul(sub(log(rest), log_rest), rest), slope)))
        y = sub(y, where(tail, tail_step, central_step))
    return where(inside, y, where(eq(abs(x), 1), mul(sign(x), math.inf), math.nan))


def digamma(x):
    """digamma as a composite (every target, gradients by autodiff): reflection below 1/2,
    recurrence up to x + 6, then the asymptotic series (relative error < 1e-11 in float64).
    PyTorch's poles: -inf at 0, nan at negative integers."""
    reflect = lt(x, 0.5)
    xr = where(reflect, sub(1, x), x)
    shift = div(1, xr)
    for k in range(1, 6):
        shift = add(shift, div(1, add(xr, k)))
    z = add(xr, 6)
    z2 = div(1, square(z))
    tail = mul(z2, sub(1 / 240, div(z2, 132)))
    for coef in (1 / 252, 1 / 120, 1 / 12):
        tail = mul(z2, sub(coef, tail))
    psi = sub(sub(sub(log(z), div(0.5, z)), tail), shift)
    pole = logical_and(le(x, 0), eq(x, floor(x)))
    # tan kept away from its poles where it is not used (no inf/nan, even in gradients)
    safe = where(logical_and(reflect, logical_not(pole)), x, 0.25)
    psi = where(reflect, sub(psi, div(math.pi, tan(mul(safe, math.pi)))), psi)
    return where(pole, where(eq(x, 0), -math.inf, math.nan), psi)


# ---- binary: division variants, two-argument functions, bits ---------------------------------
def _int_division(np_fn):
    """Integer division by zero raises, as in PyTorch (NumPy would return 0). Compiled cpu
    code cannot raise inside a kernel: there it gives 0 (docs/torch_parity.md)."""
    def reference(a, b):
        if a.dtype.kind in "iub" and np.any(np.asarray(b) == 0):
            raise ZeroDivisionError("integer division by zero")
        return np_fn(a, b)
    return reference


def _remainder(a, b):
    """Python's modulo (the result has b's sign), except that a zero result keeps a's sign,
    as in PyTorch (NumPy gives remainder(-0.0, 2.0) = 0.0 and remainder(4.0, -2.0) = -0.0)."""
    r = np.remainder(a, b)
    if r.dtype.kind == "f":
        r = np.where(r == 0, np.copysign(r, a), r)
    return r


remainder = elementwise("remainder", 2, _int_division(_remainder),
                        lambda c, g: [g, neg(mul(g, floor_divide(*c.inputs)))], "({0} % {1})",
                        saves=("inputs",))
# C's fmod from Python's %: exact, since |a| % |b| needs no sign fix-up.
fmod = elementwise("fmod", 2, _int_division(np.fmod),
                   lambda c, g: [g, neg(mul(g, trunc(div(*c.inputs))))],
                   "(-(abs({0}) % abs({1})) if {0} < 0 else abs({0}) % abs({1}))",
                   saves=("inputs",))
floor_divide = elementwise("floor_divide", 2, _int_division(np.floor_divide), _zero_grads, "({0} // {1})",
                           saves=())


def _atan2_vjp(c, g):
    a, b = c.inputs
    r2 = add(square(a), square(b))
    return [div(mul(g, b), r2), neg(div(mul(g, a), r2))]


atan2 = elementwise("atan2", 2, np.arctan2, _atan2_vjp, "math.atan2({0}, {1})", inputs="float",
                    saves=("inputs",))
hypot = elementwise("hypot", 2, np.hypot,
                    lambda c, g: [div(mul(g, c.inputs[0]), _y(c)), div(mul(g, c.inputs[1]), _y(c))],
                    "math.hypot({0}, {1})", inputs="float")
# PyTorch's gradients: input's is result / input (0 where input is 0); other's is zero
copysign = elementwise(
    "copysign", 2, np.copysign,
    lambda c, g: [where(eq(c.inputs[0], 0), 0, mul(g, div(_y(c), c.inputs[0]))),
                  full_like(g, value=0)],
    "math.copysign({0}, {1})", inputs="float")
bitwise_and = elementwise("bitwise_and", 2, np.bitwise_and, None, "({0} & {1})", inputs="int")
bitwise_or = elementwise("bitwise_or", 2, np.bitwise_or, None, "({0} | {1})", inputs="int")
bitwise_xor = elementwise("bitwise_xor", 2, np.bitwise_xor, None, "({0} ^ {1})", inputs="int")
bitwise_not = elementwise("bitwise_not", 1, np.invert, None, "(~{0})", inputs="int")
bitwise_left_shift = elementwise("bitwise_left_shift", 2, np.left_shift, None, "({0} << {1})",
                                 inputs="int")
bitwise_right_shift = elementwise("bitwise_right_shift", 2, np.right_shift, None, "({0} >> {1})",
                                  inputs="int")


# ---- ternary -------------------------------------------------------------------------
def _where_coerce(dtypes, weak):
    dt = promote_types(dtypes[1:], weak[1:])
    return [bool_, dt, dt]


def _where_infer(in_types):
    shape = broadcast_shapes(*(t.shape for t in in_types))
    return [TensorType(shape, in_types[1].dtype)]


where = Op("where", infer=_where_infer, reference=np.where, num_inputs=3,
           vjp=lambda c, g: [None, where(c.inputs[0], g, 0), where(c.inputs[0], 0, g)],
           coerce=_where_coerce, family="elementwise", scalar="({1} if {0} else {2})",
           doc="where(cond, a, b): a where cond is true, else b.")

# mul and div read an input for the other's gradient only (as PyTorch saves them)
mul.reads = lambda needs: (([1] if needs[0] else []) + ([0] if needs[1] else []), False)
div.reads = lambda needs: ([1] + ([0] if needs[1] else []), False)
where.reads = lambda needs: ([0], False)  # the condition only

# Gradient rules of these read only their inputs, so an eager in-place write to their output
# does not invalidate backward (as in PyTorch).
for _op in (abs, log, log1p, square, sin, cos, relu, leaky_relu, gelu, softplus, erf, clamp, mul,
            maximum, minimum, where, elu, expm1, log2, log10, sinh, cosh, asin, acos, atan, asinh,
            acosh, atanh, erfc, lgamma):
    _op.saves = ("inputs",)
# ... and these read no value at all (zeros, or the cotangent alone)
for _op in (floor, ceil, trunc, round, full_like):
    _op.saves = ()
