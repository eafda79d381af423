"""The single dispatch point: every op call goes through `apply`.

Any symbolic input -> a node is added to the graph; otherwise the op runs now on eager
tensors and, if some input requires grad, a tape entry is recorded. Scalars and arrays are
turned into constants/tensors and inputs are cast to the op's compute dtype here, once, for
both modes.
"""
from __future__ import annotations

import numpy as np

from . import debug as _debug
from . import storage
from .eager.autograd import TapeEntry, refresh_view, saved_values, sync_copy, versions
from .eager.anomaly import _state as _anomaly, note_location
from .eager.grad_mode import _state as _grad_mode, is_grad_enabled
from .eager.tensor import Tensor
from .errors import DTypeError, GraphcError, ShapeError, op_error, user_location
from .ir.graph import Node, Value
from .ops import elementwise, leaves, registry
from .types import DEFAULT_FLOAT, DType, TensorType, as_dtype, format_shape, scalar_dtype

_NUMBER = (int, float, bool, np.number, np.bool_)


def apply(op, inputs, attrs):
    if Tensor._trace is None:
        out = _fast_eager(op, inputs, attrs)
        if out is not _MISS:
            return out
    if op.num_inputs is not None and len(inputs) != op.num_inputs:
        raise op_error(TypeError, op.name, f"expects {op.num_inputs} inputs, got {len(inputs)}")
    if attrs:
        for key in attrs:
            if key not in op.defaults:
                raise op_error(TypeError, op.name, f"unknown attribute {key!r} (known: "
                               f"{', '.join(op.defaults) or 'none'})")
        attrs = {**op.defaults, **attrs}
    else:
        attrs = op.defaults  # shared: never mutated (normalize returns a new dict)
    symbolic = False
    for x in inputs:
        if isinstance(x, Value):
            symbolic = True
            break
    trace = Tensor._trace
    if trace is not None:  # graphc.jit: tensors read become variables; values written in
        symbolic = symbolic or any(isinstance(x, Tensor) for x in inputs)  # place: their
        if trace.frozen:                                                 # latest value
            trace = None
        elif trace.latest or trace.views:
            inputs = [trace.resolve(x) if isinstance(x, Value) else x for x in inputs]
    inputs = _coerce(op, inputs, symbolic)
    if symbolic:
        out = _build_node(op, inputs, attrs)
        if trace is not None and op.view is not None:
            trace.note_view(out, inputs[0], op, out.node.attrs)
        return out
    return _run_eager(op, inputs, attrs)


registry.dispatch = apply


# ---- the eager fast path -----------------------------------------------------------------------
# Eager code calls the same op on the same shapes and dtypes over and over. A plan, cached per
# (op, attrs, input shapes and dtypes, Python types of scalar inputs), holds what the general
# path below would decide each call: the checked and normalized attributes, the type rule's
# output dtypes and the dtype each scalar becomes. A call that would need anything else (a
# cast of a tensor input, a CUDA tensor, a view result, a symbolic input, an unhashable
# attribute, numerics checking) takes the general path, which gives the same result.
_MISS = object()
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
                 "saves", "records")

    def __init__(self, op, attrs, out_dtypes, scalar_dtypes, single, view):
        self.attrs, self.out_dtypes = attrs, out_dtypes
        self.scalar_dtypes, self.single, self.view = scalar_dtypes, single, view
        # what a tape entry saves (eager/autograd.saved_values), when it does not depend on
        # which inputs need a gradient
        self.saves = None if op.reads is not None else ("inputs" in op.saves,
                                                        "outputs" in op.saves)
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


_numerics = _debug._state  # {"numerics": whether graphc.debug checks every op's values}
_new = Tensor._new


