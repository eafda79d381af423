"""The trace in progress while graphc.jit runs a function on symbolic placeholders: what the
function reads (tensors become variables), writes (in-place writes become the step's updates,
or rebind symbolic values), differentiates (`loss.backward()`), and assumed (module modes,
`.grad` presence: the guard under which the trace may be replayed).
"""
from __future__ import annotations

import numpy as np

from . import static_grad
from .dispatch import constant, variable_node
from .eager.tensor import Tensor
from .errors import ConcretizationError, GraphcError
from .ir import graph as graph_module
from .ir.graph import Graph, Value


class TracingError(GraphcError):
    """A traced function did something that has no static graph (control flow on a value)."""


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
        self.backing = {}    # id(value) -> (value, the tensor whose value it was when read)
        self.latest = {}     # id(value) -> (value, its value after in-place writes)
        self.views = {}      # id(view) -> [view, base, op, attrs, base's writes when set]
        self.writes = {}     # storage key -> number of writes (versions, as in eager)
        self.modules = {}    # id(module) -> module called while tracing (.training guarded)
        self.frozen = 0      # > 0 while gradient rules build nodes: they read node inputs as
        #                      they were, never their later in-place values
        self.born = {}       # id(tensor) -> tensor made while tracing (a temporary, unless it
        #                      becomes state: a parameter, a buffer, optimizer state)
        self.aliases = {}    # id(tensor) -> (tensor, the tensor whose storage it shares:
        #                      .data and .detach() made while tracing)
        self.after_backward = None  # f(parameters) after each backward: jit(distributed=True)

    def alias(self, t, owner):
        """t shares owner's storage (t = owner.data or owner.detach()): reads and writes of t
        are reads and writes of owner."""
        self.born.pop(id(t), None)
        owner = self.aliases.get(id(owner), (None, owner))[1]
        self.aliases[id(t)] = (t, owner)

    def read(self, t):
        """The symbolic value of a tensor read by an op: its latest write, or its variable."""
        t = self.aliases.get(id(t), (None, t))[1]
        value = self.current.get(id(t))
        if value is None:
            if self._temporary(t):  # made by the traced code: its value is a constant
                value = self.current[id(t)] = constant(np.array(t._data), t.name)
            else:
                self.captured[id(t)] = t
                value = variable_node(t)
        self.backing[id(value)] = (value, t)  # (the value kept alive: its id stays unique)
        return value

    def _temporary(self, t):
        return id(t) in self.born and not (t._persistent or t._requires_grad)

    def write(self, t, result):
        """An in-place write to `t`: recorded as an update of the step, not executed."""
        t = self.aliases.get(id(t), (None, t))[1]
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
        t = self.backing.get(id(v), (None, None))[1]
        return ("tensor", id(t)) if t is not None else id(v)

    def note_view(self, view, base, op, attrs):
        """A view op's result: writes through it reach its base (dispatch calls this)."""
        if op.view.writable:
            self.views[id(view)] = [view, base, op, attrs, self.writes.get(self._storage(base), 0)]

    def resolve(self, v):
        """The value a symbolic value stands for now, after the writes traced so far."""
        while True:
            now = self._resolve_once(v)
            if now is v:
                return v
            v = now

    def _resolve_once(self, v):
        t = self.backing.get(id(v), (None, None))[1]
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
        t = self.backing.get(id(v), (None, None))[1]
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
        grads = static_grad.grad(loss, [self.read(t) for t in params], gradient)
        for t, g in zip(params, grads):
            self.grads.setdefault(id(t), (t, t.grad))
            if id(t) not in self.cleared:  # backward adds to a .grad from before the call
                self.grad_guard.setdefault(id(t), (t, t.grad is None))
            if t.grad is not None:  # accumulate, as eager backward does
                g = (t.grad if isinstance(t.grad, Value) else self.read(t.grad)) + g
            t.grad = g
        if self.after_backward is not None:
            self.after_backward(params)

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


def _scatter_back(base, view_value, op, attrs):
    """base's new value after its view (made by op with attrs) was written with view_value."""
    from .ops import shape as S
    if op is S.slice:
        return S.index_put(base, view_value, index=attrs["index"])
    if op is S.permute:
        return S.permute(view_value, dims=tuple(int(d) for d in np.argsort(attrs["dims"])))
    return S.reshape(view_value, shape=tuple(base.shape))


class Guard:
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


def trace_call(fn, args, kwargs, keep_grads, control_flow_error, after_backward=None):
    """Run fn under a fresh trace; return (its outputs, the trace). control_flow_error(fn, e)
    makes the error raised for a ConcretizationError; after_backward(parameters) runs after
    each traced backward, once the parameters' .grad are set."""
    if Tensor._trace is not None:
        raise TracingError("graphc.jit: a jitted function was called while another one is being "
                           "traced; nesting is not supported (call the inner function directly)")
    trace = _Trace()
    trace.after_backward = after_backward
    Tensor._trace, graph_module.trace_backward = trace, trace.backward
    try:
        result = fn(*args, **kwargs)
        trace.finish(keep_grads)
    except ConcretizationError as e:
        trace.finish(False)
        raise control_flow_error(fn, e) from None
    except BaseException:
        trace.finish(False)
        raise
    finally:
        Tensor._trace, graph_module.trace_backward = None, None
    return result, trace
