"""graphc.jit: compile eager-style code by tracing it once per input signature.

Calling a jitted function runs it on symbolic placeholders shaped like the call's arrays, so
that every graphc op builds a graph node instead of computing. What the function reaches is
taken along:

- tensors it reads (parameters, optimizer state, captured arrays) become `variable` nodes
  bound to their storage, so the compiled step always sees their current values;
- `loss.backward()` computes symbolic gradients (graphc.grad) and sets them as `.grad` of
  the parameters it reaches, so an optimizer's `step()` can read them;
- in-place writes (`p.add_(...)`, `m.mul_(b)`, `p.copy_(...)`) become the compiled step's
  updates: they are applied after each call, as the eager code would have done.

The graph is compiled (target "cpu" when available) and cached per signature: the shapes and
dtypes of array arguments and the values of every other argument (Python numbers, strings,
None, ...), which are static: each new value traces again.
"""
from __future__ import annotations

import functools
import inspect
import time
import traceback

import numpy as np

from . import autodiff
from .compile import compile as compile_graph
from .dispatch import constant, variable_node
from .eager.tensor import Tensor
from .errors import _INTERNAL, ConcretizationError, GraphcError, SourceLocation
from .ir import graph as graph_module
from .ir.build import placeholder
from .ir.graph import Graph, Value
from .types import as_dtype
from .backends import default_target


class TracingError(GraphcError):
    """A traced function did something that has no static graph (control flow on a value)."""


# ---- pytrees: nested tuples / lists / dicts of leaves -------------------------------------------
def _flatten(tree, leaves):
    """Append tree's leaves to `leaves`; return a hashable description of its structure."""
    if isinstance(tree, (tuple, list)):
        return (type(tree), tuple(_flatten(x, leaves) for x in tree))
    if isinstance(tree, dict):
        keys = tuple(tree)
        return (dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    leaves.append(tree)
    return None


def _unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        if s[0] is dict:
            return {k: build(c) for k, c in zip(s[1], s[2])}
        items = [build(c) for c in s[1]]
        kind = s[0]
        return kind(*items) if hasattr(kind, "_fields") else kind(items)
    return build(structure)


def _is_array(x):
    return isinstance(x, (Tensor, np.ndarray))


def _leaf_key(x):
    if isinstance(x, Tensor):
        return (x._data.shape, x._data.dtype.str)
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype.str)
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"graphc.jit: argument of type {type(x).__name__} is neither an array "
                        f"nor hashable; pass tensors, arrays, numbers or tuples of them") from None
    return (type(x), x)