def _fast_eager(op, inputs, attrs):
    # the key: one, two and three tensors are spelled out (most calls); the data arrays are
    # the kernel's arguments unless a number is among the inputs
    n = len(inputs)
    pair = False  # two tensors
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
        x = inputs[0]
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
        return _MISS
    if attrs:
        key += (tuple(attrs.items()),)
    try:
        plan = _plans.get(key)
    except TypeError:  # an unhashable attribute
        return _MISS
    if plan is None:
        if len(_plans) > 50_000:
            _plans.clear()
        plan = _plans[key] = _make_plan(op, inputs, attrs)
    if plan is False or _numerics["numerics"]:
        return _MISS
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
            if n == 1 and args is not None:  # one tensor
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
    entry.op, entry.outputs, entry.attrs = op, (out,), plan.attrs
    entry.inputs = inputs if type(inputs) is tuple else tuple(inputs)
    entry.edges = edges = (ex, ey)
    entry.released = False
    saves = plan.saves
    if saves is None:  # it depends on which inputs need a gradient (mul: the other one)
        saved = saved_values(op, entry.inputs, entry.outputs, edges)
    elif saves[0]:
        saved = entry.inputs + entry.outputs if saves[1] else entry.inputs
    else:
        saved = entry.outputs if saves[1] else ()
    if not saved:  # (versions(saved), inlined for the common sizes)
        entry.saved = ()
    elif len(saved) == 1:
        t = saved[0]
        entry.saved = ((t, t._vc[0]),)
    else:
        entry.saved = tuple([(t, t._vc[0]) for t in saved])
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
    entry.op, entry.outputs, entry.attrs = op, (out,), plan.attrs
    entry.inputs = inputs = inputs if type(inputs) is tuple else tuple(inputs)
    entry.edges = edges = (x if fn is None else (fn, x._out_nr),)
    entry.released = False
    saves = plan.saves
    if saves is None:
        saved = saved_values(op, inputs, entry.outputs, edges)
        entry.saved = tuple([(t, t._vc[0]) for t in saved])
    elif saves[0]:
        entry.saved = ((x, x._vc[0]), (out, out._vc[0])) if saves[1] else ((x, x._vc[0]),)
    else:
        entry.saved = ((out, out._vc[0]),) if saves[1] else ()
    if _anomaly.enabled:
        note_location(entry)
    if plan.float_outputs[0]:
        out.grad_fn, out._requires_grad, out._out_nr = entry, True, 0


def _record_fast(op, inputs, args, outputs, plan):
    """_record for the fast path: the edges are found while looking for an input that
    requires grad, and the entry is built from them (TapeEntry.from_edges, inlined)."""
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
    entry.op, entry.inputs, entry.outputs, entry.attrs = op, inputs, outputs, plan.attrs
    entry.edges = edges = tuple(edges)
    entry.released = False
    saves = plan.saves  # (all inputs?, outputs?) or None: it depends on `edges`
    if saves is None:
        saved = saved_values(op, inputs, outputs, edges)
    elif saves[0]:
        saved = inputs + outputs if saves[1] else inputs
    else:
        saved = outputs if saves[1] else ()
    if not saved:  # (versions(saved), inlined for the common sizes)
        entry.saved = ()
    elif len(saved) == 1:
        t = saved[0]
        entry.saved = ((t, t._vc[0]),)
    else:
        entry.saved = tuple([(t, t._vc[0]) for t in saved])
    if _anomaly.enabled:
        note_location(entry)
    if plan.single:
        if plan.float_outputs[0]:
            out = outputs[0]
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


# ---- inputs: scalars and arrays become tensors/constants of the right dtype -------------------
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


_coerce_cache: dict = {}


def _coerce(op, inputs, symbolic):
    convert = _as_value if symbolic else _as_tensor
    if op.coerce is None:
        if symbolic:
            return [convert(x, None) for x in inputs]
        return [x if type(x) is Tensor else convert(x, None) for x in inputs]
    key = (op, tuple([_dtype_of(x) for x in inputs]))
    targets = _coerce_cache.get(key)
    if targets is None:
        targets = _coerce_cache[key] = op.coerce([d for d, _ in key[1]], [w for _, w in key[1]])
    out = []
    for (dtype, _), x, target in zip(key[1], inputs, targets):
        if isinstance(x, (Value, Tensor)):
            if target is not None and dtype is not target:
                x = elementwise.cast(x if not symbolic else convert(x, None), dtype=target)
            out.append(x if type(x) is Tensor and not symbolic else convert(x, None))
        else:
            out.append(convert(x, target))
    return out


def _as_tensor(x, dtype):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _NUMBER) and dtype is None:
        dtype = scalar_dtype(x)
        dtype = DEFAULT_FLOAT if dtype.is_floating_point else dtype
    arr = np.asarray(x, None if dtype is None else dtype.np)
    if dtype is None and arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(DEFAULT_FLOAT.np)
    return Tensor._wrap(arr)


def _as_value(x, dtype):
    if isinstance(x, Value):
        return x
    if isinstance(x, Tensor):
        if Tensor._trace is not None:
            return Tensor._trace.read(x)
        if x.grad_fn is not None:
            raise op_error(GraphcError, "graph building", (
                f"a tensor computed eagerly with gradient tracking (grad_fn="
                f"<{x.grad_fn.name()}>) is used with symbolic values: gradients cannot flow "
                f"from the graph back into eager code. Compute it inside the graph from the "
                f"parameters, or .detach() it to use its current value as a constant"))
        if x._requires_grad or x._persistent:
            return variable_of(x)
        x = x._data.copy()
    return constant(np.asarray(_as_tensor(x, dtype)._data))


def constant(value, name=None):
    """A constant node holding `value` (an array, copied)."""
    arr = np.array(value)
    node = Node(leaves.constant, (), {"value": arr}, [TensorType(arr.shape, arr.dtype)],
                user_location(), [name])
    return node.outputs[0]


