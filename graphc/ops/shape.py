"""Shape ops: reshape, squeeze/unsqueeze, broadcasting, permute, cat, slicing, indexing, pad.

Dims may be symbolic (None) while a graph is built; rules keep what they can know and leave
the rest to be checked when an executable is specialized to concrete shapes.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..types import TensorType, broadcast_shapes, is_static_dim
from .elementwise import sub
from .registry import Op, View, normalize_dim, normalize_dims


def _view(name, infer, reference, vjp, defaults=None, normalize=None, num_inputs=1,
          writable=True, shape_only_inputs=(), doc=""):
    return Op(name, infer=infer, reference=reference, vjp=vjp, defaults=defaults,
              normalize=normalize, num_inputs=num_inputs, family="view",
              view=View(writable=writable), shape_only_inputs=shape_only_inputs, saves=(),
              doc=doc)


# ---- reshape -------------------------------------------------------------------------------
def _reshape_normalize(in_types, attrs):
    shape = tuple(int(d) if d is not None else -1 for d in attrs["shape"])
    if sum(d == -1 for d in shape) > 1:
        raise ValueError(f"only one dimension can be inferred (-1) in shape {shape}")
    if any(d < -1 for d in shape):
        raise ValueError(f"invalid shape {shape}")
    return {"shape": shape}


def _reshape_infer(in_types, shape):
    src = in_types[0]
    n = src.numel()
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if -1 in shape:
        if n is None:
            fill = None
        elif known == 0 or n % known:
            raise ValueError(f"shape {list(shape)} is invalid for input of size {n} "
                             f"(shape {list(src.shape)})")
        else:
            fill = n // known
        out = tuple(fill if d == -1 else d for d in shape)
    else:
        if n is not None and n != known:
            raise ValueError(f"shape {list(shape)} is invalid for input of size {n} "
                             f"(shape {list(src.shape)})")
        out = shape
    return [TensorType(out, src.dtype)]


def _shape_with_one_unknown(shape, what):
    unknown = [i for i, d in enumerate(shape) if not is_static_dim(d)]
    if len(unknown) > 1:
        from ..errors import UnsupportedError
        raise UnsupportedError(f"{what}: the gradient needs the input shape, but {list(shape)} "
                               f"has more than one symbolic dim")
    return tuple(-1 if not is_static_dim(d) else d for d in shape)


reshape = _view("reshape", _reshape_infer, lambda x, shape: np.reshape(x, shape),
                lambda c, g: [reshape(g, shape=_shape_with_one_unknown(c.inputs[0].shape,
                                                                        "reshape"))],
                defaults={"shape": None}, normalize=_reshape_normalize,
                doc="Reshape (-1 infers one dim). Like torch.reshape/view.")


# ---- squeeze / unsqueeze ----------------------------------------------------------------------
def _squeeze_infer(in_types, dims):
    t = in_types[0]
    for d in dims:
        if is_static_dim(t.shape[d]) and t.shape[d] != 1:
            dims = tuple(x for x in dims if x != d)  # torch: squeezing a non-1 dim is a no-op
    return [TensorType(tuple(s for i, s in enumerate(t.shape) if i not in dims), t.dtype)]


def _squeeze_normalize(in_types, attrs):
    t = in_types[0]
    dims = normalize_dims(attrs["dims"], t.ndim)
    return {"dims": tuple(d for d in dims if not is_static_dim(t.shape[d]) or t.shape[d] == 1)}


squeeze = _view("squeeze", _squeeze_infer, lambda x, dims: np.squeeze(x, axis=dims),
                lambda c, g: [unsqueeze(g, dims=c.attrs["dims"])], defaults={"dims": None},
                normalize=_squeeze_normalize, doc="Remove size-1 dims (all, or those named).")


def _unsqueeze_normalize(in_types, attrs):
    dims = attrs["dims"]
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return {"dims": normalize_dims(dims, in_types[0].ndim + len(dims))}


def _unsqueeze_infer(in_types, dims):
    t = in_types[0]
    shape = list(t.shape)
    for d in dims:
        shape.insert(d, 1)
    return [TensorType(shape, t.dtype)]


unsqueeze = _view("unsqueeze", _unsqueeze_infer, lambda x, dims: np.expand_dims(x, dims),
                  lambda c, g: [squeeze(g, dims=c.attrs["dims"])], defaults={"dims": None},
                  normalize=_unsqueeze_normalize, doc="Insert size-1 dims at the given places.")


# ---- broadcasting -------------------------------------------------------------------------------
def _broadcast_infer(in_types, shape):
    src = in_types[0]
    if len(shape) < src.ndim:
        raise ValueError(f"cannot expand shape {list(src.shape)} to {list(shape)}")
    padded = (1,) * (len(shape) - src.ndim) + src.shape
    for s, d in zip(padded, shape):
        if is_static_dim(s) and is_static_dim(d) and s != 1 and s != d:
            raise ValueError(f"cannot expand shape {list(src.shape)} to {list(shape)}")
    return [TensorType(shape, src.dtype)]


def _broadcast_normalize(in_types, attrs):
    src = in_types[0]
    shape = tuple(attrs["shape"])
    lead = len(shape) - src.ndim
    # -1 keeps the input's size, as in torch.expand
    return {"shape": tuple(src.shape[i - lead] if d == -1 and i >= lead else d
                           for i, d in enumerate(shape))}


broadcast_to = _view("broadcast_to", _broadcast_infer,
                     lambda x, shape: np.broadcast_to(x, shape), lambda c, g: [g],
                     defaults={"shape": None}, normalize=_broadcast_normalize, writable=False,
                     doc="Broadcast to a shape (a read-only view in eager mode).")


def _expand_like_infer(in_types):
    x, like = in_types
    try:
        shape = broadcast_shapes(x.shape, like.shape)
    except ValueError as e:
        raise ValueError(f"cannot expand shape {list(x.shape)} like {list(like.shape)}: {e}")
    if len(shape) != like.ndim:
        raise ValueError(f"cannot expand shape {list(x.shape)} like {list(like.shape)}")
    return [TensorType(like.shape, x.dtype)]


expand_like = _view("expand_like", _expand_like_infer,
                    lambda x, like: np.broadcast_to(x, like.shape), lambda c, g: [g, None],
                    num_inputs=2, writable=False, shape_only_inputs=(1,),
                    doc="Broadcast x to the shape of `like` (whose values are not read).")


# ---- permute ----------------------------------------------------------------------------------------
def _permute_normalize(in_types, attrs):
    n = in_types[0].ndim
    dims = tuple(normalize_dim(int(d), n) for d in attrs["dims"])
    if sorted(dims) != list(range(n)):
        raise ValueError(f"dims {tuple(attrs['dims'])} are not a permutation of {n} dims")
    return {"dims": dims}


def _permute_infer(in_types, dims):
    t = in_types[0]
    return [TensorType(tuple(t.shape[d] for d in dims), t.dtype)]


permute = _view("permute", _permute_infer, lambda x, dims: np.transpose(x, dims),
                lambda c, g: [permute(g, dims=tuple(np.argsort(c.attrs["dims"]).tolist()))],
                defaults={"dims": None}, normalize=_permute_normalize,
                doc="Reorder dims (transpose, .T, .mT are permutes).")


# ---- cat ---------------------------------------------------------------------------------------------
def _cat_normalize(in_types, attrs):
    if not in_types:
        raise ValueError("expects a non-empty list of tensors")
    return {"dim": normalize_dim(attrs["dim"], in_types[0].ndim)}


def _cat_infer(in_types, dim):
    first = in_types[0]
    total = 0
    for t in in_types:
        if t.ndim != first.ndim:
            raise ValueError("tensors must have the same number of dims, got shapes "
                             + ", ".join(str(list(x.shape)) for x in in_types))
        if t.dtype is not first.dtype:
            raise TypeError("tensors must have the same dtype, got "
                            + ", ".join(x.dtype.name for x in in_types))
        for i, (a, b) in enumerate(zip(t.shape, first.shape)):
            if i != dim and is_static_dim(a) and is_static_dim(b) and a != b:
                raise ValueError(f"sizes must match except in dim {dim}, got shapes "
                                 + ", ".join(str(list(x.shape)) for x in in_types))
        known = total is not None and is_static_dim(t.shape[dim])
        total = total + t.shape[dim] if known else None
    shape = list(first.shape)
    shape[dim] = total
    return [TensorType(shape, first.dtype)]


def _cat_vjp(c, g):
    dim = c.attrs["dim"]
    out, start = [], 0
    for x in c.inputs:
        size = x.shape[dim]
        if not is_static_dim(size) or start is None:
            from ..errors import UnsupportedError
            raise UnsupportedError("cat: the gradient needs the inputs' sizes along the dim")
        index = (("slice", None, None, None),) * dim + (("slice", start, start + size, 1),)
        out.append(slice(g, index=index))
        start += size
    return out


cat = Op("cat", infer=_cat_infer, reference=lambda *xs, dim: np.concatenate(xs, axis=dim),
         vjp=_cat_vjp, num_inputs=None, defaults={"dim": 0}, normalize=_cat_normalize,
         family="view", saves=(), doc="Concatenate along an existing dim.")


# ---- basic slicing -----------------------------------------------------------------------------------
# An index is a tuple of entries: ("slice", start, stop, step), ("int", i) or ("new",).
def to_numpy_index(index):
    out = []
    for entry in index:
        if entry[0] == "slice":
            out.append(builtins_slice(entry[1], entry[2], entry[3]))
        elif entry[0] == "int":
            out.append(entry[1])
        else:
            out.append(None)
    return tuple(out)


builtins_slice = builtins.slice  # `slice` below is the op


def _slice_normalize(in_types, attrs):
    index = tuple(tuple(e) for e in attrs["index"])
    used = sum(e[0] != "new" for e in index)
    if used > in_types[0].ndim:
        raise ValueError(f"too many indices for a tensor of {in_types[0].ndim} dims")
    for e in index:
        if e[0] == "slice" and e[3] is not None and e[3] <= 0:
            raise ValueError("slice step must be positive")
    return {"index": index}


def _slice_infer(in_types, index):
    t = in_types[0]
    shape, d = [], 0
    for e in index:
        if e[0] == "new":
            shape.append(1)
            continue
        size = t.shape[d]
        if e[0] == "int":
            if is_static_dim(size) and not -size <= e[1] < size:
                raise ValueError(f"index {e[1]} is out of bounds for dim {d} with size {size}")
        else:
            shape.append(len(range(*builtins_slice(*e[1:]).indices(size))) if is_static_dim(size)
                         else None)
        d += 1
    shape.extend(t.shape[d:])
    return [TensorType(shape, t.dtype)]


# (the trailing ... keeps x[0] of a vector a 0-d view, as in PyTorch, not a NumPy scalar copy)
slice = _view("slice", _slice_infer, lambda x, index: x[to_numpy_index(index) + (...,)],
              lambda c, g: [slice_backward(g, c.inputs[0], index=c.attrs["index"])],
              defaults={"index": ()}, normalize=_slice_normalize,
              doc="Basic indexing: x[1:3, 0, None, ::2].")


def _slice_backward_ref(g, like, index):
    out = np.zeros(like.shape, g.dtype)
    out[to_numpy_index(index)] = g
    return out


slice_backward = Op(
    "slice_backward", infer=lambda in_types, index: [TensorType(in_types[1].shape, in_types[0].dtype)],
    reference=_slice_backward_ref, num_inputs=2,
    vjp=lambda c, g: [slice(g, index=c.attrs["index"]), None],
    defaults={"index": ()}, family="view", shape_only_inputs=(1,), saves=(),
    doc="Zeros shaped like `like`, with g written at `index` (the gradient of slice).")


# ---- advanced (integer array) indexing ----------------------------------------------------------------
def _index_infer(in_types, axis):
    x, idx = in_types[0], in_types[1:]
    for t in idx:
        if not t.dtype.is_integer:
            raise TypeError(f"index arrays must be integers, got {t.dtype.name}")
    if axis + len(idx) > x.ndim:
        raise ValueError(f"too many indices for a tensor of {x.ndim} dims")
    ishape = broadcast_shapes(*(t.shape for t in idx))
    return [TensorType(x.shape[:axis] + ishape + x.shape[axis + len(idx):], x.dtype)]


def _np_advanced(axis, idx):
    return (builtins_slice(None),) * axis + tuple(idx)


def _index_ref(x, *idx, axis):
    for i, ix in enumerate(idx):
        n = x.shape[axis + i]
        if ix.size and (ix.max() >= n or ix.min() < -n):
            raise IndexError(f"index {int(ix.max()) if ix.max() >= n else int(ix.min())} is "
                             f"out of bounds for dim {axis + i} with size {n}")
    return x[_np_advanced(axis, idx)]


index = Op("index", infer=_index_infer, reference=_index_ref, num_inputs=None,
           vjp=lambda c, g: [index_backward(g, c.inputs[0], *c.inputs[1:], axis=c.attrs["axis"])]
           + [None] * (len(c.inputs) - 1),
           defaults={"axis": 0}, family="gather",
           doc="x[:, ..., i0, i1, ...]: integer arrays on consecutive dims starting at `axis`.")
index.reads = lambda needs: (list(range(1, len(needs))), False)  # x only for its shape


def _index_backward_ref(g, like, *idx, axis):
    out = np.zeros(like.shape, g.dtype)
    np.add.at(out, _np_advanced(axis, idx), g)
    return out


index_backward = Op(
    "index_backward",
    infer=lambda in_types, axis: [TensorType(in_types[1].shape, in_types[0].dtype)],
    reference=_index_backward_ref, num_inputs=None,
    vjp=lambda c, g: [index(g, *c.inputs[2:], axis=c.attrs["axis"])] + [None] * (len(c.inputs) - 1),
    defaults={"axis": 0}, family="scatter", shape_only_inputs=(1,),
    doc="Zeros shaped like `like`, with g added at the indexed places (the gradient of index).")


# ---- pad ---------------------------------------------------------------------------------------------------
def _pad_normalize(in_types, attrs):
    pad = tuple(int(p) for p in attrs["pad"])
    if len(pad) % 2 or len(pad) // 2 > in_types[0].ndim:
        raise ValueError(f"padding {list(pad)} must have an even length of at most 2*ndim")
    if any(p < 0 for p in pad):
        raise ValueError(f"negative padding {list(pad)} is not supported")
    return {"pad": pad, "value": attrs["value"]}


def _pad_widths(ndim, pad):
    """torch order (last dim first, (before, after) pairs) -> NumPy's per-dim pairs."""
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return widths


