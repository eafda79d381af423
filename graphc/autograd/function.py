"""graphc.autograd.Function: custom ops with a hand-written backward, as torch.autograd.Function.

Eagerly, `apply` runs `forward` under no_grad and records one tape entry (`CustomEntry`) whose
gradient rule calls the user's `backward`. On symbolic values (graphc.jit, static graphs)
`forward` is traced as ordinary ops and its outputs are cut from that trace (`detach`); the
cut outputs are remembered, and graphc.grad inserts a pseudo-entry into its sweep
(`sweep_order`) that calls the user's `backward` with symbolic cotangents: the forward
compiles as usual and the gradient is the user's, never the traced ops' own.
"""
from __future__ import annotations

import functools
import inspect
import warnings
import weakref

from .. import functional as F
from ..autodiff import sum_to
from ..eager.anomaly import _state as _anomaly, note_location
from ..eager.tape import TapeEntry, edge_of
from ..eager.grad_mode import is_grad_enabled, no_grad
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.graph import Value


class FunctionCtx:
    """The `ctx` passed to forward and backward: what forward leaves for backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._to_save = ()
        self._saved = None          # ((tensor, version when saved), ...) once forward returned
        self._non_differentiable = set()
        self._entry = None          # the eager tape entry (freed by backward: saved too)

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, (Tensor, Value)):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        if self._saved is None:
            return tuple(self._to_save)
        if self._entry is not None and self._entry.released:
            raise RuntimeError("Trying to backward through the graph a second time (or "
                               "directly access saved tensors after they have already been "
                               "freed). Specify retain_graph=True if you need to backward "
                               "through the graph a second time.")
        for t, version in self._saved:
            if isinstance(t, Tensor) and t._vc[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{t.dtype.name} {list(t.shape)}] is at version "
                    f"{t._vc[0]}; expected version {version} instead.")
        return tuple(t for t, _ in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        raise UnsupportedError("ctx.mark_dirty: in-place custom Functions are not supported; "
                               "return a new tensor from forward instead")

    def _freeze(self):
        """forward returned: remember the saved tensors' versions (checked when read)."""
        self._saved = tuple((t, t._vc[0] if isinstance(t, Tensor) else 0)
                            for t in self._to_save)
        self._to_save = ()


class _CustomOp:
    """The op-like object of one Function application: the sweep calls its vjp. It keeps
    what backward needs besides the entry's inputs and outputs (which the sweep hands to the
    rule): where the tensor arguments were, and what each forward output was."""

    differentiable = True
    reads = None
    saves = ()  # the saved tensors' versions are checked by ctx.saved_tensors

    def __init__(self, fn_cls, ctx, args, outputs, diff_index):
        self.fn_cls, self.ctx = fn_cls, ctx
        self.name = fn_cls.__name__
        self.materialize_grads = ctx.materialize_grads
        self.n_args = len(args)
        self.tensor_pos = [i for i, a in enumerate(args) if _is_array(a)]
        # per forward output: its index among the differentiable ones, or the output itself
        # when it is a non-differentiable tensor (its cotangent is zeros), or None
        diff = {j: k for k, j in enumerate(diff_index)}
        self.slots = [("diff", diff[j]) if j in diff else
                      ("const", o) if _is_array(o) else ("other", None)
                      for j, o in enumerate(outputs)]

    def vjp(self, vctx, *grads):
        ctx = self.ctx
        needs = [False] * self.n_args
        for pos, need in zip(self.tensor_pos, vctx.needs_input_grad):
            needs[pos] = bool(need)
        ctx.needs_input_grad = tuple(needs)
        out_grads = []
        for kind, what in self.slots:
            if kind == "diff":
                g = grads[what] if what < len(grads) else None
                if g is None and ctx.materialize_grads:
                    g = F.zeros_like(vctx.outputs[what])
            elif kind == "const" and ctx.materialize_grads:
                g = F.zeros_like(what)
            else:
                g = None
            out_grads.append(g)
        result = _user_backward(self.fn_cls)(ctx, *out_grads)
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        return self._check_grads(result, vctx.inputs)

    def _check_grads(self, result, inputs):
        name, n = backward_name(self.fn_cls), self.n_args
        if len(result) < n or any(g is not None for g in result[n:]):
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        for i, g in enumerate(result[:n]):
            if g is not None and i not in self.tensor_pos:
                raise RuntimeError(f"function {name} returned a gradient different than None "
                                   f"at position {i + 1}, but the corresponding forward input "
                                   f"was not a Variable")
        grads = []
        for i, x in zip(self.tensor_pos, inputs):
            g = result[i]
            if g is not None:
                if not _is_array(g):
                    raise TypeError(f"function {name} returned a {type(g).__name__} as the "
                                    f"gradient at position {i + 1}; expected a Tensor or None")
                if tuple(g.shape) != tuple(x.shape):
                    if not _expandable(tuple(x.shape), tuple(g.shape)):
                        raise RuntimeError(f"Function {name} returned an invalid gradient at "
                                           f"index {i} - got {list(g.shape)} but expected "
                                           f"shape compatible with {list(x.shape)}")
                    g = sum_to(g, x.shape)
            grads.append(g)
        return grads


