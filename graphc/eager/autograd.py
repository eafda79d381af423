"""Eager autograd: tape entries (PyTorch's grad_fn) and backward through the shared sweep."""
from __future__ import annotations

import numpy as np

import sys

from .. import storage
from ..autodiff import backward_sweep
from ..errors import GraphcError
from .anomaly import _state as _anomaly, check_gradients, note_location
from .fast_vjp import eager_vjp
from .grad_mode import _state as _grad_mode
from .hooks import (_early_accumulation, _hooked, _retaining, _run_backward_callbacks,
                    _run_grad_hooks, _tensor_hooks, apply_tensor_hooks, hooks_before_rule)
from .tensor import Tensor as _Tensor
from ..types import DType


def _camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


class AccumulateGrad:
    """The grad_fn-like end point of a leaf tensor that requires grad (as in PyTorch)."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


def edge_of(t):
    """Where the gradient of t's current value goes, fixed when an op reads t: (the entry that
    made it, output index) for a computed tensor, the tensor itself for a leaf that requires
    grad, None for a constant. Entries keep edges rather than tensors so that an in-place
    write, which gives the tensor a new grad_fn, leaves the readers of its old value alone."""
    if t._base is not None and t._view_version != t._vc[0] and t._view_version >= 0:
        refresh_view(t)
    if not t._requires_grad:
        return None
    fn = t.grad_fn
    return t if fn is None else (fn, t._out_nr)


def edge_key(edge):
    """The cotangent key of an edge: id(leaf) or (id(entry), output index)."""
    return id(edge) if type(edge) is not tuple else (id(edge[0]), edge[1])


def refresh_view(t):
    """A view whose storage was written through its base or a sibling view (its version
    moved since its history was set): its history becomes `view(base)` of the base's
    current history, as PyTorch regenerates it. (Views made under no_grad of a base that
    requires grad have _view_version -1: they never join the base's history.)"""
    base, op, attrs = t._base[:3]
    if base._base is not None and base._view_version != base._vc[0] \
            and base._view_version >= 0:
        refresh_view(base)
    t._view_version = t._vc[0]
    if base._requires_grad:
        t.grad_fn, t._out_nr, t._requires_grad = TapeEntry(op, (base,), (t,), attrs), 0, True


def sync_copy(t):
    """A CUDA strided view holds a copy of its base's elements (storage/cuda_ops.py): once
    the base was written, the copy is taken again before the view is read or written."""
    base, op, attrs, _ = t._base
    if base._base is not None and base._base[3] and base._copy_version != base._vc[0]:
        sync_copy(base)
    from .grad_mode import no_grad
    with no_grad():
        fresh = op(base, **attrs)
    storage.write(t._data, fresh._data)
    t._copy_version = t._vc[0]


_object_new = object.__new__
_new = _Tensor._new
_reads_memo: dict = {}  # (op, which inputs need a gradient) -> (input indices, outputs?)


def saved_values(op, inputs, outputs, edges):
    """The tensors whose values op's gradient rule reads (their versions are checked at
    backward, as PyTorch checks saved tensors). Decided once per op from `saves` (all
    inputs or none, outputs or not), or per (op, which inputs need a gradient) for ops with
    a `reads` rule (mul, div, index)."""
    try:
        all_inputs, with_outputs = _reads_memo[op]
    except KeyError:
        if getattr(op, "reads", None) is not None:  # (not every tape op is a registry Op)
            _reads_memo[op] = None, None
        else:
            _reads_memo[op] = "inputs" in op.saves, "outputs" in op.saves
        return saved_values(op, inputs, outputs, edges)
    if all_inputs is None:  # depends on which inputs need a gradient
        needs = (edges[0] is not None, edges[1] is not None) if len(edges) == 2 else \
            tuple([e is not None for e in edges])  # (binary ops spelled out: most calls)
        try:
            indices, with_outputs = _reads_memo[op, needs]
        except KeyError:
            indices, with_outputs = op.reads(needs)
            if not isinstance(with_outputs, bool):  # some outputs only: their indices
                with_outputs = tuple(with_outputs)
            indices, with_outputs = _reads_memo[op, needs] = tuple(indices), with_outputs
        if type(with_outputs) is tuple:
            return tuple([inputs[i] for i in indices]) + tuple([outputs[i] for i in with_outputs])
        if indices:
            saved = (inputs[indices[0]],) if len(indices) == 1 else \
                tuple([inputs[i] for i in indices])
            return saved + outputs if with_outputs else saved
    elif all_inputs:
        return inputs + outputs if with_outputs else inputs
    return outputs if with_outputs else ()


def versions(saved):
    """((version counter, its value now, array), ...) for the saved tensors: checked at
    backward, as PyTorch checks saved tensors. The tensors themselves are not kept (an
    output's would make a reference cycle: see TapeEntry)."""
    if len(saved) == 1:
        t = saved[0]
        vc = t._vc
        return ((vc, vc[0], t._data),)
    out = []
    for t in saved:
        vc = t._vc
        out.append((vc, vc[0], t._data))
    return tuple(out)


def output_tensor(entry, i, arr, vc):
    """A tensor for output i of `entry`, made from what the entry keeps: arr and its
    version counter, entry as its grad_fn when it is floating (rules differentiated again
    with create_graph reach the entry through it)."""
    t = _new(arr)
    t._vc = vc
    if DType._by_np[arr.dtype].is_floating_point:
        t.grad_fn, t._requires_grad, t._out_nr = entry, True, i
    return t


class TapeEntry:
    """One recorded eager op: what backward needs to call the op's gradient rule.

    The entry keeps its outputs as (array, version counter) pairs (`outs`), never as
    tensors: an output holds its grad_fn, so an entry holding the output would make a
    reference cycle per op, which only the cyclic garbage collector frees (PyTorch's
    SavedVariable keeps an output's data without its grad_fn for the same reason). The
    `outputs` property makes tensors from them where a gradient rule needs them."""

    __slots__ = ("op", "attrs", "inputs", "outs", "edges", "saved", "released",
                 "location", "__weakref__")  # location: set only under detect_anomaly

    def __init__(self, op, inputs, outputs, attrs):
        self.op, self.inputs, self.attrs = op, tuple(inputs), attrs
        outputs = tuple(outputs)
        self.outs = tuple([(o._data, o._vc) for o in outputs])
        edges = []
        for t in self.inputs:  # edge_of, inlined
            if t._base is not None and t._view_version != t._vc[0] and t._view_version >= 0:
                refresh_view(t)
            if t._requires_grad:
                fn = t.grad_fn
                edges.append(t if fn is None else (fn, t._out_nr))
            else:
                edges.append(None)
        self.edges = tuple(edges)
        self.released = False
        self.saved = versions(saved_values(op, self.inputs, outputs, self.edges))
        if _anomaly.enabled:
            note_location(self)

    @property
    def outputs(self):
        """The outputs as tensors (new ones, sharing storage and version counters)."""
        return tuple([output_tensor(self, i, arr, vc) for i, (arr, vc) in enumerate(self.outs)])

    def set_output(self, i, t):
        """Output i is now tensor t (an in-place write copied the op's result into t)."""
        outs = list(self.outs)
        outs[i] = (t._data, t._vc)
        self.outs = tuple(outs)

    def record_versions(self):
        """Remember the versions of the tensors whose values the gradient rule reads."""
        self.saved = versions(saved_values(self.op, self.inputs, self.outputs, self.edges))

    def keys(self):
        """(cotangent keys of the outputs, of the inputs: None where no gradient goes)."""
        me = id(self)
        outs = ((me, 0),) if len(self.outs) == 1 else \
            tuple([(me, i) for i in range(len(self.outs))])
        ins = []
        for e in self.edges:
            ins.append(None if e is None else id(e) if type(e) is not tuple else (id(e[0]), e[1]))
        return outs, ins

    def name(self):
        return f"{_camel(self.op.name)}Backward0"

    @property
    def next_functions(self):
        """(grad_fn, 0) per input, like PyTorch's, for drawing the tape."""
        out = []
        for e in self.edges:
            if e is None:
                out.append((None, 0))
            elif type(e) is tuple:
                out.append(e)
            else:
                out.append((AccumulateGrad(e), 0))
        return tuple(out)

    def check_versions(self):
        for vc, v, arr in self.saved:
            if vc[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{DType._by_np[arr.dtype].name} {list(arr.shape)}], "
                    f"which is output 0 of {self.name()}, is at version {vc[0]}; expected "
                    f"version {v} instead.")

    def __repr__(self):
        return f"<{self.name()}>"


