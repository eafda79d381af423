"""Reductions along dims (with keepdim), softmax-family ops and shape-derived sizes."""
from __future__ import annotations

import math

import numpy as np

from ..types import TensorType, float32, int64
from .elementwise import cast, div, eq, exp, mul, sub
from .registry import Op, Reduction, normalize_dim, normalize_dims
from .scipy_special import special
from .shape import expand_like, unsqueeze


def _reduced_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in dims)


def _normalize_dims(in_types, attrs):
    return {**attrs, "dims": normalize_dims(attrs["dims"], in_types[0].ndim)}


def _normalize_dim(in_types, attrs):
    return {**attrs, "dim": normalize_dim(attrs["dim"], in_types[0].ndim)}


def _keep(g, ctx, dims=None):
    """Give a reduced cotangent its reduced dims back as size-1 dims."""
    dims = ctx.attrs["dims"] if dims is None else dims
    return g if ctx.attrs.get("keepdim", True) or not dims else unsqueeze(g, dims=dims)


def _float_or_error(dtype, what):
    if not dtype.is_floating_point:
        raise TypeError(f"{what} needs a floating point input, got {dtype.name}")
    return dtype


def _reduce_infer(result_dtype, needs_values=False):
    def infer(in_types, dims, keepdim, **_):
        t = in_types[0]
        if needs_values:
            _refuse_empty(t.shape, dims)
        return [TensorType(_reduced_shape(t.shape, dims, keepdim), result_dtype(t.dtype))]
    return infer


def _refuse_empty(shape, dims):
    """A max, min or arg-extreme of no elements has no value: PyTorch raises, so do we (a
    symbolic size is checked again when the graph is specialized to concrete shapes)."""
    for d in (range(len(shape)) if dims is None else dims):
        if shape[d] == 0:
            raise ValueError(f"dim {d} of the input {tuple(shape)} has size 0: a max or min "
                             f"of no elements has no value; reduce over non-empty dims")


def _count(x, dims, dtype):
    """Number of elements reduced over, as a 0-d tensor (known once shapes are)."""
    return shape_prod(x, dims=dims, dtype=dtype)


def _reduction(name, reference, vjp, result_dtype, extra_defaults=None, saves=("inputs", "outputs"),
               needs_values=False, single_pass=None):
    """single_pass: the Reduction trait of a reduction that one pass computes (fusable with a
    prologue), None for the others (var, logsumexp)."""
    return Op(name, infer=_reduce_infer(result_dtype, needs_values), reference=reference, vjp=vjp,
              defaults={"dims": None, "keepdim": False, **(extra_defaults or {})},
              normalize=_normalize_dims, family="reduce", reduction=single_pass, saves=saves)


def _sum_dtype(dt):
    return dt if dt.is_floating_point else int64


sum = _reduction("sum", lambda x, dims, keepdim: np.sum(x, axis=dims, keepdims=keepdim,
                                                        dtype=_sum_dtype_np(x.dtype)),
                 lambda c, g: [expand_like(_keep(g, c), c.inputs[0])], _sum_dtype, saves=(),
                 single_pass=Reduction("add"))


def _sum_dtype_np(dt):
    return dt if dt.kind == "f" else np.int64


_ONES = np.ones(0)  # float64 ones, grown as needed: the vector a column sum multiplies by


def _sum_eager(x, dims, keepdim):
    """Eager sum: the ufunc reduction np.sum calls, without np.sum's Python wrapper (~1 µs a
    call); but the leading axes of a C-contiguous float array summed onto a few columns (a
    bias gradient: (N, C) -> (C,) with a small C) are one matrix-vector product in float64.
    NumPy walks such an array a row at a time (0.5 ms for 40,401 x 3, against ~50 µs), and
    the float64 product rounds once, at the end."""
    k = len(dims) if dims else 0
    if 0 < k < x.ndim and x.dtype.kind == "f" and x.dtype.itemsize <= 8 and \
            x.flags.c_contiguous and dims == tuple(range(k)):
        rows = math.prod(x.shape[:k])
        columns = x.size // rows if rows else 0
        if columns <= 16 and rows >= 1024:
            global _ONES
            if _ONES.size < rows:
                _ONES = np.ones(rows)
            total = _ONES[:rows] @ x.reshape(rows, columns).astype(np.float64, copy=False)
            shape = ((1,) * k if keepdim else ()) + x.shape[k:]
            return total.astype(x.dtype).reshape(shape)
    return np.add.reduce(x, axis=dims, dtype=_sum_dtype_np(x.dtype), keepdims=keepdim)


