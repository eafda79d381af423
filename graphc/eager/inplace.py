"""In-place writes on eager tensors (`t.mul_(w)`, `t += 1`, `t[k] = v`) with PyTorch's
autograd rules.

A write is computed out of place from a snapshot of t (`mul(old_t, w)`, recorded on the tape
like any op) and copied into t's storage; t's grad_fn becomes that entry (PyTorch
"rebases" it), so gradients flow to every operand and to t's earlier history. Ops recorded
before the write keep reading t's old history: tape edges name the entry that made a value,
not the tensor object (tape.edge_of). A write through a view also rewrites its base's
history (PyTorch's CopySlices); the base's other views regenerate theirs when next used
(tape.refresh_view). Inside graphc.jit the same out-of-place value becomes the traced
write (`Tensor._assign` -> the trace).
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import storage
from ..errors import UnsupportedError
from .tape import TapeEntry, refresh_view, sync_copy
from .grad_mode import is_grad_enabled, no_grad
from .tensor import Tensor


def can_cast(src, dst) -> bool:
    """PyTorch's rule for writing an op's result into a tensor: no float into an integer
    tensor, nothing but bool into a bool tensor."""
    if dst.is_bool:
        return src.is_bool
    if not dst.is_floating_point:
        return not src.is_floating_point
    return True


def apply(t: Tensor, fn, *args, strict_dtype=True, **kwargs):
    """t.op_(*args): t's storage gets fn(t, *args, **kwargs), computed out of place.

    strict_dtype: the result must be castable to t's dtype without losing its kind
    (add_, mul_, ...); copy_, fill_ and setitem convert like PyTorch does."""
    if Tensor._trace is not None:  # graphc.jit: the functional value is the traced write
        return t._assign(fn(t, *args, **kwargs))
    sync(t)
    if not _recording(t, args, kwargs):
        with no_grad():
            new = fn(t, *args, **kwargs)
        _check_result(t, new, strict_dtype)
        t._assign(new)
        _write_back_copies(t)
        return t
    return _record_write(t, lambda old: fn(old, *args, **kwargs), strict_dtype)


def _requires_grad(x):
    return isinstance(x, Tensor) and x._requires_grad


def _recording(t, args, kwargs):
    if not is_grad_enabled():
        return False
    if t._requires_grad or builtins.any(_requires_grad(a) for a in args) \
            or builtins.any(_requires_grad(a) for a in kwargs.values()):
        return True
    base = t._base
    while base is not None:  # a view of a tensor in the graph
        if base[0]._requires_grad:
            return True
        base = base[0]._base
    return False


def _check_result(t, new, strict_dtype):
    shape = tuple(getattr(new, "shape", ()))
    if shape != tuple(t.shape) and (strict_dtype or len(shape) > t.ndim):
        raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    if strict_dtype and isinstance(new, Tensor) and not can_cast(new.dtype, t.dtype):
        raise RuntimeError(f"result type {new.dtype.name} can't be cast to the desired output "
                           f"type {t.dtype.name}")


def _check_writable(t):
    t._check_inplace()  # a leaf that requires grad
    base = t._base
    while base is not None:
        b = base[0]
        if b.grad_fn is None and b._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        base = b._base
    if t._base is not None and t._view_version < 0:
        raise RuntimeError("A view was created in no_grad mode and is being modified inplace "
                           "with grad mode enabled. Given that this use case is ambiguous and "
                           "error-prone, it is forbidden.")


def _snapshot(t):
    """t's current value and history as a tensor of its own: the in-place op's input. A copy,
    so that a gradient rule reading it (mul_, clamp_) sees the value before the write."""
    if t._base is not None and t._view_version != t._vc[0]:
        refresh_view(t)
    if type(t._data) is np.ndarray:
        data = t._data.copy()
    else:
        with no_grad():
            data = t.clone()._data
    old = Tensor._wrap(data)
    old._requires_grad, old.grad_fn, old._out_nr = t._requires_grad, t.grad_fn, t._out_nr
    return old


def _record_write(t, compute, strict_dtype):
    from .. import functional as F
    _check_writable(t)
    old = _snapshot(t)
    new = compute(old)
    if new is old:  # the write changes nothing
        return t
    if not isinstance(new, Tensor):
        new = Tensor._wrap(np.asarray(new, t._data.dtype))
    _check_result(t, new, strict_dtype)
    if tuple(new.shape) != tuple(t.shape):
        new = F.broadcast_to(new, t.shape)
    if new.dtype is not t.dtype:
        new = F.cast(new, t.dtype)
    t._assign(new)
    _write_back_copies(t)
    t._view_version = t._vc[0]  # its history is set here, not regenerated from its base
    entry = new.grad_fn
    if entry is None:  # the new value depends on nothing that requires grad
        t.grad_fn, t._requires_grad = None, False
    else:
        entry.set_output(new._out_nr, t)
        t.grad_fn, t._out_nr, t._requires_grad = entry, new._out_nr, True
        entry.record_versions()  # t's saved version is the one after the write
    if t._base is not None:
        _rebase_bases(t)
    return t


def _rebase_bases(view):
    """A write through `view` changed its base's storage: the base's new history puts the
    view's new value into its old one, and the view becomes a view of that new history."""
    base, op, attrs = view._base[:3]
    if not (view._requires_grad or base._requires_grad):
        view._view_version = view._vc[0]
        return
    old = Tensor._wrap(base._data)  # same storage; the write rules below never read it
    old._requires_grad, old.grad_fn, old._out_nr = base._requires_grad, base.grad_fn, \
        base._out_nr
    base.grad_fn, base._out_nr, base._requires_grad = _scatter_back(old, view, op, attrs), 0, True
    if base._base is not None:
        base._view_version = base._vc[0]  # set here, not regenerated from its own base
        _rebase_bases(base)
    view.grad_fn, view._out_nr, view._requires_grad = TapeEntry(op, (base,), (view,), attrs), 0, \
        True
    view._view_version = view._vc[0]


