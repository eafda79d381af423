"""Eager backward: the tape's entries (eager/tape.py) through the shared sweep (autodiff.py),
gradients accumulated into .grad or returned (autograd.grad), hooks run on the way."""
from __future__ import annotations

import sys

import numpy as np

from .. import storage
from ..autodiff import backward_sweep
from ..errors import GraphcError
from .anomaly import _state as _anomaly, check_gradients
from .fast_vjp import eager_vjp
from .grad_mode import _state as _grad_mode
from .hooks import (_early_accumulation, _hooked, _retaining, _run_backward_callbacks,
                    _run_grad_hooks, _tensor_hooks, apply_tensor_hooks, hooks_before_rule)
from .tape import TapeEntry, edge_key, edge_of, leading_to, tape_entries
from .tensor import Tensor as _Tensor


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
        reached = entries = tape_entries(roots)
    else:
        reached = tape_entries(roots, freed_error=None)
        entries = leading_to(reached, {edge_key(e) for t in inputs
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
        swept = {id(e) for e in reached}
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