def _user_backward(fn_cls):
    """The class's backward, or its vjp (PyTorch's other name for it), not both."""
    backward, vjp = fn_cls.backward, fn_cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is "
                           "not allowed. You should only implement one of them.")
    return vjp if vjp is not Function.vjp else backward


def _is_array(a):
    return isinstance(a, (Tensor, Value))


def _expandable(shape, to):
    """Whether a tensor of `shape` broadcasts to `to` (so a gradient of `to` sums back)."""
    if len(shape) > len(to):
        return False
    return all(s == 1 or s == t for s, t in zip(shape[::-1], to[::-1]))


def backward_name(fn_cls):
    return f"{fn_cls.__name__}Backward"


class CustomEntry(TapeEntry):
    """The tape entry of an eager Function application (its grad_fn). Its op is made per
    application, so the per-op memo of saved values is not consulted: ctx.saved_tensors
    checks the versions of what forward saved."""

    __slots__ = ()

    def __init__(self, op, inputs, outputs):
        self.op, self.inputs, self.attrs = op, tuple(inputs), {}
        self.outs = tuple([(o._data, o._vc) for o in outputs])  # (TapeEntry: no tensors)
        self.edges = tuple(edge_of(t) for t in self.inputs)
        self.released = False
        self.saved = ()
        if _anomaly.enabled:
            note_location(self)

    def record_versions(self):
        pass

    def name(self):
        return backward_name(self.op.fn_cls)


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)` (or forward
    without ctx plus `setup_context(ctx, inputs, output)`), then call `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    @staticmethod
    def vjp(ctx, *grad_outputs):
        """Another name for backward: define one of them."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise UnsupportedError("forward-mode AD (Function.jvp) is not supported by graphc")

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      f"are all static, so you should invoke them on the class itself.",
                      DeprecationWarning, stacklevel=2)

    @classmethod
    def apply(cls, *args, **kwargs):
        """Keyword arguments go to forward as they are (never differentiated); backward
        returns one gradient per positional argument."""
        if _has_setup_context(cls):  # as PyTorch: defaults bound, all arguments positional
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        if any(isinstance(a, Value) for a in args) or \
                (Tensor._trace is not None and any(isinstance(a, Tensor) for a in args)):
            return _apply_symbolic(cls, args, kwargs)
        ctx = FunctionCtx()
        recording = is_grad_enabled() and any(
            isinstance(a, Tensor) and a.requires_grad for a in args)
        # (as PyTorch: what the inputs require, even where no_grad records nothing)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            result = _run_forward(cls, ctx, args, kwargs)
        ctx._freeze()
        single = not isinstance(result, tuple)
        outputs = [result] if single else list(result)
        diff_index = [j for j, o in enumerate(outputs)
                      if isinstance(o, Tensor) and o.dtype.is_floating_point
                      and id(o) not in ctx._non_differentiable]
        outputs = [_own(o, args) if isinstance(o, Tensor) else o for o in outputs]
        if recording:
            op = _CustomOp(cls, ctx, args, outputs, diff_index)
            inputs = tuple(a for a in args if isinstance(a, Tensor))
            entry = CustomEntry(op, inputs, tuple(outputs[j] for j in diff_index))
            ctx._entry = entry
            for nr, j in enumerate(diff_index):
                o = outputs[j]
                o.grad_fn, o._requires_grad, o._out_nr = entry, True, nr
        return outputs[0] if single else tuple(outputs)


def _has_setup_context(cls):
    """The forward-without-ctx style: forward(*args) plus setup_context(ctx, inputs, output)."""
    return cls.setup_context is not Function.setup_context


def _run_forward(cls, ctx, args, kwargs):
    if _has_setup_context(cls):
        result = cls.forward(*args)
        cls.setup_context(ctx, args, result)
        return result
    return cls.forward(ctx, *args, **kwargs)


def _own(out, args):
    """A tensor the Function may make its output: an input returned as is (or a tensor
    with a history) becomes a new tensor on the same storage, as PyTorch makes a view."""
    if out.grad_fn is not None or out.requires_grad or any(out is a for a in args):
        alias = out.detach()
        return alias
    return out


def once_differentiable(backward):
    """Decorates a Function's backward that is not itself differentiable: it runs without
    recording, and differentiating its result (create_graph) raises instead of giving
    gradients without its contribution."""
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            result = backward(ctx, *grads)
        if not is_grad_enabled() or not any(isinstance(g, Tensor) and g.requires_grad
                                            for g in grads):
            return result
        single = not isinstance(result, tuple)
        result = (result,) if single else result
        result = tuple(_DelayedError.apply(r.detach().requires_grad_())
                       if isinstance(r, Tensor) and r.dtype.is_floating_point else r
                       for r in result)
        return result[0] if single else result
    return wrapper


class _DelayedError(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


# ---- symbolic values: the forward traced, the backward the user's ------------------------------

_symbolic_outputs: dict = {}  # id(value) -> (weak reference to it, its _SymbolicEntry)


class _SymbolicEntry:
    """A pseudo-entry of graphc.grad's sweep: inputs -> outputs through the user's backward.
    It holds its outputs weakly: the registry below must not keep graphs alive."""

    attrs = {}
    location = None

    def __init__(self, op, inputs, outputs):
        self.op, self.inputs = op, tuple(inputs)
        self._outputs = tuple(weakref.ref(v) for v in outputs)

    @property
    def outputs(self):
        return tuple(r() for r in self._outputs)


def _apply_symbolic(cls, args, kwargs):
    from ..dispatch import variable_of
    args = tuple(variable_of(a) if isinstance(a, Tensor) else a for a in args)
    ctx = FunctionCtx()
    ctx.needs_input_grad = tuple(isinstance(a, Value) and a.dtype.is_floating_point
                                 for a in args)
    with no_grad():
        result = _run_forward(cls, ctx, args, kwargs)
    ctx._freeze()
    single = not isinstance(result, tuple)
    outputs = [result] if single else list(result)
    if any(isinstance(o, Tensor) for o in outputs):
        raise UnsupportedError(f"{cls.__name__}.forward returned an eager tensor for symbolic "
                               f"inputs: build the outputs with graphc ops on the inputs")
    non_diff = ctx._non_differentiable
    outputs = [(o, F.detach(o)) if isinstance(o, Value) else (o, o) for o in outputs]
    cut = [new for _, new in outputs]
    diff_index = [j for j, (old, new) in enumerate(outputs)
                  if isinstance(new, Value) and new.dtype.is_floating_point
                  and id(old) not in non_diff]
    op = _CustomOp(cls, ctx, args, cut, diff_index)
    entry = _SymbolicEntry(op, [a for a in args if isinstance(a, Value)],
                           [cut[j] for j in diff_index])
    for v in entry.outputs:
        forget = lambda _, k=id(v): _symbolic_outputs.pop(k, None)  # noqa: E731
        _symbolic_outputs[id(v)] = (weakref.ref(v, forget), entry)
    return cut[0] if single else tuple(cut)


def custom_entry_of(value):
    """The Function pseudo-entry that makes `value` for graphc.grad, or None."""
    found = _symbolic_outputs.get(id(value))
    return found[1] if found is not None and found[0]() is value else None


def sweep_order(nodes, outputs):
    """graphc.grad's sweep list: `nodes` (topological) with each Function pseudo-entry
    placed after its cut outputs and before their users; nodes its inputs need (and that
    `nodes` lacks) are added. None when no Function output is among the nodes."""
    if not _symbolic_outputs:
        return None
    made = {}
    for node in nodes:
        for v in node.outputs:
            entry = custom_entry_of(v)
            if entry is not None:
                made[id(v)] = entry
    if not made:
        return None
    order, seen = [], set()

    def producer(v):
        return made.get(id(v)) or custom_entry_of(v) or v.node

    def deps(item):
        if isinstance(item, _SymbolicEntry):
            return [o.node for o in item.outputs] + [producer(x) for x in item.inputs]
        return [producer(x) for x in item.inputs]

    stack = [(producer(v), False) for v in reversed(outputs)]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            order.append(item)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.append((item, True))
        stack.extend((d, False) for d in reversed(deps(item)) if id(d) not in seen)
    return order


__all__ = ["Function", "FunctionCtx", "once_differentiable"]