# ---- the trace in progress ----------------------------------------------------------------------
class _Trace:
    """State of one tracing run: what the function reads, writes and differentiates.

    In-place writes are functional here: a write to a captured tensor makes its next reads
    see the new value and becomes an update of the step (`current`, `written`); a write to a
    symbolic value rebinds it (`latest`): later ops read the new value while ops recorded
    before keep the old one, as in eager mode. A write through a view (`views`) also writes
    its base, and a view whose base was written since is re-derived from the base when read.
    """

    def __init__(self):
        self.captured = {}   # id(tensor) -> tensor read as a variable
        self.current = {}    # id(tensor) -> value after the in-trace writes so far
        self.written = {}    # id(tensor) -> tensor, in order of first write
        self.grads = {}      # id(tensor) -> (tensor, its .grad before tracing)
        self.new_grads = []  # keep_grads: (tensor, its gradient) where .grad was None
        self.grad_guard = {} # id(tensor) -> (tensor, .grad was None when the call began)
        self.cleared = set() # ids of tensors whose .grad zero_grad() set to None in the trace
        self.backing = {}    # id(value) -> the tensor whose value it was when read
        self.latest = {}     # id(value) -> (value, its value after in-place writes)
        self.views = {}      # id(view) -> [view, base, op, attrs, base's writes when set]
        self.writes = {}     # storage key -> number of writes (versions, as in eager)
        self.modules = {}    # id(module) -> module called while tracing (.training guarded)
        self.frozen = 0      # > 0 while gradient rules build nodes: they read node inputs as
        #                      they were, never their later in-place values
        self.born = {}       # id(tensor) -> tensor made while tracing (a temporary, unless it
        #                      becomes state: a parameter, a buffer, optimizer state)

    def read(self, t):
        """The symbolic value of a tensor read by an op: its latest write, or its variable."""
        value = self.current.get(id(t))
        if value is None:
            if self._temporary(t):  # made by the traced code: its value is a constant
                value = self.current[id(t)] = constant(np.array(t._data), t.name)
            else:
                self.captured[id(t)] = t
                value = variable_node(t)
        self.backing[id(value)] = t
        return value

    def _temporary(self, t):
        return id(t) in self.born and not (t._persistent or t._requires_grad)

    def write(self, t, result):
        """An in-place write to `t`: recorded as an update of the step, not executed."""
        if not isinstance(result, Value):
            data = result._data if isinstance(result, Tensor) else result
            result = constant(np.broadcast_to(np.asarray(data, t._data.dtype), t.shape))
        if result.dtype is not t.dtype:
            result = result.to(t.dtype)
        if tuple(result.shape) != tuple(t.shape):
            result = result.expand(t.shape)
        self.read(t)  # binds its variable before the first write
        self.current[id(t)] = result
        self.written[id(t)] = t
        key = ("tensor", id(t))
        self.writes[key] = self.writes.get(key, 0) + 1
        return t

    # ---- in-place writes on symbolic values ------------------------------------------------------
    def _storage(self, v):
        while id(v) in self.views:
            v = self.views[id(v)][1]
        t = self.backing.get(id(v))
        return ("tensor", id(t)) if t is not None else id(v)

    def note_view(self, view, base, op, attrs):
        """A view op's result: writes through it reach its base (dispatch calls this)."""
        if op.name in _WRITABLE_VIEWS:
            self.views[id(view)] = [view, base, op, attrs, self.writes.get(self._storage(base), 0)]

    def resolve(self, v):
        """The value a symbolic value stands for now, after the writes traced so far."""
        while True:
            now = self._resolve_once(v)
            if now is v:
                return v
            v = now

    def _resolve_once(self, v):
        t = self.backing.get(id(v))
        if t is not None:
            return self.read(t)
        info = self.views.get(id(v))
        if info is not None:
            count = self.writes.get(self._storage(v), 0)
            if info[4] != count:  # its base was written since: derive it again
                _, base, op, attrs, _ = info
                self.latest[id(v)] = (v, op(self.resolve(base), **attrs))
                info[4] = count
        entry = self.latest.get(id(v))
        return v if entry is None else entry[1]

    def write_value(self, v, new, strict_dtype=True):
        """`v` (a symbolic value) written in place with `new`; returns v."""
        from .eager.inplace import can_cast
        if not isinstance(new, Value):
            new = constant(np.asarray(new._data if isinstance(new, Tensor) else new))
        if strict_dtype and not can_cast(new.dtype, v.dtype):
            raise TracingError(f"result type {new.dtype.name} can't be cast to the desired "
                               f"output type {v.dtype.name}")
        if tuple(new.shape) != tuple(v.shape):
            if len(new.shape) > len(v.shape) or strict_dtype:
                raise TracingError(f"output with shape {list(v.shape)} doesn't match the "
                                   f"broadcast shape {list(new.shape)}")
            new = new.expand(v.shape)
        if new.dtype is not v.dtype:
            new = new.to(v.dtype)
        t = self.backing.get(id(v))
        if t is not None:
            self.write(t, new)
            return v
        info = self.views.get(id(v))
        if info is not None:
            _, base, op, attrs, _ = info
            self.write_value(base, _scatter_back(self.resolve(base), new, op, attrs), False)
            info[4] = self.writes.get(self._storage(v), 0)
        else:
            self.writes[id(v)] = self.writes.get(id(v), 0) + 1
        self.latest[id(v)] = (v, new)
        return v

    def grads_cleared(self, tensors):
        """zero_grad() set these .grad to None inside the trace: the step does not depend on
        whether they were None before the call."""
        self.cleared.update(id(t) for t in tensors)

    def guard_modules(self, modules):
        """Modules called while tracing: the trace holds for their current .training."""
        for m in modules:
            self.modules.setdefault(id(m), m)

    def backward(self, loss, gradient):
        """loss.backward() while tracing: symbolic .grad for every parameter `loss` reaches."""
        loss = self.resolve(loss)
        reached = {id(v) for n in Graph.from_outputs([loss]).nodes for v in n.outputs}
        params = [t for t in self.captured.values()
                  if t._requires_grad and id(self.read(t)) in reached]
        if not params:
            raise GraphcError("loss.backward() inside graphc.jit: the loss does not depend on "
                              "any tensor with requires_grad=True")
        grads = autodiff.grad(loss, [self.read(t) for t in params], gradient)
        for t, g in zip(params, grads):
            self.grads.setdefault(id(t), (t, t.grad))
            if id(t) not in self.cleared:  # backward adds to a .grad from before the call
                self.grad_guard.setdefault(id(t), (t, t.grad is None))
            if t.grad is not None:  # accumulate, as eager backward does
                g = (t.grad if isinstance(t.grad, Value) else self.read(t.grad)) + g
            t.grad = g

    def finish(self, keep_grads):
        """Restore .grad attributes; with keep_grads, the final gradients are visible after
        each call: added into an existing .grad tensor (an update of the step), or, where
        .grad was None, a new .grad tensor per call (an extra output, `new_grads`)."""
        self.new_grads = []
        for t, before in self.grads.values():
            final = t.grad
            t.grad = before
            if keep_grads and isinstance(final, Value):
                if t.grad is None:
                    self.new_grads.append((t, final))
                else:
                    self.write(t.grad, final)

    def updates(self):
        """(variable, new value) per tensor that the step writes; a temporary made by the
        traced code is no state of the step, so writing it updates nothing."""
        return [(variable_node(t), self.current[key]) for key, t in self.written.items()
                if not self._temporary(t)]


