"""The eager tape: entries (PyTorch's grad_fn) recorded as ops run, and walks over them.

An entry keeps the op, its attributes, where each input's gradient goes (an edge: the
entry and output index that made the input, or the leaf tensor itself), the values its
gradient rule reads (with their version counters, to catch in-place writes) and its outputs
as (array, version counter) pairs, never as tensors: a recorded op makes no reference cycle
and its results are freed by reference counting (PyTorch's SavedVariable). Backward
(eager/autograd.py) walks the entries with tape_entries.
"""
from __future__ import annotations

from .. import storage
from ..types import DType
from .anomaly import _state as _anomaly, note_location
from .tensor import Tensor as _Tensor


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
# What an entry saves: positions among the call's tensors, an input's index or -1 - j for
# output j. Interned, so that the fast path (eager/fast_path.py) tells the common cases apart
# by identity.
SAVES_NOTHING, SAVES_FIRST, SAVES_SECOND, SAVES_INPUTS, SAVES_OUTPUT, SAVES_IN_OUT = \
    (), (0,), (1,), (0, 1), (-1,), (0, -1)
_interned = {p: p for p in (SAVES_NOTHING, SAVES_FIRST, SAVES_SECOND, SAVES_INPUTS,
                            SAVES_OUTPUT, SAVES_IN_OUT)}


def _positions(inputs, outputs):
    """The interned positions of these input indices and output indices."""
    p = tuple(inputs) + tuple([-1 - j for j in outputs])
    return _interned.setdefault(p, p)


class SavesWhen(dict):
    """Positions saved per `needs_input_grad` of an op whose gradient rule reads different
    values depending on it (op.reads: mul reads the other input)."""

    def __init__(self, op, num_outputs):
        super().__init__()
        self.op, self.num_outputs = op, num_outputs

    def __missing__(self, needs):
        indices, with_outputs = self.op.reads(needs)
        if isinstance(with_outputs, bool):
            with_outputs = range(self.num_outputs) if with_outputs else ()
        p = self[needs] = _positions(indices, with_outputs)
        return p


_reads_memo: dict = {}  # (op, inputs, outputs) -> positions, or their SavesWhen


def saves_of(op, num_inputs, num_outputs):
    """What op's gradient rule reads, decided once per op and arity: positions (see above)
    from its `saves` (all inputs or none, outputs or not), or a SavesWhen for ops with a
    `reads` rule (mul, div, index)."""
    key = (op, num_inputs, num_outputs)
    saves = _reads_memo.get(key)
    if saves is None:
        if getattr(op, "reads", None) is not None:  # (not every tape op is a registry Op)
            saves = SavesWhen(op, num_outputs)
        else:
            saves = _positions(range(num_inputs) if "inputs" in op.saves else (),
                               range(num_outputs) if "outputs" in op.saves else ())
        _reads_memo[key] = saves
    return saves


def saved_tensors(positions, inputs, outputs):
    return [inputs[i] if i >= 0 else outputs[-1 - i] for i in positions]


def saved_values(op, inputs, outputs, edges):
    """The tensors whose values op's gradient rule reads (their versions are checked at
    backward, as PyTorch checks saved tensors)."""
    saves = saves_of(op, len(inputs), len(outputs))
    if type(saves) is SavesWhen:
        saves = saves[tuple([e is not None for e in edges])]
    return saved_tensors(saves, inputs, outputs)


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


def leading_to(entries, keys):
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
