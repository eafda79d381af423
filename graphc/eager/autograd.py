"""Eager autograd: tape entries (PyTorch's grad_fn) and backward through the shared sweep."""
from __future__ import annotations

import numpy as np

from ..autodiff import backward_sweep
from ..errors import GraphcError
from .grad_mode import set_grad_enabled
from .hooks import _early_accumulation, _hooked, _run_backward_callbacks, _run_grad_hooks


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


class TapeEntry:
    """One recorded eager op: what backward needs to call the op's gradient rule."""

    __slots__ = ("op", "attrs", "inputs", "outputs", "saved", "released", "__weakref__")

    def __init__(self, op, inputs, outputs, attrs):
        self.op, self.inputs, self.outputs, self.attrs = op, tuple(inputs), tuple(outputs), attrs
        self.released = False
        self.record_versions()

    def record_versions(self):
        """Remember the versions of the tensors whose values the gradient rule reads."""
        saves = self.op.saves
        saved = (self.inputs if "inputs" in saves else ()) + \
                (self.outputs if "outputs" in saves else ())
        self.saved = tuple((t, t._vc[0]) for t in saved)

    def name(self):
        return f"{_camel(self.op.name)}Backward0"

    @property
    def next_functions(self):
        """(grad_fn, 0) per input, like PyTorch's, for drawing the tape."""
        out = []
        for t in self.inputs:
            if t.grad_fn is not None:
                out.append((t.grad_fn, 0))
            elif t.requires_grad:
                out.append((AccumulateGrad(t), 0))
            else:
                out.append((None, 0))
        return tuple(out)

    def check_versions(self):
        for t, v in self.saved:
            if t._vc[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.dtype.name} {list(t.shape)}], which is output 0 "
                    f"of {self.name()}, is at version {t._vc[0]}; expected version {v} instead.")

    def __repr__(self):
        return f"<{self.name()}>"


def _backward_twice(entry):
    return RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved "
        "tensors after they have already been freed). Specify retain_graph=True if you "
        "need to backward through the graph a second time.")


def tape_entries(roots, freed_error=_backward_twice):
    """Tape entries reachable from the grad_fns `roots`, inputs before users. An entry freed
    by an earlier backward raises freed_error(entry)."""
    order, seen = [], set()
    stack = [(e, False) for e in reversed(roots) if e is not None]
    while stack:
        entry, expanded = stack.pop()
        if expanded:
            order.append(entry)
            continue
        if id(entry) in seen:
            continue
        seen.add(id(entry))
        if entry.released:
            raise freed_error(entry)
        stack.append((entry, True))
        stack.extend((t.grad_fn, False) for t in reversed(entry.inputs)
                     if t.grad_fn is not None and id(t.grad_fn) not in seen)
    return order


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate from `outputs`; accumulate into .grad of leaves (or return grads of
    `inputs` when given, like torch.autograd.grad)."""
    from .tensor import Tensor, ones_like_tensor
    seeds = {}
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones_like_tensor(out)
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(g, out.dtype)
        if tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(g.shape)} "
                               f"and output[0] has a shape of {list(out.shape)}.")
        seeds[id(out)] = g if id(out) not in seeds else seeds[id(out)] + g
    entries = tape_entries([o.grad_fn for o in outputs])
    for e in entries:
        e.check_versions()
    early = _early_accumulation(entries, inputs, create_graph, _accumulate)
    with set_grad_enabled(create_graph):
        cts = backward_sweep(entries, seeds, lambda t: t.requires_grad,
                             early.after_entry if early else None)
    if inputs is not None:
        result = tuple(cts.get(id(t)) for t in inputs)
    else:
        result = None
        leaves = {}
        for e in entries:
            for t in e.inputs:
                if t.requires_grad and (t.grad_fn is None or t._retains_grad):
                    leaves[id(t)] = t
        for t in outputs:
            if t.grad_fn is None or t._retains_grad:
                leaves[id(t)] = t
        for key, t in leaves.items():
            g = cts.get(key)
            if g is None or (early and key in early.done):
                continue
            _accumulate(t, g, create_graph)
            if early and _hooked(t):
                _run_grad_hooks(t)
        if early:
            _run_backward_callbacks()
    if not retain_graph:
        for e in entries:
            e.released = True
            e.inputs, e.outputs, e.saved = (), (), ()  # frees saved tensors, as PyTorch does
    return result


def _accumulate(t, g, create_graph):
    """Add the cotangent `g` into the leaf's .grad."""
    from .tensor import Tensor
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    elif type(g._data) is not np.ndarray:  # a CUDA gradient
        from ..backends import cuda_eager
        if t.grad is None:
            t.grad = cuda_eager.owned_copy(g)
        else:
            cuda_eager.accumulate(t.grad, g)
    elif t.grad is None:
        t.grad = Tensor._wrap(g._data.copy(), t.dtype)  # owned: later steps add in place
    else:
        t.grad._data += g._data


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
    retain = create_graph if retain_graph is None else retain_graph
    grads = run_backward(outputs, grad_outputs, retain, create_graph, inputs=inputs_list)
    for t, g in zip(inputs_list, grads):
        if g is None and not allow_unused:
            raise GraphcError("One of the differentiated Tensors appears to not have been used "
                              "in the graph. Set allow_unused=True if this is the desired "
                              "behavior.")
    return tuple(g if create_graph or g is None else g.detach() for g in grads)