def _pad_infer(in_types, pad, value):
    t = in_types[0]
    widths = _pad_widths(t.ndim, pad)
    return [TensorType(tuple(d + a + b if is_static_dim(d) else None
                             for d, (a, b) in zip(t.shape, widths)),
                       t.dtype)]


def _pad_vjp(c, g):
    widths = _pad_widths(g.ndim, c.attrs["pad"])
    return [slice(g, index=tuple(("slice", a, (-b if b else None), 1) for a, b in widths))]


pad = Op("pad", infer=_pad_infer,
         reference=lambda x, pad, value: np.pad(x, _pad_widths(x.ndim, pad), constant_values=value),
         vjp=_pad_vjp, defaults={"pad": (), "value": 0.0}, normalize=_pad_normalize, family="view",
         saves=(), doc="Constant padding, torch.nn.functional.pad order.")



# ---- functional write: the out-of-place form of x[index] = v ---------------------------------------
def _index_put_infer(in_types, index):
    x, v = in_types
    target = _slice_infer([x], index)[0]
    try:
        out = broadcast_shapes(target.shape, v.shape)
    except ValueError:
        out = None
    if out is None or tuple(out) != tuple(target.shape):
        raise ValueError(f"cannot assign a value of shape {list(v.shape)} to a selection of "
                         f"shape {list(target.shape)}")
    return [x]