def _backward_twice(entry):
    return RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved "
        "tensors after they have already been freed). Specify retain_graph=True if you "
        "need to backward through the graph a second time.")


def tape_entries(roots, freed_error=_backward_twice):
    """Tape entries reachable from the grad_fns `roots`, inputs before users (a depth-first
    post-order, inputs in order). An entry freed by an earlier backward raises
    freed_error(entry) (None: freed entries are listed too)."""
    order, seen = [], set()
    for root in roots:
        if root is None or root in seen:
            continue
        if root.released and freed_error is not None:
            raise freed_error(root)
        seen.add(root)
        stack = [(root, iter(root.edges))]
        while stack:
            entry, edges = stack[-1]
            for e in edges:
                if type(e) is tuple:
                    fn = e[0]
                    if fn not in seen:  # (entries hash by identity)
                        if fn.released and freed_error is not None:
                            raise freed_error(fn)
                        seen.add(fn)
                        stack.append((fn, iter(fn.edges)))
                        break
            else:
                stack.pop()
                order.append(entry)
    return order


def _leading_to(entries, keys):
    """The entries (in tape_entries' order) with a path to a cotangent key of `keys`: what
    autograd.grad and backward(inputs=) run, as PyTorch's engine runs only the nodes that
    lead to an input. An entry freed by an earlier backward raises only if it is needed."""
    needed, out = set(), []
    for e in entries:
        for edge in e.edges:
            if edge is not None and (type(edge) is tuple and edge[0] in needed
                                     or edge_key(edge) in keys):
                if e.released:
                    raise _backward_twice(e)
                needed.add(e)
                out.append(e)
                break
    return out