sum.eager = _sum_eager


mean = _reduction("mean", lambda x, dims, keepdim: np.mean(x, axis=dims, keepdims=keepdim,
                                                           dtype=x.dtype),
                  lambda c, g: [expand_like(div(_keep(g, c), _count(c.inputs[0], c.attrs["dims"],
                                                                         g.dtype)), c.inputs[0])],
                  lambda dt: _float_or_error(dt, "mean"), saves=(),
                  single_pass=Reduction("add", mean=True))


def _mean_eager(x, dims, keepdim):
    """np.mean's own steps (a float sum in x's dtype, then one division by the count),
    without its Python wrapper (~2 µs a call)."""
    count = 1
    for d in dims:
        count *= x.shape[d]
    return np.true_divide(np.add.reduce(x, axis=dims, dtype=x.dtype, keepdims=keepdim), count)


mean.eager = _mean_eager


def _var_ref(x, dims, keepdim, correction):
    n = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    m = np.mean(x, axis=dims, keepdims=True, dtype=x.dtype)
    s = np.sum(np.square(x - m), axis=dims, keepdims=keepdim, dtype=x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (s / x.dtype.type(max(n - correction, 0))).astype(x.dtype)


def _var_vjp(c, g):
    x = c.inputs[0]
    dims = c.attrs["dims"]
    centered = sub(x, mean(x, dims=dims, keepdim=True))
    scale = div(2, sub(_count(x, dims, g.dtype), c.attrs["correction"]))
    return [mul(mul(expand_like(_keep(g, c), x), centered), scale)]


var = _reduction("var", _var_ref, _var_vjp, lambda dt: _float_or_error(dt, "var"),
                 {"correction": 1}, saves=("inputs",))


def _extreme_vjp(c, g):
    """Gradient of amax/amin: shared equally among the elements equal to the extreme."""
    x, y = c.inputs[0], c.outputs[0]
    dims = c.attrs["dims"]
    hit = cast(eq(x, expand_like(_keep(y, c), x)), dtype=g.dtype)
    share = div(expand_like(_keep(g, c), x), expand_like(sum(hit, dims=dims, keepdim=True), x))
    return [mul(hit, share)]


amax = _reduction("amax", lambda x, dims, keepdim: np.amax(x, axis=dims, keepdims=keepdim),
                  _extreme_vjp, lambda dt: dt, needs_values=True,
                  single_pass=Reduction("max"))
amin = _reduction("amin", lambda x, dims, keepdim: np.amin(x, axis=dims, keepdims=keepdim),
                  _extreme_vjp, lambda dt: dt, needs_values=True,
                  single_pass=Reduction("min"))


def _logsumexp_ref(x, dims, keepdim):
    return special.logsumexp(x, axis=dims, keepdims=keepdim).astype(x.dtype)


logsumexp = _reduction(
    "logsumexp", _logsumexp_ref,
    lambda c, g: [mul(expand_like(_keep(g, c), c.inputs[0]),
                      exp(sub(c.inputs[0], expand_like(_keep(c.outputs[0], c), c.inputs[0]))))],
    lambda dt: _float_or_error(dt, "logsumexp"))


# ---- max/min along one dim, returning (values, indices) -----------------------------------
def _dim_infer(in_types, dim, keepdim):
    t = in_types[0]
    _refuse_empty(t.shape, (dim,))
    shape = _reduced_shape(t.shape, (dim,), keepdim)
    return [TensorType(shape, t.dtype), TensorType(shape, int64)]


def _max_dim_ref(which):
    def ref(x, dim, keepdim):
        idx = (np.argmax if which == "max" else np.argmin)(x, axis=dim, keepdims=True)
        val = np.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            idx, val = np.squeeze(idx, dim), np.squeeze(val, dim)
        return val, idx.astype(np.int64)
    return ref


def _max_dim_vjp(c, g, _g_indices=None):
    """The gradient goes to the element whose index was returned (the first of tied maxima,
    or the NaN), as PyTorch's max(dim) backward does. Over a dim of unknown size there is no
    index grid to compare with: the gradient is then shared among the tied maxima."""
    x = c.inputs[0]
    dim = c.attrs["dim"]
    dims = (dim,)
    size = x.shape[dim] if x.ndim else 1
    if isinstance(size, int):
        from .scans import like_device
        grid = np.arange(size, dtype=np.int64).reshape([size if d == dim else 1
                                                        for d in range(x.ndim)])
        hit = eq(like_device(grid, x), _keep(c.outputs[1], c, dims))
        return [mul(cast(hit, dtype=g.dtype), expand_like(_keep(g, c, dims), x))]
    keep_values = _keep(c.outputs[0], c, dims)
    hit = cast(eq(x, expand_like(keep_values, x)), dtype=g.dtype)
    share = div(expand_like(_keep(g, c, dims), x), expand_like(sum(hit, dims=dims, keepdim=True), x))
    return [mul(hit, share)]


max_dim = Op("max_dim", infer=_dim_infer, reference=_max_dim_ref("max"), vjp=_max_dim_vjp,
             num_outputs=2, defaults={"dim": None, "keepdim": False}, normalize=_normalize_dim,
             family="reduce",
             doc="Max along a dim: (values, indices). The gradient goes to the returned index.")
min_dim = Op("min_dim", infer=_dim_infer, reference=_max_dim_ref("min"), vjp=_max_dim_vjp,
             num_outputs=2, defaults={"dim": None, "keepdim": False}, normalize=_normalize_dim,
             family="reduce",
             doc="Min along a dim: (values, indices). The gradient goes to the returned index.")


def _arg_infer(in_types, dim, keepdim):
    t = in_types[0]
    _refuse_empty(t.shape, None if dim is None else (dim,))
    if dim is None:
        shape = (1,) * t.ndim if keepdim else ()
    else:
        shape = _reduced_shape(t.shape, (dim,), keepdim)
    return [TensorType(shape, int64)]


def _arg_normalize(in_types, attrs):
    if attrs["dim"] is None:
        return attrs
    return _normalize_dim(in_types, attrs)


def _arg_ref(fn):
    def ref(x, dim, keepdim):
        out = fn(x, axis=dim, keepdims=keepdim)
        return np.asarray(out, dtype=np.int64)
    return ref


argmax = Op("argmax", infer=_arg_infer, reference=_arg_ref(np.argmax),
            defaults={"dim": None, "keepdim": False}, normalize=_arg_normalize, family="reduce",
            differentiable=False)
argmin = Op("argmin", infer=_arg_infer, reference=_arg_ref(np.argmin),
            defaults={"dim": None, "keepdim": False}, normalize=_arg_normalize, family="reduce",
            differentiable=False)


# ---- softmax family --------------------------------------------------------------------
def _softmax_infer(in_types, dim):
    _float_or_error(in_types[0].dtype, "softmax")
    return [in_types[0]]


def _softmax_ref(x, dim):
    return special.softmax(x, axis=dim).astype(x.dtype)


def _log_softmax_ref(x, dim):
    return special.log_softmax(x, axis=dim).astype(x.dtype)


def _softmax_vjp(c, g):
    y, dim = c.outputs[0], c.attrs["dim"]
    return [mul(y, sub(g, sum(mul(g, y), dims=(dim,), keepdim=True)))]


def _log_softmax_vjp(c, g):
    y, dim = c.outputs[0], c.attrs["dim"]
    return [sub(g, mul(exp(y), sum(g, dims=(dim,), keepdim=True)))]


softmax = Op("softmax", infer=_softmax_infer, reference=_softmax_ref, vjp=_softmax_vjp,
             defaults={"dim": None}, normalize=_normalize_dim, family="reduce")
log_softmax = Op("log_softmax", infer=_softmax_infer, reference=_log_softmax_ref,
                 vjp=_log_softmax_vjp, defaults={"dim": None}, normalize=_normalize_dim,
                 family="reduce")
softmax.saves = log_softmax.saves = ("outputs",)  # their rules read only the output


# ---- sizes -------------------------------------------------------------------------------
def _shape_prod_infer(in_types, dims, dtype):
    return [TensorType((), dtype)]


shape_prod = Op(
    "shape_prod", infer=_shape_prod_infer,
    reference=lambda x, dims, dtype: np.asarray(np.prod([x.shape[d] for d in dims]), dtype.np),
    defaults={"dims": None, "dtype": float32}, normalize=_normalize_dims, family="shape",
    shape_only_inputs=(0,),
    differentiable=False,  # reads only x's shape: a constant to autodiff
    doc="Product of x's sizes along dims, as a 0-d tensor: a constant once shapes are known.")

