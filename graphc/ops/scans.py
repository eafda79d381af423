"""Scans, sorting and products along a dim: ops that no composite of the others expresses.

These run their NumPy reference in eager mode, on the `reference` target and (on the host)
under `cuda`. The `cpu` target has no lowering for them yet: compiling a graph that holds one
raises UnsupportedError naming the op (docs/ops.md lists them). Their gradient rules are
written with graphc ops (gathers and scatters of the `index` family), so they work in both
modes and can be differentiated again.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..types import TensorType, int64
from . import elementwise as E, reduce as R, shape as S
from .registry import Op, normalize_dim


# ---- helpers: index grids for gathers and scatters along one dim -------------------------------
def like_device(array, x):
    """A constant array placed on x's device: eager CUDA tensors need their operands there
    (index arrays excepted); symbolic values and CPU tensors take the array as it is."""
    if getattr(x, "is_cuda", False) is True:
        return (array if hasattr(array, "to") else type(x)._wrap(np.asarray(array))).to(x.device)
    return array


def host_result(array, like):
    """A result computed on the host from eager tensor `like`, as a tensor on its device."""
    out = type(like)._wrap(np.asarray(array))  # (dtype kept: Tensor(data) is float32)
    return out.to(like.device) if getattr(like, "is_cuda", False) is True else out


def grid(shape, dim, index, op_name):
    """Index arrays selecting x[i0, .., index[..], .., in] (index at `dim`), for S.index at
    axis 0: an arange broadcast along every other dim."""
    if any(not isinstance(d, int) for d in shape):
        raise UnsupportedError(f"{op_name}: needs a known shape, got {list(shape)}")
    ndim = len(shape)
    out = []
    for d in range(ndim):
        if d == dim:
            out.append(index)
        else:
            out.append(np.arange(shape[d], dtype=np.int64).reshape(
                [shape[d] if k == d else 1 for k in range(ndim)]))
    return out


def scatter_add_along(g, like, dim, index, op_name):
    """Zeros shaped like `like`, with g added at like[.., index[..], ..] (index at `dim`)."""
    return S.index_backward(g, like, *grid(tuple(g.shape), dim, index, op_name), axis=0)


def flip_along(x, dim):
    n = x.shape[dim]
    if not isinstance(n, int):
        raise UnsupportedError(f"flip: needs a known size of dim {dim}, got shape {list(x.shape)}")
    return S.index(x, np.arange(n - 1, -1, -1, dtype=np.int64), axis=dim)


def _dim_normalize(in_types, attrs):
    return {**attrs, "dim": normalize_dim(attrs["dim"], in_types[0].ndim)}


def _np_dim(x, dim):
    return dim if x.ndim else None


# ---- cumsum, cumprod ----------------------------------------------------------------------------
def _scan_infer(in_types, dim, **attrs):
    t = in_types[0]
    return [TensorType(t.shape, int64 if not t.dtype.is_floating_point else t.dtype)]


def _cumsum_ref(x, dim):
    out = np.cumsum(x, axis=_np_dim(x, dim)).reshape(x.shape)
    return out.astype(np.int64 if x.dtype.kind in "biu" else x.dtype)


def _cumsum_vjp(c, g):
    d = c.attrs["dim"]
    return [flip_along(cumsum(flip_along(g, d), dim=d), d) if g.ndim else g]


cumsum = Op("cumsum", infer=_scan_infer, reference=_cumsum_ref, vjp=_cumsum_vjp,
            defaults={"dim": 0}, normalize=_dim_normalize, family="scan", saves=(),
            doc="Running sum along `dim` (integers accumulate in int64, as PyTorch).")


def _cumprod_ref(x, dim):
    out = np.cumprod(x, axis=_np_dim(x, dim)).reshape(x.shape)
    return out.astype(np.int64 if x.dtype.kind in "biu" else x.dtype)


def _cumprod_vjp(c, g):
    """Exact also where x has zeros: d y_j / d x_i = prod_{k <= j, k != i} x_k, built as the
    running products of n copies of x with x_i replaced by 1 (O(n^2) memory along `dim`)."""
    x, d = c.inputs[0], c.attrs["dim"]
    if x.ndim == 0:
        return [g]
    n = x.shape[d]
    if not isinstance(n, int):
        raise UnsupportedError(f"cumprod: the gradient needs a known size of dim {d}")
    last = x.ndim - 1
    order = tuple(k for k in range(x.ndim) if k != d) + (d,)
    back = tuple(np.argsort(order))
    xm, gm = S.permute(x, dims=order), S.permute(g, dims=order)
    rows = E.where(like_device(np.eye(n, dtype=bool), x), 1,
                   S.unsqueeze(xm, dims=(last,)))                          # [..., i, k]
    partial = cumprod(rows, dim=last + 1)                                  # [..., i, j]
    upper = like_device(np.triu(np.ones((n, n), dtype=bool)), x)          # j >= i
    terms = E.where(upper, E.mul(partial, S.unsqueeze(gm, dims=(last,))), 0)
    return [S.permute(R.sum(terms, dims=(last + 1,), keepdim=False), dims=back)]


cumprod = Op("cumprod", infer=_scan_infer, reference=_cumprod_ref, vjp=_cumprod_vjp,
             defaults={"dim": 0}, normalize=_dim_normalize, family="scan", saves=("inputs",),
             doc="Running product along `dim`.")


# ---- cummax, cummin: (values, indices) ---------------------------------------------------------
def _cumext_infer(in_types, dim, **attrs):
    t = in_types[0]
    return [t, TensorType(t.shape, int64)]


def _cumext_ref(which):
    better = np.greater_equal if which == "max" else np.less_equal

    def ref(x, dim):
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        xs = np.moveaxis(x, dim, -1)
        vals, idx = np.empty_like(xs), np.zeros(xs.shape, np.int64)
        vals[..., 0] = xs[..., 0]
        for j in range(1, xs.shape[-1]):  # PyTorch: the last index of an equal value (and nan wins)
            take = better(xs[..., j], vals[..., j - 1]) | np.isnan(xs[..., j])
            take &= ~np.isnan(vals[..., j - 1]) | np.isnan(xs[..., j])
            vals[..., j] = np.where(take, xs[..., j], vals[..., j - 1])
            idx[..., j] = np.where(take, j, idx[..., j - 1])
        return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)
    return ref


def _cumext_vjp(c, g, _g_indices=None):
    x, d = c.inputs[0], c.attrs["dim"]
    if x.ndim == 0:
        return [g]
    return [scatter_add_along(g, x, d, c.outputs[1], "cummax/cummin")]


cummax = Op("cummax", infer=_cumext_infer, reference=_cumext_ref("max"), vjp=_cumext_vjp,
            num_outputs=2, defaults={"dim": 0}, normalize=_dim_normalize, family="scan",
            saves=("outputs",), doc="Running maximum along `dim` and where it was found.")
cummin = Op("cummin", infer=_cumext_infer, reference=_cumext_ref("min"), vjp=_cumext_vjp,
            num_outputs=2, defaults={"dim": 0}, normalize=_dim_normalize, family="scan",
            saves=("outputs",), doc="Running minimum along `dim` and where it was found.")


# ---- sort: (values, indices) ----------------------------------------------------------------------
def _sort_ref(x, dim, descending):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    # stable in both directions; nan sorts as the largest value, as in PyTorch
    key = x
    if descending:  # a stable ascending sort of a reversed key (~ reverses ints and bools)
        key = np.where(np.isnan(x), -np.inf, -x) if x.dtype.kind == "f" else ~x
    idx = np.argsort(key, axis=dim, kind="stable")
    if descending and x.dtype.kind == "f":  # nan first, then the rest in descending order
        nan_first = np.argsort(~np.isnan(np.take_along_axis(x, idx, dim)), axis=dim, kind="stable")
        idx = np.take_along_axis(idx, nan_first, dim)
    return np.take_along_axis(x, idx, dim), idx.astype(np.int64)


def _sort_vjp(c, g, _g_indices=None):
    x, d = c.inputs[0], c.attrs["dim"]
    if x.ndim == 0:
        return [g]
    return [scatter_add_along(g, x, d, c.outputs[1], "sort")]


sort = Op("sort", infer=_cumext_infer, reference=_sort_ref, vjp=_sort_vjp, num_outputs=2,
          defaults={"dim": -1, "descending": False}, normalize=_dim_normalize, family="sort",
          saves=("outputs",), doc="Stable sort along `dim`: (values, indices).")


# ---- prod ----------------------------------------------------------------------------------------
def _prod_infer(in_types, dims, keepdim):
    t = in_types[0]
    dt = int64 if not t.dtype.is_floating_point else t.dtype
    return [TensorType(R._reduced_shape(t.shape, dims, keepdim), dt)]


def _prod_ref(x, dims, keepdim):
    dt = np.int64 if x.dtype.kind in "biu" else x.dtype
    return np.asarray(np.prod(x, axis=dims, keepdims=keepdim, dtype=dt))


def _prod_vjp(c, g):
    """g * (product of the others): y / x where x != 0; where x is the only zero of its
    slice, the product of the nonzero others; else 0. Written with prod itself."""
    x, y = c.inputs[0], c.outputs[0]
    dims = c.attrs["dims"]
    if not c.attrs["keepdim"]:
        g, y = R._keep(g, c, dims), R._keep(y, c, dims)
    zero = E.eq(x, 0)
    safe = E.where(zero, 1, x)
    others_of_zero = prod(safe, dims=dims, keepdim=True)
    zeros = R.sum(E.cast(zero, dtype=int64), dims=dims, keepdim=True)
    others = E.where(zero, E.where(E.eq(zeros, 1), others_of_zero, 0), E.div(y, safe))
    return [E.mul(g, others)]


prod = Op("prod", infer=_prod_infer, reference=_prod_ref, vjp=_prod_vjp,
          defaults={"dims": None, "keepdim": False}, normalize=R._normalize_dims, family="reduce",
          doc="Product over `dims` (integers in int64, as PyTorch).")

# ---- scatter_reduce with amax / amin ------------------------------------------------------------
def _np_places(index, dim):
    """NumPy index tuple for x[.., index[..], ..] (index at dim), broadcast like `grid`."""
    return tuple(index if d == dim else np.arange(n).reshape(
        [n if k == d else 1 for k in range(index.ndim)]) for d, n in enumerate(index.shape))


def _scatter_extreme_ref(x, index, src, dim, reduce, include_self):
    out = x.copy()
    places = _np_places(index, dim)
    if not include_self:
        big = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
        out[places] = -big if reduce == "amax" else big
    (np.maximum if reduce == "amax" else np.minimum).at(out, places, src)
    return out


def _scatter_extreme_infer(in_types, dim, reduce, include_self):
    x, index, src = in_types
    if not index.dtype.is_integer:
        raise TypeError(f"index must be integers, got {index.dtype.name}")
    if tuple(index.shape) != tuple(src.shape) or index.ndim != x.ndim:
        raise ValueError(f"index {list(index.shape)} and src {list(src.shape)} must have one "
                         f"shape, with as many dims as input {list(x.shape)}")
    return [x]


def _scatter_extreme_vjp(c, g):
    """PyTorch's rule: the gradient of each result is shared evenly among the values equal
    to it (input included when include_self)."""
    x, index, src = c.inputs
    y, d = c.outputs[0], c.attrs["dim"]
    places = grid(tuple(index.shape), d, index, "scatter_reduce")
    src_hit = E.cast(E.eq(src, S.index(y, *places, axis=0)), dtype=g.dtype)
    count = S.index_backward(src_hit, y, *places, axis=0)
    if c.attrs["include_self"]:
        self_hit = E.cast(E.eq(x, y), dtype=g.dtype)
        count = E.add(count, self_hit)
        g_self = E.div(E.mul(g, self_hit), count)
    else:
        scattered = S.index_backward(E.full_like(src_hit, value=1), y, *places, axis=0)
        g_self = E.where(E.gt(scattered, 0), 0, g)
    share = E.div(g, E.maximum(count, 1))
    return [g_self, None, E.mul(S.index(share, *places, axis=0), src_hit)]


scatter_extreme = Op("scatter_reduce_extreme", infer=_scatter_extreme_infer,
                     reference=_scatter_extreme_ref, vjp=_scatter_extreme_vjp, num_inputs=3,
                     defaults={"dim": 0, "reduce": "amax", "include_self": True},
                     normalize=_dim_normalize, family="scatter",
                     doc="scatter_reduce with 'amax' or 'amin': input with the extreme of "
                         "itself (if include_self) and the sources scattered to each place.")

__all__ = ["like_device", "host_result", "scatter_extreme", "cumsum", "cumprod", "cummax", "cummin", "sort", "prod", "grid", "scatter_add_along",
           "flip_along"]