def sync(t):
    """A CUDA view copied before its base was written: copied again (tape.sync_copy)."""
    if t._base is not None and t._base[3] and t._copy_version != t._vc[0]:
        sync_copy(t)


def _write_back_copies(t):
    """A CUDA strided view is a copy of its base's elements (storage/cuda_ops.py): after a
    write to it, its base's storage gets the written elements, as a real view's would."""
    info = t._base
    while info is not None and info[3]:
        t._copy_version = t._vc[0]  # its elements are the written ones
        from ..ops import shape as S
        base, op, attrs, _ = info
        with no_grad():
            if op is S.slice:
                new = S.index_put(base, t, index=attrs["index"])
            elif op is S.permute:
                new = S.permute(t, dims=tuple(int(d) for d in np.argsort(attrs["dims"])))
            else:
                new = S.reshape(t, shape=tuple(base.shape))
        storage.write(base._data, new._data)  # (no version bump: the view's write counted already)
        t, info = base, base._base
    if info is None or not info[3]:
        t._copy_version = t._vc[0]


def _scatter_back(old_base, view, op, attrs):
    """The tape entry making base's new value from its old one and the written view."""
    from ..ops import shape as S
    base = view._base[0]
    if op is S.slice:
        return TapeEntry(S.index_put, (old_base, view), (base,), attrs)
    if op in (S.reshape, S.squeeze, S.unsqueeze):
        return TapeEntry(S.reshape, (view,), (base,), {"shape": tuple(base.shape)})
    if op is S.permute:
        inverse = tuple(int(d) for d in np.argsort(attrs["dims"]))
        return TapeEntry(S.permute, (view,), (base,), {"dims": inverse})
    raise UnsupportedError(f"an in-place write through a view made by {op.name} is not "
                           f"supported with gradients; write into a copy (.clone()) instead")


# ---- x[key] = value ----------------------------------------------------------------------------------
def setitem(t: Tensor, key, value):
    sync(t)
    if Tensor._trace is None and not _recording(t, (value, key), {}):
        t._check_inplace()
        if type(t._data) is np.ndarray:
            t._data[_numpy_key(key)] = value.cpu()._data if isinstance(value, Tensor) else value
        else:  # a CUDA tensor: the device array's own item assignment
            t._data[_numpy_key(key)] = value._data if isinstance(value, Tensor) else value
            _write_back_copies(t)
        t._bump()
        return
    apply(t, put, key, value, strict_dtype=False)


def _numpy_key(key):
    if isinstance(key, tuple):
        return tuple(_numpy_key(k) for k in key)
    if isinstance(key, Tensor):
        return key.cpu()._data
    return key


def _basic_index(key, ndim):
    """The op-level index entries of a basic key (ints, slices, None, one Ellipsis), or None
    if the key has tensors, lists or arrays in it."""
    key = key if isinstance(key, tuple) else (key,)
    if builtins.sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    out = []
    for k in key:
        if isinstance(k, builtins.slice):
            out.append(("slice", _int(k.start), _int(k.stop), _int(k.step)))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            out.append(("int", int(k)))
        elif k is None:
            out.append(("new",))
        elif k is Ellipsis:
            out.append(Ellipsis)
        else:
            return None
    if Ellipsis in out:
        i = out.index(Ellipsis)
        used = builtins.sum(e[0] != "new" for e in out if e is not Ellipsis)
        out[i:i + 1] = [("slice", None, None, None)] * builtins.max(ndim - used, 0)
    return tuple(out)


def _int(v):
    return None if v is None else int(v)


