"""Indexing functions with PyTorch's names: gathers, scatters, masks, nonzero.

All but scatter_reduce's amax/amin are composites: gathers are the `index` op with arange
grids (its gradient, the `index_backward` scatter-add, comes with it) and scatters are
`index_backward`, so they run in both modes and on every target. Shapes must be known where
an index grid is built (UnsupportedError otherwise). Functions whose result size depends on
the values (nonzero, masked_select, ...) are eager only. Flips, triangles, repeats and
stacking are in graphc/rearrange.py.
"""
from __future__ import annotations

import builtins

import numpy as np

from .errors import ShapeError, UnsupportedError, op_error
from .functional import reshape
from .ops import elementwise as E, scans as SC, shape as S


def _dim(dim, ndim):
    if not -builtins.max(ndim, 1) <= dim < builtins.max(ndim, 1):
        raise IndexError(f"dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % builtins.max(ndim, 1)


def _known(x, name):
    if any(not isinstance(d, int) for d in x.shape):
        raise UnsupportedError(f"{name}: needs a known shape, got {list(x.shape)}")
    return tuple(x.shape)


def _index_array(index):
    """An index argument as something S.index takes: a tensor/value, or an int64 array."""
    if hasattr(index, "shape") and hasattr(index, "dtype") and not isinstance(index, np.ndarray):
        return index
    return np.asarray(index, dtype=np.int64)


# ---- gathers ------------------------------------------------------------------------------------
def gather(input, dim, index, *, sparse_grad=False):
    d = _dim(dim, input.ndim)
    if input.ndim == 0:
        return S.index(S.reshape(input, shape=(1,)), S.reshape(_index_array(index), shape=()), axis=0)
    idx = _index_array(index)
    _same_ndim("gather", input, idx)
    return S.index(input, *SC.grid(_known(idx, "gather"), d, idx, "gather"), axis=0)


def _same_ndim(name, input, index):
    if index.ndim != input.ndim:
        raise op_error(ShapeError, name, f"index must have as many dims as input: index "
                                         f"{list(index.shape)}, input {list(input.shape)}")
    for d, (a, b) in enumerate(zip(index.shape, input.shape)):
        if isinstance(a, int) and isinstance(b, int) and a > b:
            raise op_error(ShapeError, name, f"index {list(index.shape)} is larger than input "
                                             f"{list(input.shape)} in dim {d}")


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices)
    d = _dim(dim, input.ndim)
    idx = _index_array(indices)
    shape = [builtins.max(a, b) if i != d else b
             for i, (a, b) in enumerate(zip(input.shape, idx.shape))]
    x_shape = list(shape)
    x_shape[d] = input.shape[d]
    return gather(S.broadcast_to(input, shape=tuple(x_shape)) if tuple(x_shape) != tuple(input.shape)
                  else input, d, S.broadcast_to(idx, shape=tuple(shape))
                  if tuple(shape) != tuple(idx.shape) else idx)


def index_select(input, dim, index):
    if np.ndim(index) > 1 if not hasattr(index, "ndim") else index.ndim > 1:
        raise op_error(ShapeError, "index_select", f"index must be 0-D or 1-D, got shape "
                                                   f"{list(np.shape(index))}")
    return S.index(input, _index_array(index), axis=_dim(dim, input.ndim))


def take(input, index):
    return S.index(reshape(input, -1), _index_array(index), axis=0)


def masked_fill(input, mask, value):
    return E.where(mask, value, input)


def select(input, dim, index):
    d = _dim(dim, input.ndim)
    return S.slice(input, index=(("slice", None, None, None),) * d + (("int", int(index)),))


def narrow(input, dim, start, length):
    d = _dim(dim, input.ndim)
    start = int(start) % input.shape[d] if int(start) < 0 else int(start)
    if isinstance(input.shape[d], int) and (length < 0 or start + int(length) > input.shape[d]):
        raise op_error(ShapeError, "narrow", f"start ({start}) + length ({length}) exceeds "
                                             f"dim {d} of size {input.shape[d]}")
    return S.slice(input, index=(("slice", None, None, None),) * d
                   + (("slice", start, start + int(length), 1),))


# ---- scatters -----------------------------------------------------------------------------------
def _crop(src, shape):
    if tuple(src.shape) == tuple(shape):
        return src
    return S.slice(src, index=tuple(("slice", 0, n, 1) for n in shape))


def _scattered(input, dim, index, src, name):
    """Zeros like input with src (cropped to index's shape) added at the gathered places."""
    d = _dim(dim, input.ndim)
    idx = _index_array(index)
    _same_ndim(name, input, idx)
    shape = _known(idx, name)
    if not hasattr(src, "shape"):
        src = E.full_like(idx, value=src, dtype=input.dtype)
    return SC.scatter_add_along(E.cast(_crop(src, shape), dtype=input.dtype), input, d, idx, name)