_WRITABLE_VIEWS = ("slice", "reshape", "squeeze", "unsqueeze", "permute")


def _scatter_back(base, view_value, op, attrs):
    """base's new value after its view (made by op with attrs) was written with view_value."""
    from .ops import shape as S
    if op.name == "slice":
        return S.index_put(base, view_value, index=attrs["index"])
    if op.name == "permute":
        return S.permute(view_value, dims=tuple(int(d) for d in np.argsort(attrs["dims"])))
    return S.reshape(view_value, shape=tuple(base.shape))


class _Guard:
    """What a trace assumed beyond its arguments: each module's .training and whether each
    parameter's .grad was None (backward adds to an existing .grad). A call where one of
    them changed traces again."""

    def __init__(self, trace):
        self.modules = list(trace.modules.values())
        self.training = tuple(m.training for m in self.modules)
        self.params = [t for t, _ in trace.grad_guard.values()]
        self.grad_none = tuple(was_none for _, was_none in trace.grad_guard.values())

    def holds(self):
        return (tuple(m.training for m in self.modules) == self.training
                and tuple(t.grad is None for t in self.params) == self.grad_none)


def _trace_call(fn, args, kwargs, keep_grads):
    """Run fn under a fresh trace; return (its outputs, the trace)."""
    if Tensor._trace is not None:
        raise TracingError("graphc.jit: a jitted function was called while another one is being "
                           "traced; nesting is not supported (call the inner function directly)")
    trace = _Trace()
    Tensor._trace, graph_module.trace_backward = trace, trace.backward
    try:
        result = fn(*args, **kwargs)
        trace.finish(keep_grads)
    except ConcretizationError as e:
        trace.finish(False)
        raise _control_flow_error(fn, e) from None
    except BaseException:
        trace.finish(False)
        raise
    finally:
        Tensor._trace, graph_module.trace_backward = None, None
    return result, trace


def _control_flow_error(fn, error):
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith(_INTERNAL)]
    where = ""
    if frames:
        f = frames[-1]
        where = f"\n  at {SourceLocation(f.filename, f.lineno, f.line or '')}"
    return TracingError(
        f"graphc.jit({_name(fn)}): {error}{where}\n"
        f"While tracing, tensors are symbolic: their values exist only when the compiled graph "
        f"runs, so Python cannot branch on them or convert them to numbers. Select values with "
        f"graphc.where(cond, a, b), compute such conditions outside the jitted function, or "
        f"pass them as Python numbers (static arguments: each new value traces again).")