def _index_put_ref(x, v, index):
    out = x.copy()
    out[to_numpy_index(index)] = v
    return out


def _index_put_vjp(c, g):
    index = c.attrs["index"]
    picked = slice(g, index=index)
    return [sub(g, slice_backward(picked, g, index=index)), picked]


index_put = Op("index_put", infer=_index_put_infer, reference=_index_put_ref, num_inputs=2,
               vjp=_index_put_vjp, defaults={"index": ()}, normalize=_slice_normalize,
               family="scatter", saves=(),
               doc="x with x[index] replaced by v (broadcast): the functional form of setitem.")


def _bitcast_infer(in_types, dtype):
    """torch's view(dtype): the same bytes read as dtype; the last dim scales by the ratio
    of the element sizes when they differ."""
    (x,) = in_types
    old, new = x.dtype.np.itemsize, dtype.np.itemsize
    if old == new:
        return [TensorType(x.shape, dtype)]
    if x.ndim == 0:
        raise ValueError(f"self.dim() cannot be 0 to view {x.dtype.name} as {dtype.name} "
                         f"(different element sizes)")
    last = x.shape[-1]
    if is_static_dim(last) and (last * old) % new:
        raise ValueError(f"self.size(-1) must be divisible by {new // old if new > old else 1}"
                         f" to view {x.dtype.name} as {dtype.name} (different element sizes), "
                         f"but got {last}")
    return [TensorType(x.shape[:-1] + ((last * old // new) if is_static_dim(last) else None,), dtype)]


bitcast = Op("bitcast", infer=_bitcast_infer,
             reference=lambda x, dtype: np.ascontiguousarray(x).view(dtype.np),
             defaults={"dtype": None}, differentiable=False, saves=(),
             doc="x's bytes reinterpreted as another dtype (torch's Tensor.view(dtype)); its "
                 "output carries no gradient, as in PyTorch.")
