"""The eager fast path of the dispatcher (`fast_apply`, registry.dispatch: every op call
reaches it first; graphc/dispatch.py `apply` is the general path), and the helpers it
shares with the general path: an input's dtype, the type rule with the op's name in its
errors, marking a view.

Eager code calls the same op on the same shapes and dtypes over and over. A plan, cached per
(op, attrs, input shapes and dtypes, Python types of scalar inputs), holds what the general
path would decide each call: the checked and normalized attributes, the type rule's output
dtypes and the dtype each scalar becomes. A call that would need anything else (a cast of a
tensor input, a CUDA tensor, a view result, a symbolic input, an unhashable attribute)
takes the general path, which gives the same result; so does every call while graphc.jit
traces or graphc.debug checks numerics.
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, GraphcError, ShapeError, op_error
from ..ir.graph import Value
from ..types import DEFAULT_FLOAT, DType, TensorType, as_dtype, format_shape, scalar_dtype
from .anomaly import _state as _anomaly, note_location
from .tape import (SAVES_FIRST, SAVES_IN_OUT, SAVES_INPUTS, SAVES_NOTHING, SAVES_OUTPUT,
                   SAVES_SECOND, SavesWhen, TapeEntry, refresh_view, saved_tensors,
                   saves_of, versions)
from .grad_mode import _state as _grad_mode, is_grad_enabled
from .tensor import Tensor

_NUMBER = (int, float, bool, np.number, np.bool_)

# set by graphc/dispatch.py (which imports this module): the general path, and graphc.debug's
# state ({"numerics": whether every op's values are checked}, which only the general path does)
general = numerics = None
_object_new = object.__new__
_SCALAR_TYPES = {int: True, float: True, bool: True}
_TENSOR_TYPES = {Tensor: True}  # Tensor and the subclasses met so far (Parameter)


def _is_tensor_type(tx):
    if issubclass(tx, Tensor):
        _TENSOR_TYPES[tx] = True
        return True
    return False
_plans: dict = {}


class _Plan:
    __slots__ = ("attrs", "out_dtypes", "scalar_dtypes", "single", "float_outputs", "view",
                 "saves", "saves_when", "records")

    def __init__(self, op, attrs, out_dtypes, scalar_dtypes, single, view):
        self.attrs, self.out_dtypes = attrs, out_dtypes
        self.scalar_dtypes, self.single, self.view = scalar_dtypes, single, view
        # what a tape entry saves: the same for every call, or (saves_when) depending on
        # which inputs need a gradient
        saves = saves_of(op, len(scalar_dtypes), len(out_dtypes))
        self.saves, self.saves_when = (None, saves) if type(saves) is SavesWhen else \
            (saves, None)
        self.float_outputs = tuple(dt.kind == "f" for dt in out_dtypes)  # (they get grad_fn)
        self.records = op.differentiable  # a call that reads a tensor in the graph is taped


def _key(op, inputs):
    """The plan key of a call with numbers or more than three inputs (None: no fast path)."""
    parts = [op]
    for x in inputs:
        tx = type(x)
        if tx in _TENSOR_TYPES or _is_tensor_type(tx):
            d = x._data
            parts += (type(d), d.shape, d.dtype)
        elif tx in _SCALAR_TYPES:
            parts.append(tx)
        else:
            return None
    return tuple(parts)


_new = Tensor._new


def fast_apply(op, inputs, attrs):
    """registry.dispatch, which every op call reaches: the fast path where a plan serves the
    call, else `general` (graphc/dispatch.py apply). (The fast path calls the general path
    rather than the other way round: one Python call less per op, ~0.1 µs of ~1.5.)"""
    if Tensor._trace is not None or numerics["numerics"]:
        return general(op, inputs, attrs)
    # the key: one, two and three tensors are spelled out (most calls); the data arrays are
    # the kernel's arguments unless a number is among the inputs
    n = len(inputs)
    pair = one = False  # two tensors, one tensor
    if n == 2:
        x, y = inputs
        tx = type(x)
        if tx in _TENSOR_TYPES:
            dx = x._data
            ty = type(y)
            if ty in _TENSOR_TYPES:
                dy = y._data
                key, args = (op, type(dx), dx.shape, dx.dtype, type(dy), dy.shape, dy.dtype), \
                    (dx, dy)
                pair = True
            elif ty in _SCALAR_TYPES:  # tensor op number (y * 2, x + 1)
                key, args = (op, type(dx), dx.shape, dx.dtype, ty), None
            else:
                key, args = _key(op, inputs), None
        else:
            key, args = _key(op, inputs), None
    elif n == 1 and type(inputs[0]) in _TENSOR_TYPES:
        x, one = inputs[0], True
        dx = x._data
        key, args = (op, type(dx), dx.shape, dx.dtype), (dx,)
    elif n == 3 and type(inputs[0]) in _TENSOR_TYPES and type(inputs[1]) in _TENSOR_TYPES \
            and type(inputs[2]) in _TENSOR_TYPES:  # (linear with a bias, where, addcmul)
        dx, dy, dz = args = (inputs[0]._data, inputs[1]._data, inputs[2]._data)
        key = (op, type(dx), dx.shape, dx.dtype, type(dy), dy.shape, dy.dtype, type(dz),
               dz.shape, dz.dtype)
    else:
        key, args = _key(op, inputs), None
    if key is None:
        return general(op, inputs, attrs)
    if attrs:
        key += (tuple(attrs.items()),)
    try:
        plan = _plans.get(key)
    except TypeError:  # an unhashable attribute
        return general(op, inputs, attrs)
    if plan is None:
        if len(_plans) > 50_000:
            _plans.clear()
        plan = _plans[key] = _make_plan(op, inputs, attrs)
    if plan is False:
        return general(op, inputs, attrs)
    if args is None:  # numbers become arrays of the dtype the op's cast rule gives them
        if n == 2 and plan.scalar_dtypes[0] is None and plan.scalar_dtypes[1] is not None:
            args = (inputs[0]._data, np.asarray(inputs[1], plan.scalar_dtypes[1]))
        else:
            args = [x._data if type(x) in _TENSOR_TYPES else np.asarray(x, dt)
                    for x, dt in zip(inputs, plan.scalar_dtypes)]
    try:
        if plan.attrs:
            result = (op.eager or op.reference)(*args, **plan.attrs)
        else:
            result = (op.eager or op.reference)(*args)
    except (IndexError, ValueError, FloatingPointError) as e:
        raise op_error(type(e), op.name, str(e)) from None
    if plan.single:
        dt = plan.out_dtypes[0]
        if type(result) is not np.ndarray or result.dtype is not dt and result.dtype != dt:
            result = np.asarray(result, dt)
        out = _new(result)
        if plan.view and np.may_share_memory(result, args[0]):
            _mark_view(out, inputs[0], op, plan.attrs)
        if plan.records and _grad_mode.enabled:
            if pair:  # (a view may have gained a history since: _record_* check)
                if x._requires_grad or y._requires_grad or x._base is not None or \
                        y._base is not None:
                    _record_pair(op, inputs, x, y, out, plan)
                return out
            if one:
                if x._requires_grad or x._base is not None:
                    _record_one(op, inputs, x, out, plan)
                return out
            for x in inputs:
                if type(x) in _TENSOR_TYPES and (x._requires_grad or x._base is not None):
                    _record_fast(op, inputs, args, (out,), plan)
                    break
        return out
    outputs = []
    for arr, dt in zip(result, plan.out_dtypes):
        if type(arr) is not np.ndarray or arr.dtype != dt:
            arr = np.asarray(arr, dt)
        outputs.append(_new(arr))
    if plan.records and _grad_mode.enabled:
        _record_fast(op, inputs, args, tuple(outputs), plan)
    return tuple(outputs)


def _record_pair(op, inputs, x, y, out, plan):
    """_record_fast for one output of two tensors (the most common recorded call)."""
    if x._base is not None and x._view_version != x._vc[0] and x._view_version >= 0:
        refresh_view(x)
    if y._base is not None and y._view_version != y._vc[0] and y._view_version >= 0:
        refresh_view(y)
    if x._requires_grad:
        fn = x.grad_fn
        ex = x if fn is None else (fn, x._out_nr)
    else:
        ex = None
    if y._requires_grad:
        fn = y.grad_fn
        ey = y if fn is None else (fn, y._out_nr)
    elif ex is None:
        return
    else:
        ey = None
    entry = _object_new(TapeEntry)
    vc = out._vc
    entry.op, entry.outs, entry.attrs = op, ((out._data, vc),), plan.attrs
    entry.inputs = inputs = inputs if type(inputs) is tuple else tuple(inputs)
    entry.edges = (ex, ey)
    entry.released = False
    saves = plan.saves
    if saves is None:  # it depends on which inputs need a gradient (mul: the other one)
        saves = plan.saves_when[ex is not None, ey is not None]
    # (versions(saved), inlined for the common cases)
    if saves is SAVES_NOTHING:
        entry.saved = ()
    elif saves is SAVES_INPUTS:
        entry.saved = ((x._vc, x._vc[0], x._data), (y._vc, y._vc[0], y._data))
    elif saves is SAVES_FIRST:
        entry.saved = ((x._vc, x._vc[0], x._data),)
    elif saves is SAVES_SECOND:
        entry.saved = ((y._vc, y._vc[0], y._data),)
    elif saves is SAVES_OUTPUT:
        entry.saved = ((vc, vc[0], out._data),)
    else:
        entry.saved = versions(saved_tensors(saves, inputs, (out,)))
    if _anomaly.enabled:
        note_location(entry)
    if plan.float_outputs[0]:
        out.grad_fn, out._requires_grad, out._out_nr = entry, True, 0


def _record_one(op, inputs, x, out, plan):
    """_record_fast for one output of one tensor (unary ops, reductions)."""
    if x._base is not None and x._view_version != x._vc[0] and x._view_version >= 0:
        refresh_view(x)
    if not x._requires_grad:
        return
    fn = x.grad_fn
    entry = _object_new(TapeEntry)
    vc = out._vc
    entry.op, entry.outs, entry.attrs = op, ((out._data, vc),), plan.attrs
    entry.inputs = inputs = inputs if type(inputs) is tuple else tuple(inputs)
    entry.edges = (x if fn is None else (fn, x._out_nr),)
    entry.released = False
    saves = plan.saves
    if saves is None:
        saves = plan.saves_when[(True,)]
    if saves is SAVES_NOTHING:
        entry.saved = ()
    elif saves is SAVES_IN_OUT:  # (unary ops declare both: sigmoid, tanh, exp)
        entry.saved = ((x._vc, x._vc[0], x._data), (vc, vc[0], out._data))
    elif saves is SAVES_FIRST:
        entry.saved = ((x._vc, x._vc[0], x._data),)
    elif saves is SAVES_OUTPUT:
        entry.saved = ((vc, vc[0], out._data),)
    else:
        entry.saved = versions(saved_tensors(saves, inputs, (out,)))
    if _anomaly.enabled:
        note_location(entry)
    if plan.float_outputs[0]:
        out.grad_fn, out._requires_grad, out._out_nr = entry, True, 0


def _record_fast(op, inputs, args, outputs, plan):
    """_record for the fast path: the edges are found while looking for an input that
    requires grad, and the entry is built from them (TapeEntry.__init__, inlined; loops
    rather than comprehensions, which cost a function call each)."""
    edges = []
    recording = numbers = False
    for x in inputs:
        if type(x) not in _TENSOR_TYPES:
            numbers = True
        else:
            if x._base is not None and x._view_version != x._vc[0] and x._view_version >= 0:
                refresh_view(x)
            if x._requires_grad:
                fn = x.grad_fn
                edges.append(x if fn is None else (fn, x._out_nr))
                recording = True
                continue
        edges.append(None)
    if not recording:
        return
    if numbers:  # the tape keeps tensors: numbers become the 0-d tensors they were cast to
        inputs = tuple([x if type(x) in _TENSOR_TYPES else _new(a) for x, a in zip(inputs, args)])
    elif type(inputs) is not tuple:
        inputs = tuple(inputs)
    entry = _object_new(TapeEntry)
    entry.op, entry.inputs, entry.attrs = op, inputs, plan.attrs
    if plan.single:
        out = outputs[0]
        entry.outs = ((out._data, out._vc),)
    else:
        entry.outs = tuple([(o._data, o._vc) for o in outputs])
    entry.edges = edges = tuple(edges)
    entry.released = False
    saves = plan.saves
    if saves is None:
        saves = plan.saves_when[tuple([e is not None for e in edges])]
    if saves:
        saved = []
        for i in saves:
            t = inputs[i] if i >= 0 else outputs[-1 - i]
            vc = t._vc
            saved.append((vc, vc[0], t._data))
        entry.saved = tuple(saved)
    else:
        entry.saved = ()
    if _anomaly.enabled:
        note_location(entry)
    if plan.single:
        if plan.float_outputs[0]:
            out.grad_fn, out._requires_grad, out._out_nr = entry, True, 0
        return
    for i, (o, floating) in enumerate(zip(outputs, plan.float_outputs)):
        if floating:
            o.grad_fn, o._requires_grad, o._out_nr = entry, True, i


def _make_plan(op, inputs, attrs):
    """The fast path's plan for these inputs, or False where the general path must run."""
    if any(isinstance(x, Tensor) and type(x._data) is not np.ndarray for x in inputs):
        return False  # a CUDA tensor: backends run it
    if op.num_inputs is not None and len(inputs) != op.num_inputs or \
            op.view is not None and op.num_outputs != 1:
        return False
    if attrs:
        if any(key not in op.defaults for key in attrs):
            return False  # (the general path raises the error)
        attrs = {**op.defaults, **attrs}
    else:
        attrs = op.defaults
    dtypes = [_dtype_of(x) for x in inputs]
    targets = [None] * len(inputs) if op.coerce is None else \
        op.coerce([d for d, _ in dtypes], [w for _, w in dtypes])
    scalar_dtypes = []
    for x, (dtype, _), target in zip(inputs, dtypes, targets):
        if isinstance(x, Tensor):
            if target is not None and target is not dtype:
                return False  # a cast first: the general path
            scalar_dtypes.append(None)
        else:
            if target is None:
                target = DEFAULT_FLOAT if dtype.is_floating_point else dtype
            scalar_dtypes.append(target.np)
    try:
        out_types, attrs = _infer(op, [
            TensorType(x._data.shape, x.dtype) if isinstance(x, Tensor) else TensorType((), dt)
            for x, dt in zip(inputs, [None if d is None else DType._by_np[d]
                                      for d in scalar_dtypes])], attrs)
    except GraphcError:
        return False  # the general path raises it, with the same message
    return _Plan(op, attrs, tuple(t.dtype.np for t in out_types), tuple(scalar_dtypes),
                 op.num_outputs == 1, op.view is not None)



