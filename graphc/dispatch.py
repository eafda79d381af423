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
from .eager.tape import TapeEntry, refresh_view, sync_copy
from .eager import fast_path
from .eager.fast_path import _NUMBER, _dtype_of, _infer, _mark_view
from .eager.grad_mode import is_grad_enabled
from .eager.tensor import Tensor
from .errors import GraphcError, op_error, user_location
from .ir.graph import Node, Value
from .ops import elementwise, leaves, registry
from .types import DEFAULT_FLOAT, TensorType, scalar_dtype


_numerics = _debug._state  # {"numerics": whether graphc.debug checks every op's values}


def apply(op, inputs, attrs):
    """The general path. Op calls reach it through the eager fast path
    (`fast_path.fast_apply`, registry.dispatch), which serves the calls that a cached plan
    covers and hands every other call here."""
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


fast_path.general, fast_path.numerics = apply, _numerics
registry.dispatch = fast_path.fast_apply


# ---- inputs: scalars and arrays become tensors/constants of the right dtype -------------------
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
