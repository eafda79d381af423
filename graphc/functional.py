"""The public functions (PyTorch names and signatures) over graphc's ops.

Each works on eager tensors and on symbolic values alike: the op's dispatcher decides.
Composite functions (std, stack, flatten, ...) are written here once with primitive ops.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .errors import UnsupportedError
from .ops import elementwise as E, linalg as L, reduce as R, shape as S
from .pointwise import div, divide, true_divide  # div(rounding_mode=) lives with the rounding ops
from .types import as_dtype, promote_types

# elementwise ops that need no argument translation
neg, abs, sign, exp, log, log1p = E.neg, E.abs, E.sign, E.exp, E.log, E.log1p
sqrt, rsqrt, square, sin, cos, tanh, sigmoid = E.sqrt, E.rsqrt, E.square, E.sin, E.cos, E.tanh, E.sigmoid
relu, erf, detach = E.relu, E.erf, E.detach
mul, maximum, minimum, where = E.mul, E.maximum, E.minimum, E.where
eq, ne, lt, le, gt, ge = E.eq, E.ne, E.lt, E.le, E.gt, E.ge
logical_and, logical_or, logical_not = E.logical_and, E.logical_or, E.logical_not
matmul, inverse = L.matmul, L.inverse
multiply, negative = mul, neg
greater, less = gt, lt


def add(input, other, *, alpha=1):
    return E.add(input, other if alpha == 1 else E.mul(other, alpha))


def sub(input, other, *, alpha=1):
    return E.sub(input, other if alpha == 1 else E.mul(other, alpha))


subtract = sub


def pow(input, exponent):
    return E.pow(input, exponent)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if hasattr(min, "shape") or hasattr(max, "shape"):
        return _clamp_by_tensors(input, min, max)
    return E.clamp(input, min=min, max=max)


def _clamp_by_tensors(x, lo, hi):
    """clamp with tensor bounds (broadcast, differentiable in the bounds): PyTorch's values
    (hi wins where lo > hi) and gradients (x's where lo <= x <= hi, a bound's where it
    clamps)."""
    if lo is not None:
        x = E.where(E.lt(x, lo), lo, x)
    if hi is not None:
        x = E.where(E.gt(x, hi), hi, x)
    return x


clip = clamp


def leaky_relu(input, negative_slope=0.01):
    return E.leaky_relu(input, negative_slope=float(negative_slope))


def elu(input, alpha=1.0):
    return E.elu(input, alpha=float(alpha))


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return E.gelu(input, approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    return E.softplus(input, beta=float(beta), threshold=float(threshold))


def cast(input, dtype):
    dtype = as_dtype(dtype)
    return input if input.dtype is dtype else E.cast(input, dtype=dtype)


def full_like(input, fill_value, *, dtype=None):
    return E.full_like(input, value=fill_value, dtype=None if dtype is None else as_dtype(dtype))


def zeros_like(input, *, dtype=None):
    return full_like(input, 0, dtype=dtype)


def ones_like(input, *, dtype=None):
    return full_like(input, 1, dtype=dtype)


# ---- reductions -------------------------------------------------------------------------------
def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = cast(input, dtype)
    if dim is None and keepdim is False:  # the op's defaults: no attributes to key on
        return R.sum(input)
    return R.sum(input, dims=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = cast(input, dtype)
    if dim is None and keepdim is False:  # (a loss's mean: ~0.5 µs less a call)
        return R.mean(input)
    return R.mean(input, dims=dim, keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return R.var(input, dims=dim, keepdim=keepdim, correction=_correction(unbiased, correction))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _extreme(full, along, elementwise_op, input, dim, keepdim):
    if dim is None:
        return full(input)
    if not isinstance(dim, (int, np.integer)):  # torch.max(a, b)
        return elementwise_op(input, dim)
    return MaxResult(*along(input, dim=int(dim), keepdim=keepdim))


def max(input, dim=None, keepdim=False):
    """max(x) -> 0-d; max(x, dim) -> (values, indices); max(x, y) -> elementwise."""
    return _extreme(R.amax, R.max_dim, E.maximum, input, dim, keepdim)


def min(input, dim=None, keepdim=False):
    return _extreme(R.amin, R.min_dim, E.minimum, input, dim, keepdim)


def amax(input, dim=None, keepdim=False):
    return R.amax(input, dims=dim, keepdim=keepdim)


def amin(input, dim=None, keepdim=False):
    return R.amin(input, dims=dim, keepdim=keepdim)


def argmax(input, dim=None, keepdim=False):
    return R.argmax(input, dim=dim, keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    return R.argmin(input, dim=dim, keepdim=keepdim)


def logsumexp(input, dim, keepdim=False):
    return R.logsumexp(input, dims=dim, keepdim=keepdim)


def softmax(input, dim, dtype=None):
    return R.softmax(input if dtype is None else cast(input, dtype), dim=dim)


def log_softmax(input, dim, dtype=None):
    return R.log_softmax(input if dtype is None else cast(input, dtype), dim=dim)


# ---- linear algebra ------------------------------------------------------------------------------
def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expects 2-D inputs, got shapes {list(input.shape)} and "
                         f"{list(mat2.shape)}")
    return L.matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: expects 3-D inputs, got shapes {list(input.shape)} and "
                         f"{list(mat2.shape)}")
    return L.matmul(input, mat2)


def permute(input, *dims):
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return S.permute(input, dims=tuple(dims))


def transpose(input, dim0, dim1):
    order = list(range(input.ndim))
    d0, d1 = dim0 % builtins.max(input.ndim, 1), dim1 % builtins.max(input.ndim, 1)
    order[d0], order[d1] = order[d1], order[d0]
    return S.permute(input, dims=tuple(order))


swapaxes = transpose


def t(input):
    if input.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dims, got {input.ndim}")
    return input if input.ndim < 2 else transpose(input, 0, 1)


# ---- shapes ----------------------------------------------------------------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(d) if d is not None else -1 for d in shape)


def reshape(input, *shape):
    return S.reshape(input, shape=_shape_arg(shape))


def flatten(input, start_dim=0, end_dim=-1):
    n = input.ndim
    if n == 0:
        return reshape(input, (1,))
    s, e = start_dim % n, end_dim % n
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = 1
    for d in input.shape[s:e + 1]:
        merged = merged * d if isinstance(d, int) and merged is not None else None
    shape = [d if isinstance(d, int) else None for d in input.shape[:s]]
    shape += [merged] + [d if isinstance(d, int) else None for d in input.shape[e + 1:]]
    if builtins.sum(d is None for d in shape) > 1:
        raise UnsupportedError(f"flatten: shape {list(input.shape)} has too many symbolic dims "
                               f"to flatten dims {s}..{e}")
    return S.reshape(input, shape=tuple(-1 if d is None else d for d in shape))


def squeeze(input, dim=None):
    return S.squeeze(input, dims=dim)


def unsqueeze(input, dim):
    return S.unsqueeze(input, dims=dim)


def broadcast_to(input, shape):
    return S.broadcast_to(input, shape=tuple(shape))


def cat(tensors, dim=0):
    """Concatenate; mixed dtypes are promoted first, as in PyTorch."""
    tensors = list(tensors)
    dtypes = [as_dtype(np.asarray(t).dtype if isinstance(t, (np.ndarray, np.generic))
                       else t.dtype) for t in tensors]  # (arrays join as constants)
    if len(set(dtypes)) > 1:
        dt = promote_types(dtypes, [False] * len(dtypes))
        tensors = [t if d is dt else E.cast(t, dtype=dt) for t, d in zip(tensors, dtypes)]
    return S.cat(*tensors, dim=dim)


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expects a non-empty list of tensors")
    d = dim % (tensors[0].ndim + 1)
    return S.cat(*[S.unsqueeze(x, dims=d) for x in tensors], dim=d)


def pad(input, pad, mode="constant", value=0.0):
    if mode != "constant":
        raise UnsupportedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    return S.pad(input, pad=tuple(pad), value=0.0 if value is None else value)


def split(input, split_size_or_sections, dim=0):
    size = input.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (size // split_size_or_sections)
        if size % split_size_or_sections:
            sizes.append(size % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
    out, start = [], 0
    d = dim % input.ndim
    for n in sizes:
        out.append(S.slice(input, index=(("slice", None, None, None),) * d
                           + (("slice", start, start + n, 1),)))
        start += n
    return tuple(out)


def chunk(input, chunks, dim=0):
    size = input.shape[dim]
    return split(input, -(-size // chunks), dim)


# ---- indexing -------------------------------------------------------------------------------------
def _is_index_array(k):
    return (hasattr(k, "shape") and hasattr(k, "dtype") and not isinstance(k, (int, np.integer))) \
        or isinstance(k, (list, np.ndarray))


def getitem(x, key):
    """x[key]: basic slicing, integer arrays on consecutive dims, boolean masks."""
    from .ir.graph import Value
    key = key if isinstance(key, tuple) else (key,)
    # a single boolean mask -> integer arrays (eagerly: data-dependent shapes need values)
    if len(key) == 1 and _is_index_array(key[0]):
        mask = key[0]
        dt = getattr(mask, "dtype", None)
        is_bool = (np.asarray(mask).dtype == bool) if isinstance(mask, (list, np.ndarray)) \
            else getattr(dt, "is_bool", False)
        if is_bool:
            if isinstance(mask, Value):
                raise UnsupportedError(
                    "boolean mask indexing of a symbolic value has a data-dependent shape; "
                    "use graphc.where(mask, x, 0) or index with integer arrays")
            nz = np.nonzero(np.asarray(mask))
            return S.index(x, *[np.asarray(a, np.int64) for a in nz], axis=0)
    # expand Ellipsis
    n_used = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in [k for k in key if not _is_index_array(k)]:
        i = [j for j, k in enumerate(key) if k is Ellipsis and not _is_index_array(k)][0]
        key = key[:i] + (builtins.slice(None),) * (x.ndim - n_used) + key[i + 1:]
    basic, arrays, out_dim = [], [], 0
    for k in key:
        if _is_index_array(k):
            arrays.append((out_dim, k))
            basic.append(("slice", None, None, None))
            out_dim += 1
        elif k is None:
            basic.append(("new",))
            out_dim += 1
        elif isinstance(k, builtins.slice):
            basic.append(("slice", _int_or_none(k.start), _int_or_none(k.stop), _int_or_none(k.step)))
            out_dim += 1
        elif isinstance(k, (int, np.integer)):
            basic.append(("int", int(k)))
        else:
            raise IndexError(f"unsupported index {k!r} of type {type(k).__name__}")
    trivial = builtins.all(e == ("slice", None, None, None) for e in basic)
    out = x if trivial else S.slice(x, index=tuple(basic))
    if not arrays:
        return out
    axes = [a for a, _ in arrays]
    if axes != list(range(axes[0], axes[0] + len(axes))):
        raise UnsupportedError("integer array indices must be on consecutive dims")
    idx = [k if hasattr(k, "dtype") and not isinstance(k, np.ndarray) else np.asarray(k, np.int64)
           for _, k in arrays]
    return S.index(out, *idx, axis=axes[0])


def _int_or_none(v):
    return None if v is None else int(v)