def put(x, key, value):
    """The out-of-place form of x[key] = value (a tensor or symbolic value, like x): basic
    keys use index_put; integer-array, boolean-mask and mixed keys become a write at the
    flat positions that the key selects (last write wins where positions repeat)."""
    from .. import functional as F
    from ..ops import shape as S
    shape = tuple(getattr(value, "shape", ()))
    if shape and shape[0] == 1 and hasattr(value, "dtype"):  # leading 1s are dropped, as
        while shape and shape[0] == 1:                        # PyTorch's setitem does
            shape = shape[1:]
        value = F.reshape(value, shape)
    basic = _basic_index(key, x.ndim)
    if basic is not None:
        return S.index_put(x, _as_like(value, x), index=basic)
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if getattr(mask, "is_symbolic", False) and mask.dtype.is_bool:
        if getattr(value, "shape", ()) not in ((), (1,)):
            raise UnsupportedError("x[mask] = values with a symbolic boolean mask: the number "
                                   "of selected elements is known only when the graph runs; "
                                   "use graphc.where(mask, value, x) with a broadcastable value")
        return F.where(mask, value, x)
    return _put_flat(x, key, value)


def _put_flat(x, key, value):
    from .. import functional as F
    from ..ops import shape as S
    if builtins.any(not isinstance(d, int) for d in x.shape):
        raise UnsupportedError(f"x[key] = value with index arrays needs a known shape, got "
                               f"{list(x.shape)}")
    numel = int(np.prod(x.shape, dtype=np.int64))
    positions = np.arange(numel, dtype=np.int64).reshape(x.shape)
    if _is_concrete(key):
        selected = positions[_numpy_key(key)]
        flat_sel = selected.reshape(-1)
        values = F.reshape(F.broadcast_to(_as_like(value, x), selected.shape), (-1,))
        written = np.zeros(numel, bool)
        written[flat_sel] = True
        if getattr(x, "is_cuda", False):  # (ops do not mix devices)
            from .creation import tensor
            written = tensor(written, device="cuda")
        flat_x = F.reshape(x, (-1,))
        scattered = S.index_backward(values, flat_x, flat_sel, axis=0)
        rev_first = np.unique(flat_sel[::-1], return_index=True)[1]
        if len(rev_first) != len(flat_sel):
            # repeated positions: the last write wins (NumPy's and PyTorch's CPU behaviour),
            # while each written value gets the gradient of its position, as PyTorch's
            # index_put rule gives it
            keep = np.sort(len(flat_sel) - 1 - rev_first)
            last = S.index_backward(S.index(values, keep, axis=0), flat_x, flat_sel[keep],
                                    axis=0)
            scattered = F.sub(scattered, F.detach(F.sub(scattered, last)))
        return F.reshape(F.where(written, scattered, F.reshape(x, (-1,))), tuple(x.shape))
    # symbolic index tensors: positions counted at run time; repeated positions get the mean
    # of their values (equal to each when they agree, e.g. x[idx] = 0)
    selected = F.getitem(positions, key)
    flat_sel = F.reshape(selected, (-1,))
    values = F.reshape(F.broadcast_to(_as_like(value, x), tuple(selected.shape)), (-1,))
    flat_x = F.reshape(x, (-1,))
    counts = S.index_backward(F.ones_like(values), flat_x, flat_sel, axis=0)
    sums = S.index_backward(values, flat_x, flat_sel, axis=0)
    written = F.gt(counts, 0)
    return F.reshape(F.where(written, F.div(sums, F.maximum(counts, 1)), flat_x), tuple(x.shape))


def _is_concrete(key):
    key = key if isinstance(key, tuple) else (key,)
    return not builtins.any(getattr(k, "is_symbolic", False) for k in key)


def _as_like(value, x):
    """value as a tensor/value of x's dtype (PyTorch converts what it writes); numbers and
    arrays as arrays (constants under graphc.jit, not captured state)."""
    from .. import functional as F
    if not hasattr(value, "dtype") or isinstance(value, np.ndarray):
        return np.asarray(value, x.dtype.np)
    return value if value.dtype is x.dtype else F.cast(value, x.dtype)


# ---- the functional forms of the in-place methods (x is the value before the write) ----------------
def filled(x, value):
    """fill_/zero_: value everywhere; x's history gets a zero gradient, as in PyTorch."""
    from .. import functional as F
    return F.where(np.True_, value, x)


def copied(x, src):
    """copy_: src broadcast to x's shape (converted to x's dtype by the write)."""
    from .. import functional as F
    return F.where(np.True_, src, x)


def addcmul(x, t1, t2, value=1):
    from .. import functional as F
    return F.add(x, F.mul(F.mul(t1, t2), value))


def addcdiv(x, t1, t2, value=1):
    from .. import functional as F
    return F.add(x, F.mul(F.div(t1, t2), value))