class InPlaceSums:
    """Adds the cotangents that meet at one key during backward, as PyTorch's engine does:
    the first sum is a new tensor, which belongs to the sweep (`owned`); later ones are
    added into it in place. A sum handed to a gradient rule stops being owned (the rule may
    return it as is, e.g. add's, so that it becomes another key's cotangent too). Not used
    with create_graph (the sums must stay differentiable)."""

    __slots__ = ("owned",)

    def __init__(self):
        self.owned = set()

    def add(self, total, g):
        a, b = total._data, g._data
        if id(total) in self.owned and type(a) is np.ndarray and type(b) is np.ndarray \
                and a.shape == b.shape and a.dtype == b.dtype:
            np.add(a, b, out=a)
            return total
        from .. import functional as F
        total = F.add(total, g)
        self.owned.add(id(total))
        return total


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate from `outputs`; accumulate into .grad of leaves (or return grads of
    `inputs` when given, like torch.autograd.grad)."""
    seeds, roots = {}, []
    for out, g in zip(outputs, grad_outputs):
        edge = edge_of(out)
        if edge is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = _ones_like(out._data)
        elif not isinstance(g, _Tensor):
            g = _Tensor._wrap(g, out.dtype)
        if g._data.shape != out._data.shape and tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(g.shape)} "
                               f"and output[0] has a shape of {list(out.shape)}.")
        key = edge_key(edge)
        seeds[key] = g if key not in seeds else seeds[key] + g
        roots.append(edge[0] if type(edge) is tuple else None)
    if inputs is None:
        entries = tape_entries(roots)
    else:
        entries = tape_entries(roots, freed_error=None)
        reached = {id(e) for e in entries}  # (for the tensors that retain their gradient)
        entries = _leading_to(entries, {edge_key(e) for t in inputs
                                        if (e := edge_of(t)) is not None})
    targets = {} if inputs is None else None  # cotangent key -> tensor whose .grad receives it
    for e in entries:  # saved versions checked and leaves found in one pass
        for vc, v, _ in e.saved:
            if vc[0] != v:
                e.check_versions()
        if targets is not None:
            for edge in e.edges:
                if edge is not None and type(edge) is not tuple:
                    targets[id(edge)] = edge
    retained = {}  # computed tensors that retain their gradient (autograd.grad fills them too)
    if _retaining:
        swept = {id(e) for e in entries} if inputs is None else reached
        for ref in list(_retaining.values()):
            t = ref()
            if t is not None and t._retains_grad and id(t.grad_fn) in swept:
                retained[(id(t.grad_fn), t._out_nr)] = t
        if targets is not None:
            targets.update(retained)
    early = _early_accumulation(entries, inputs, create_graph, _accumulate)
    previous = _grad_mode.enabled
    _grad_mode.enabled = bool(create_graph)
    try:
        cts = backward_sweep(entries, seeds, TapeEntry.keys,
                             sums=None if create_graph else InPlaceSums(),
                             after_entry=early.after_entry if early else None,
                             before_rule=hooks_before_rule if _tensor_hooks else None,
                             check=check_gradients if _anomaly.enabled else None,
                             fast_rule=None if create_graph else eager_vjp)
        if _tensor_hooks:  # leaves' hooks, before accumulation (early ones ran already);
            # with `inputs` (autograd.grad), only theirs: other leaves are not accumulated
            leaves = [k for k in cts if type(k) is not tuple] if inputs is None else \
                [edge_key(e) for t in inputs if (e := edge_of(t)) is not None]
            for key in leaves:
                if key in _tensor_hooks and key in cts and not (early and key in early.done):
                    apply_tensor_hooks(key, cts)
    finally:
        _grad_mode.enabled = previous
    del seeds  # (a seed that reaches a leaf unchanged may become its .grad: _accumulate)
    if inputs is not None:
        result = tuple(None if (e := edge_of(t)) is None else cts.get(edge_key(e))
                       for t in inputs)
        for key, t in retained.items():
            g = cts.get(key)
            if g is not None:  # (a copy: the gradient returned is the caller's own)
                _accumulate(t, g.clone() if create_graph else g, create_graph)
    else:
        result = None
        for t in outputs:
            if t.grad_fn is None or t._retains_grad:
                targets[edge_key(edge_of(t))] = t
        # only the targets' cotangents are kept (the others let go of theirs, so that
        # _accumulate may take a buffer no intermediate key holds), each taken out in turn
        cts = {key: cts[key] for key in targets if key in cts}
        for key, t in targets.items():
            if early and key in early.done:
                continue
            g = cts.pop(key, None)
            if g is None:
                continue
            take = t.grad is None and not create_graph and _sole_owner(g)
            _accumulate(t, g, create_graph, take)
            if early and _hooked(t):
                _run_grad_hooks(t)
        if early:
            _run_backward_callbacks()
    if not retain_graph:
        for e in entries:
            e.released = True
            e.inputs, e.outs, e.saved, e.edges = (), (), (), ()  # frees saved values
    return result


_ONES: dict = {}  # (shape, dtype) -> an array of ones that seeds copy


def _ones_like(arr):
    """A new tensor of ones like arr (the implicit seed of a scalar's backward)."""
    if type(arr) is not np.ndarray:
        return _Tensor._wrap(storage.ones_like(arr))
    key = arr.shape, arr.dtype
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(arr.shape, arr.dtype)
    return _Tensor._new(ones.copy())


def _accumulate(t, g, create_graph, take=False):
    """Add the cotangent `g` into the leaf's .grad: a copy the first time, unless `take`
    (_sole_owner(g) said nothing else can see g's buffer: .grad takes it, as PyTorch's
    AccumulateGrad steals the gradient); later steps add in place (the storage layer does
    it on either device)."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        arr = g._data
        if take and arr.dtype is t._data.dtype and arr.shape == t._data.shape:
            t.grad = _Tensor._new(arr)
        else:
            t.grad = _Tensor._wrap(storage.clone(arr), t.dtype)
    else:
        storage.add_into(t.grad._data, g._data)


def _sole_owner(g, _limits=None):
    """Whether g's array may become a .grad without a copy. Call it as `x = _sole_owner(g)`
    with g held by one local variable of the caller and by nothing else of the sweep: g
    must be a plain CPU tensor whose array owns its memory (not a view: arr.base is None),
    writable and contiguous; the array held by g alone (no other tensor wraps it, no NumPy
    view of it exists) and g by the caller alone (not by the cotangents under another key,
    a seed, a hook, a user's variable). The reference counts are compared with those of a
    fresh tensor held the same way (_FRESH, counted at import), so that the test does not
    depend on how the interpreter counts references."""
    if type(g) is not _Tensor:
        return False
    arr = g._data
    if type(arr) is not np.ndarray or arr.base is not None:
        return False
    flags = arr.flags
    if not (flags.writeable and flags.c_contiguous):
        return False
    del arr, flags
    counts = sys.getrefcount(g), sys.getrefcount(g._data)
    if _limits is _COUNT:
        return counts
    return counts[0] <= _FRESH[0] and counts[1] <= _FRESH[1]


_COUNT = object()


def _fresh_counts():
    g = _Tensor._new(np.zeros(1, np.float32))
    counts = _sole_owner(g, _COUNT)
    return counts


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """torch.autograd.grad for eager tensors: gradients of outputs w.r.t. inputs."""
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    inputs_list = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if any(getattr(o, "is_symbolic", False) for o in outputs):  # graphc.jit, static graphs
        from ..static_grad import grad as symbolic_grad  # (symbolic results: always
        return tuple(symbolic_grad(outputs, inputs_list, grad_outputs,  # differentiable)
                                   allow_unused=bool(allow_unused)))
    retain = create_graph if retain_graph is None else retain_graph
    grads = run_backward(outputs, grad_outputs, retain, create_graph, inputs=inputs_list)
    for t, g in zip(inputs_list, grads):
        if g is None and not allow_unused:
            raise GraphcError("One of the differentiated Tensors appears to not have been used "
                              "in the graph. Set allow_unused=True if this is the desired "
                              "behavior.")
    return tuple(g if create_graph or g is None else g.detach() for g in grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """torch.autograd.backward: accumulate into .grad of the leaves the tensors reach (only
    of `inputs`, when given)."""
    Tensor = _Tensor
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(grad_tensors)} tensors and {len(tensors)} gradients")
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(tensors, grad_tensors, retain, create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    grads = run_backward(tensors, grad_tensors, retain, create_graph, inputs=inputs)
    for t, g in zip(inputs, grads):
        if g is not None:
            _accumulate(t, g, create_graph)


_FRESH = _fresh_counts()  # (see _sole_owner)