def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# ---- one traced and compiled specialization -------------------------------------------------------
class Specialization:
    """The graph and executable for one input signature, with the cost of making them."""

    def __init__(self, graph, executable, out_structure, out_leaves, trace_seconds,
                 compile_seconds):
        self.graph = graph
        self.executable = executable
        self.out_structure = out_structure
        self.out_leaves = out_leaves  # per output leaf: int (executable output) or a constant
        self.trace_seconds = trace_seconds      # running fn on placeholders
        self.compile_seconds = compile_seconds  # graphc.compile
        self.first_run_seconds = None           # first call: where lazy targets compile
        self.write_back = []  # (feed index, output index): arguments written in place
        self.grad_outputs = []  # (parameter, output index): its new .grad (keep_grads)
        self.guard = None     # _Guard: module modes and .grad presence the trace assumed

    def run(self, feeds):
        results = self.executable(*feeds) if self.executable is not None else []
        for i, j in self.write_back:
            np.copyto(feeds[i], np.asarray(results[j]._data if isinstance(results[j], Tensor)
                                           else results[j]))
        for t, j in self.grad_outputs:
            g = results[j]
            t.grad = g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g))
        if self.out_structure is None:  # a single leaf: the common `return loss`
            x = self.out_leaves[0]
            return results[x] if type(x) is int else x.value
        leaves = [results[x] if type(x) is int else x.value for x in self.out_leaves]
        return _unflatten(self.out_structure, leaves)


