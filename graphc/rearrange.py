"""Rearranging functions with PyTorch's names: flips, rolls, triangles, diagonals, repeats,
moving dims, splitting and stacking (torch.flip ... torch.cartesian_prod).

Composites: flips, rolls and diagonals are gathers with constant indices, triangles are
`where` with a constant mask, stacking is `cat`; so they run in both modes and on every
target.
"""
from __future__ import annotations

import builtins

import numpy as np

from .errors import UnsupportedError, op_error
from .functional import cat, reshape, split, stack, transpose
from .indexing import _dim, _known, _values, select
from .ops import elementwise as E, reduce as R, scans as SC, shape as S
from .types import promote_types


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
    "annotations", "builtins", "np", "E", "R", "S", "SC", "UnsupportedError", "op_error", "cat",
    "reshape", "split", "stack", "transpose", "promote_types", "select")]