def variable_of(t: Tensor):
    """The graph variable bound to an eager tensor's storage (one per tensor). While
    graphc.jit traces, the tensor's latest value in the trace (after in-place writes)."""
    if Tensor._trace is not None:
        return Tensor._trace.read(t)
    return variable_node(t)


def variable_node(t: Tensor):
    """The `variable` node's value bound to `t`'s storage, made once per tensor."""
    if t._variable is None:
        node = Node(leaves.variable, (), {"name": t.name, "storage": t},
                    [TensorType(t.shape, t.dtype)], user_location(), [t.name])
        t._variable = node.outputs[0]
    return t._variable


# ---- the two modes ---------------------------------------------------------------------------------
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


def _build_node(op, inputs, attrs):
    out_types, attrs = _infer(op, [x.type for x in inputs], attrs)
    node = Node(op, inputs, attrs, out_types, user_location())
    return node.outputs[0] if op.num_outputs == 1 else node.outputs


_eager_types: dict = {}  # (op, attrs, input shapes and dtypes) -> (output types, attrs)


def _eager_infer(op, inputs, attrs):
    """Type rule for eager inputs, memoized: eager code calls the same op on the same
    shapes over and over, and the rule is pure."""
    try:
        key = (op, tuple(attrs.items()) if attrs else (),
               tuple([(x._data.shape, x._data.dtype) for x in inputs]))
        hit = _eager_types.get(key)
    except TypeError:  # an unhashable attribute: no memo
        key = hit = None
    if hit is None:
        hit = _infer(op, [TensorType(x._data.shape, x.dtype) for x in inputs], attrs)
        if key is not None:
            if len(_eager_types) > 50_000:
                _eager_types.clear()
            _eager_types[key] = hit
    return hit


def _run_eager(op, inputs, attrs):
    out_types, attrs = _eager_infer(op, inputs, attrs)
    for x in inputs:
        if type(x._data) is not np.ndarray:  # a CUDA tensor: the op's CUDA implementation
            for y in inputs:  # a copied view whose base was written since: copied again
                if y._base is not None and y._base[3] and y._copy_version != y._vc[0]:
                    sync_copy(y)
            cuda = storage.cuda_impl()
            outputs = [Tensor._wrap(r) for r in
                       cuda.run(op, [y._data for y in inputs], attrs, out_types)]
            if op.view is not None and op.view.writable:
                shared = cuda.shares_storage(op, [x.shape for x in inputs], attrs,
                                             out_types[0].shape)
                _mark_view(outputs[0], inputs[0], op, attrs, copied=not shared)
            return _record(op, inputs, outputs, attrs)
    try:
        result = storage.cpu.run(op, [x._data for x in inputs], attrs)
    except (IndexError, ValueError, FloatingPointError) as e:
        raise op_error(type(e), op.name, str(e)) from None
    results = result if op.num_outputs != 1 else (result,)
    outputs = []
    for arr, t in zip(results, out_types):
        if not isinstance(arr, np.ndarray) or arr.dtype != t.dtype.np:
            arr = np.asarray(arr, t.dtype.np)
        outputs.append(Tensor._wrap(arr))
    if _debug._state["numerics"]:
        _debug.check_op(op.name, [x._data for x in inputs], [o._data for o in outputs])
    if op.view is not None and np.may_share_memory(outputs[0]._data, inputs[0]._data):
        _mark_view(outputs[0], inputs[0], op, attrs)
    return _record(op, inputs, outputs, attrs)



def _mark_view(view, base, op, attrs, copied=False):
    """The view shares base's storage and version counter; it remembers how it was made so
    that an in-place write through it can rewrite base's history (eager/inplace.py).
    copied: a CUDA strided view is a copy (storage/cuda_ops.py): writes to it are copied
    back into the base."""
    view._vc, view._base = base._vc, (base, op, attrs, copied)
    view._copy_version = base._vc[0]
    no_grad_view = base._requires_grad and not is_grad_enabled()
    view._view_version = -1 if no_grad_view else base._vc[0]


def _record(op, inputs, outputs, attrs):
    """Keep a tape entry when some input requires grad; the op's result(s). An op without
    a gradient rule is recorded too (unless declared non-differentiable), so that backward
    through it raises instead of giving zeros."""
    if op.differentiable and is_grad_enabled():
        for x in inputs:
            if x._requires_grad or (x._base is not None and _stale_view_requires_grad(x)):
                entry = TapeEntry(op, inputs, outputs, attrs)
                for i, o in enumerate(outputs):
                    if o.dtype.is_floating_point:
                        o.grad_fn, o._requires_grad, o._out_nr = entry, True, i
                break
    return outputs[0] if op.num_outputs == 1 else tuple(outputs)


def _stale_view_requires_grad(view):
    """A view of a base that gained a history after the view was made (a write through a
    sibling view): refreshed first."""
    if view._view_version != view._vc[0] and view._view_version >= 0:
        refresh_view(view)
    return view._requires_grad