class _Static:
    """An output leaf that is not symbolic: returned as it was."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Jitted:
    """A function compiled per input signature; see graphc.jit."""

    def __init__(self, fn, target=None, keep_grads=False):
        self.fn = fn
        self.target = target
        self.keep_grads = keep_grads
        self.retraces = 0  # how many times fn was traced (once per new signature)
        self._cache = {}
        self._fast = {}  # (class, shape, dtype) per positional array argument -> the same entries
        self._last = None
        try:
            self._arg_names = [p.name for p in inspect.signature(fn).parameters.values()]
        except (TypeError, ValueError):
            self._arg_names = []
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        fast_key = None
        if not kwargs:  # fast path: positional arrays only, the signature seen before
            try:
                fast_key = tuple([(a.__class__, a.shape, a.dtype) for a in args])
                spec = self._fast.get(fast_key)
            except (AttributeError, TypeError):
                fast_key = spec = None
            if spec is not None and (spec.guard is None or spec.guard.holds()):
                self._last = spec
                return spec.run([a if a.__class__ is np.ndarray else a._data for a in args])
        leaves = []
        structure = _flatten((args, kwargs), leaves)
        key = (structure, tuple(_leaf_key(x) for x in leaves))
        spec = self._lookup(key)
        new = spec is None
        if new:
            spec = self._specialize(structure, leaves)
            self._cache.setdefault(key, []).append(spec)
        if fast_key is not None and all(_is_array(a) for a in args):
            self._fast[fast_key] = spec
        self._last = spec
        feeds = [x._data if isinstance(x, Tensor) else x for x in leaves if _is_array(x)]
        if not new or spec.first_run_seconds is not None:
            return spec.run(feeds)
        start = time.perf_counter()
        result = spec.run(feeds)
        spec.first_run_seconds = time.perf_counter() - start  # lazy targets compile here
        return result

    # ---- inspection -------------------------------------------------------------------------------
    def specialization(self, *args, **kwargs):
        """The Specialization (graph, executable, timings) for these arguments, traced if new."""
        leaves = []
        structure = _flatten((args, kwargs), leaves)
        key = (structure, tuple(_leaf_key(x) for x in leaves))
        spec = self._lookup(key)
        if spec is None:
            spec = self._specialize(structure, leaves)
            self._cache.setdefault(key, []).append(spec)
        return spec

    def _lookup(self, key):
        """The specialization for this signature whose guard holds (modules' .training and
        .grad presence as when it was traced), or None."""
        for spec in self._cache.get(key, ()):
            if spec.guard is None or spec.guard.holds():
                return spec
        return None

    def graph(self, *args, **kwargs) -> Graph:
        """The traced graph for these arguments (outputs and updated values)."""
        return self.specialization(*args, **kwargs).graph

    @property
    def executable(self):
        """The executable of the most recent call."""
        if self._last is None:
            raise GraphcError(f"graphc.jit({_name(self.fn)}) has not been called yet; use "
                              f".specialization(*args) to trace without running")
        return self._last.executable

    @property
    def signatures(self):
        return sum(len(specs) for specs in self._cache.values())

    def __repr__(self):
        return (f"<graphc.jit {_name(self.fn)}: {self.retraces} traces, "
                f"target={self.target or default_target()!r}>")

    # ---- tracing ----------------------------------------------------------------------------------
    def _specialize(self, structure, leaves):
        start = time.perf_counter()
        symbolic, inputs = [], []
        names = self._leaf_names(structure, len(leaves))
        for x, name in zip(leaves, names):
            if _is_array(x):
                arr = x._data if isinstance(x, Tensor) else x
                p = placeholder(arr.shape, as_dtype(arr.dtype), name=name)
                inputs.append(p)
                symbolic.append(p)
            else:
                symbolic.append(x)
        args, kwargs = _unflatten(structure, symbolic)
        result, trace = _trace_call(self.fn, args, kwargs, self.keep_grads)
        out_leaves_raw = []
        out_structure = _flatten(result, out_leaves_raw)
        outputs, out_leaves = [], []
        for leaf in out_leaves_raw:
            if isinstance(leaf, Value):
                out_leaves.append(len(outputs))
                outputs.append(trace.resolve(leaf))
            elif isinstance(leaf, Tensor) and id(leaf) in trace.current \
                    and trace._temporary(leaf):  # made and written by the traced code: its
                out_leaves.append(len(outputs))  # value, new each call (state comes back as
                outputs.append(trace.current[id(leaf)])  # itself, updated)
            else:
                out_leaves.append(_Static(leaf))
        grad_outputs = []  # keep_grads: .grad of parameters whose .grad was None
        for t, g in trace.new_grads:
            grad_outputs.append((t, len(outputs)))
            outputs.append(g)
        # arguments written in place: their new values are copied back after each call
        write_back = []
        for i, p in enumerate(inputs):
            now = trace.resolve(p)
            if now is not p:
                write_back.append((i, len(outputs)))
                outputs.append(now)
        updates = trace.updates()
        traced = time.perf_counter()
        executable = graph = None
        if outputs or updates:
            executable = compile_graph(outputs, inputs, updates,
                                       target=self.target or default_target())
            graph = executable.graph
        else:
            graph = Graph([], inputs, [])
        self.retraces += 1
        spec = Specialization(graph, executable, out_structure, out_leaves, traced - start,
                              time.perf_counter() - traced)
        spec.write_back = write_back
        spec.grad_outputs = grad_outputs
        spec.guard = _Guard(trace) if trace.modules or trace.grad_guard else None
        return spec

    def _leaf_names(self, structure, n):
        """Readable placeholder names: the parameter's name, with an index when nested."""
        names = []
        arg_structs = structure[1][0][1]  # ((args tuple), (kwargs dict))
        kw = structure[1][1]

        def walk(s, base):
            if s is None:
                names.append(base)
                return
            children = s[2] if s[0] is dict else s[1]
            labels = s[1] if s[0] is dict else range(len(children))
            for label, c in zip(labels, children):
                walk(c, f"{base}_{label}")
        for i, s in enumerate(arg_structs):
            walk(s, self._arg_names[i] if i < len(self._arg_names) else f"arg{i}")
        for key, s in zip(kw[1], kw[2]):
            walk(s, str(key))
        seen, out = set(), []
        for name in names:
            unique, k = name, 1
            while unique in seen:
                unique, k = f"{name}.{k}", k + 1
            seen.add(unique)
            out.append(unique)
        return out


def jit(fn=None, *, target=None, keep_grads=False):
    """Compile an eager-style function by tracing it; usable as `@graphc.jit` or
    `graphc.jit(fn, target="cpu")`.

    Array arguments (tensors, NumPy arrays, nested in tuples/lists/dicts) become placeholders
    of their shape and dtype; every other argument is static (part of the cache key). The
    function may call `loss.backward()`, optimizers' `step()` and in-place updates: they become
    the compiled step's gradients and updates. `keep_grads=True` also writes the final
    gradients into the parameters' `.grad` after each call (an extra copy per step).
    `retraces` counts traces; `graph(*args)` and `executable` show what was compiled.
    """
    if fn is None:
        return functools.partial(jit, target=target, keep_grads=keep_grads)
    if not callable(fn):
        raise TypeError(f"graphc.jit expects a function, got {type(fn).__name__}")
    return Jitted(fn, target=target, keep_grads=keep_grads)