def _hit(input, dim, index, name):
    idx = _index_array(index)
    return E.gt(_scattered(input, dim, idx, E.full_like(idx, value=1, dtype=input.dtype), name), 0)


def scatter_add(input, dim, index, src):
    return E.add(input, _scattered(input, dim, index, src, "scatter_add"))


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """input with src written at the indexed places. Where an index repeats, PyTorch leaves
    the result undefined; here repeated places receive the sum of their sources."""
    src = value if src is None else src
    if reduce == "add":
        return scatter_add(input, dim, index, src)
    if reduce == "multiply":
        raise UnsupportedError("scatter: reduce='multiply' is not supported")
    if reduce is not None:
        raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    return E.where(_hit(input, dim, index, "scatter"), _scattered(input, dim, index, src, "scatter"),
                   input)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce == "sum":
        out = _scattered(input, dim, index, src, "scatter_reduce")
        return E.add(input, out) if include_self else E.where(_hit(input, dim, index, "scatter_reduce"),
                                                              out, input)
    if reduce == "mean":
        total = _scattered(input, dim, index, src, "scatter_reduce")
        count = _scattered(input, dim, index, 1, "scatter_reduce")
        if include_self:
            total, count = E.add(total, input), E.add(count, 1)
        return E.where(E.gt(count, 0), E.div(total, E.maximum(count, 1)), input) \
            if input.dtype.is_floating_point else E.where(
                E.gt(count, 0), E.floor_divide(total, E.maximum(count, 1)), input)
    if reduce in ("amax", "amin"):
        idx = _index_array(index)
        _same_ndim("scatter_reduce", input, idx)
        return SC.scatter_extreme(input, SC.like_device(idx, input), E.cast(src, dtype=input.dtype),
                                  dim=dim, reduce=reduce, include_self=bool(include_self))
    raise UnsupportedError(f"scatter_reduce: reduce={reduce!r} is not supported (only 'sum', "
                           f"'mean', 'amax' and 'amin')")


def _along(input, dim, index, source, name):
    """source placed at index (1-D) along dim, zeros elsewhere."""
    d = _dim(dim, input.ndim)
    return S.index_backward(E.cast(source, dtype=input.dtype), input, _index_array(index), axis=d)


def index_add(input, dim, index, source, *, alpha=1):
    placed = _along(input, dim, index, source, "index_add")
    return E.add(input, placed if alpha == 1 else E.mul(placed, alpha))


def _index_hit(input, dim, index):
    d = _dim(dim, input.ndim)
    picked = S.index(input, _index_array(index), axis=d)
    return E.gt(_along(input, dim, index, E.full_like(picked, value=1), "index_fill"), 0)


def index_fill(input, dim, index, value):
    return E.where(_index_hit(input, dim, index), value, input)


def index_copy(input, dim, index, source):
    """Repeated indices: PyTorch leaves the result undefined; here they sum."""
    return E.where(_index_hit(input, dim, index), _along(input, dim, index, source, "index_copy"),
                   input)


# ---- value-dependent sizes: eager only --------------------------------------------------------
def _values(name, x):
    from .ir.graph import Value
    if isinstance(x, Value):
        raise UnsupportedError(f"{name}: the result's size depends on the values, which a "
                               f"symbolic value does not have; call it in eager mode")
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def nonzero(input, *, as_tuple=False):
    nz = np.nonzero(np.atleast_1d(_values("nonzero", input)))
    if as_tuple:
        return tuple(SC.host_result(a.astype(np.int64), input) for a in nz)
    return SC.host_result(np.stack(nz, 1).astype(np.int64).reshape(-1, builtins.max(input.ndim, 1)),
                          input)


def argwhere(input):
    return nonzero(input)


def where(condition, input=None, other=None):
    """where(cond, a, b) elementwise; where(cond) is nonzero(cond, as_tuple=True)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return E.where(condition, input, other)


def masked_select(input, mask):
    m = _values("masked_select", mask).astype(bool)
    shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    x = input if tuple(input.shape) == shape else S.broadcast_to(input, shape=shape)
    return S.index(reshape(x, -1), np.flatnonzero(np.broadcast_to(m, shape)).astype(np.int64))


def masked_scatter(input, mask, source):
    m = np.broadcast_to(_values("masked_scatter", mask).astype(bool), tuple(input.shape))
    where_ = np.flatnonzero(m).astype(np.int64)
    taken = S.index(reshape(source, -1), np.arange(len(where_), dtype=np.int64))
    placed = S.index_backward(taken, reshape(input, -1), where_, axis=0)
    return E.where(SC.like_device(m, input), reshape(placed, *input.shape), input)


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "builtins", "np", "E", "S", "SC", "ShapeError", "UnsupportedError", "op_error",
    "reshape")]