# ---- shared with the general path ------------------------------------------------------------
def _dtype_of(x):
    if type(x) is Tensor:
        return DType._by_np[x._data.dtype], False
    if isinstance(x, (Value, Tensor)):
        return x.dtype, False
    if isinstance(x, _NUMBER):
        return scalar_dtype(x), True
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        return DEFAULT_FLOAT, False
    return as_dtype(arr.dtype), False


def _infer(op, types, attrs):
    try:
        if op.normalize is not None:
            attrs = op.normalize(types, attrs)
        return op.infer(types, **attrs), attrs
    except GraphcError:
        raise
    except (ValueError, IndexError) as e:
        raise op_error(ShapeError, op.name, f"{e} (input shapes: "
                       + ", ".join(format_shape(t.shape) for t in types) + ")") from None
    except TypeError as e:
        raise op_error(DTypeError, op.name, f"{e} (input dtypes: "
                       + ", ".join(t.dtype.name for t in types) + ")") from None


def _mark_view(view, base, op, attrs, copied=False):
    """The view shares base's storage and version counter; it remembers how it was made so
    that an in-place write through it can rewrite base's history (eager/inplace.py).
    copied: a CUDA strided view is a copy (storage/cuda_ops.py): writes to it are copied
    back into the base."""
    view._vc, view._base = base._vc, (base, op, attrs, copied)
    view._copy_version = base._vc[0]
    no_grad_view = base._requires_grad and not is_grad_enabled()
    view._view_version = -1 if no_grad_view else base._vc[0]
