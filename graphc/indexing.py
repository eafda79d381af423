"""Shape and indexing functions with PyTorch's names (torch.gather ... torch.cartesian_prod).

All are composites: gathers are the `index` op with arange grids (its gradient, the
`index_backward` scatter-add, comes with it), scatters are `index_backward`, flips and rolls
are gathers with constant indices, stacking is `cat`. So they run in both modes and on every
target. Shapes must be known where an index grid is built (UnsupportedError otherwise).
Functions whose result size depends on the values (nonzero, masked_select) are eager only.
"""
from __future__ import annotations

import builtins

import numpy as np

from .errors import ShapeError, UnsupportedError, op_error
from .functional import cat, reshape, split, stack, transpose
from .ops import elementwise as E, reduce as R, scans as SC, shape as S
from .types import bool_, promote_types


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
        return SC.scatter_extreme(input, idx, E.cast(src, dtype=input.dtype), dim=dim, reduce=reduce,
                                  include_self=bool(include_self))
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


# ---- flips, rolls, triangles, diagonals ---------------------------------------------------------
def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else dims
    for d in dims:
        input = SC.flip_along(input, _dim(d, input.ndim))
    return input


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    if dims is None:
        return reshape(roll(reshape(input, -1), shifts, 0), *input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise op_error(ValueError, "roll", f"shifts {shifts} and dims {dims} must align")
    for s, d in zip(shifts, dims):
        d = _dim(d, input.ndim)
        n = input.shape[d]
        input = S.index(input, (np.arange(n, dtype=np.int64) - s) % n, axis=d)
    return input


def rot90(input, k=1, dims=(0, 1)):
    d0, d1 = dims
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(transpose(input, d0, d1), (d1,))
    return E.mul(input, 1)


def _tri(input, diagonal, lower):
    rows, cols = _known(input, "tril" if lower else "triu")[-2:]
    mask = np.tri(rows, cols, diagonal, dtype=bool) if lower else \
        ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    return E.where(SC.like_device(mask, input), input, 0)


def tril(input, diagonal=0):
    return _tri(input, diagonal, True)


def triu(input, diagonal=0):
    return _tri(input, diagonal, False)


def _diag_places(n, offset):
    rows = np.arange(n, dtype=np.int64) + builtins.max(-offset, 0)
    return rows, rows + offset


def diagonal(input, offset=0, dim1=0, dim2=1):
    d1, d2 = _dim(dim1, input.ndim), _dim(dim2, input.ndim)
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    x = S.permute(input, dims=tuple(rest + [d1, d2]))
    r, c = x.shape[-2:]
    n = builtins.max(0, builtins.min(r, c - offset) if offset >= 0 else builtins.min(r + offset, c))
    rows, cols = _diag_places(n, offset)
    return S.index(x, rows, cols, axis=len(rest))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    if (dim1 % (input.ndim + 1), dim2 % (input.ndim + 1)) != (input.ndim - 1, input.ndim):
        raise UnsupportedError("diag_embed: only the default dim1=-2, dim2=-1 is supported")
    n = input.shape[-1]
    m = n + builtins.abs(offset)
    like = SC.like_device(np.zeros(tuple(input.shape[:-1]) + (m, m), input.dtype.np), input)
    rows, cols = _diag_places(n, offset)
    return S.index_backward(input, like, rows, cols, axis=input.ndim - 1)


def diag(input, diagonal=0):
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise ValueError(f"diag: expects a 1-D or 2-D tensor, got {input.ndim} dims")


def trace(input):
    return R.sum(diagonal(input), dims=None)


# ---- repeating, tiling, moving dims ------------------------------------------------------------
def repeat(input, *sizes):
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < input.ndim:
        raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of {input.ndim} dims")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    x = reshape(input, *[v for d in shape for v in (1, d)])
    x = S.broadcast_to(x, shape=tuple(v for r, d in zip(sizes, shape) for v in (r, d)))
    return reshape(x, *[r * d for r, d in zip(sizes, shape)])


def tile(input, dims):
    dims = tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    if dim is None:
        input, dim = reshape(input, -1), 0
    d = _dim(dim, input.ndim)
    n = input.shape[d]
    counts = repeats if isinstance(repeats, int) else _values("repeat_interleave", repeats)
    return S.index(input, np.repeat(np.arange(n, dtype=np.int64), counts), axis=d)


def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise op_error(ValueError, "movedim", f"source {source} and destination {destination} "
                                              f"must have the same number of dims")
    src = [_dim(s, input.ndim) for s in src]
    dst = [_dim(s, input.ndim) for s in dst]
    order = [d for d in range(input.ndim) if d not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return S.permute(input, dims=tuple(order))


moveaxis = movedim


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def unbind(input, dim=0):
    return tuple(select(input, dim, i) for i in range(input.shape[dim]))


def unflatten(input, dim, sizes):
    d = _dim(dim, input.ndim)
    return reshape(input, *(tuple(input.shape[:d]) + tuple(sizes) + tuple(input.shape[d + 1:])))


def tensor_split(input, indices_or_sections, dim=0):
    d = _dim(dim, input.ndim)
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    else:
        bounds = [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections]
        edges = [0] + bounds + [n]
        sizes = [builtins.max(b - a, 0) for a, b in zip(edges, edges[1:])]
    return split(input, sizes, d)


# ---- stacking ---------------------------------------------------------------------------------
def _promoted(tensors):
    dt = promote_types([t.dtype for t in tensors], [False] * len(tensors))
    return [t if t.dtype is dt else E.cast(t, dtype=dt) for t in tensors]


def atleast_1d(*tensors):
    out = [reshape(t, 1) if t.ndim == 0 else t for t in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    out = [reshape(t, 1, 1) if t.ndim == 0 else S.unsqueeze(t, dims=(0,)) if t.ndim == 1 else t
           for t in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    def lift(t):
        if t.ndim == 0:
            return reshape(t, 1, 1, 1)
        if t.ndim == 1:
            return reshape(t, 1, t.shape[0], 1)
        return S.unsqueeze(t, dims=(2,)) if t.ndim == 2 else t
    out = [lift(t) for t in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _flat(tensors):
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)


def vstack(tensors):
    return cat(_promoted([atleast_2d(t) for t in tensors]), 0)


row_stack = vstack


def hstack(tensors):
    ts = _promoted([atleast_1d(t) for t in tensors])
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def dstack(tensors):
    return cat(_promoted([atleast_3d(t) for t in tensors]), 2)


def column_stack(tensors):
    ts = [reshape(t, -1, 1) if t.ndim <= 1 else t for t in tensors]
    return cat(_promoted(ts), 1)


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t if tuple(t.shape) == shape else S.broadcast_to(t, shape=shape) for t in tensors)


def broadcast_shapes(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def meshgrid(*tensors, indexing="ij"):
    ts = _flat(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts = [ts[1], ts[0]] + ts[2:]
    n = len(ts)
    shape = tuple(t.shape[0] for t in ts)
    out = [S.broadcast_to(reshape(t, *[-1 if k == i else 1 for k in range(n)]), shape=shape)
           for i, t in enumerate(ts)]
    if swap:  # the grid of (b, a, ...) has xy's shape; only the outputs trade places
        out = [out[1], out[0]] + out[2:]
    return tuple(out)


def cartesian_prod(*tensors):
    ts = _flat(tensors)
    if len(ts) == 1:
        return ts[0]
    return stack([reshape(g, -1) for g in meshgrid(*ts, indexing="ij")], 1)


def block_diag(*tensors):
    ts = _promoted([reshape(t, 1, -1) if t.ndim <= 1 and t.ndim == 1 else
                    reshape(t, 1, 1) if t.ndim == 0 else t for t in tensors])
    width = builtins.sum(t.shape[1] for t in ts)
    rows, left = [], 0
    for t in ts:
        right = width - left - t.shape[1]
        rows.append(S.pad(t, pad=(left, right), value=0.0))
        left += t.shape[1]
    return cat(rows, 0)


def _triangle_indices(row, col, offset, lower, dtype, device):
    from .eager.creation import tensor
    mask = np.tri(row, col, offset, dtype=bool) if lower else ~np.tri(row, col, offset - 1, dtype=bool)
    return tensor(np.stack(np.nonzero(mask)), dtype=dtype or "int64", device=device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    return _triangle_indices(row, col, offset, True, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    return _triangle_indices(row, col, offset, False, dtype, device)


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "builtins", "np", "E", "R", "S", "SC", "UnsupportedError", "cat", "reshape",
    "split", "stack", "transpose", "bool_", "promote_types")]
