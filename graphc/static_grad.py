"""graphc.grad: reverse-mode gradients of symbolic values, as new graph values.

The front end of static autodiff: it accepts eager parameters (their graph variables) and
runs inside graphc.jit, so it sits above dispatch and eager; the sweep itself is
autodiff.backward_sweep, shared with eager backward.
"""
from __future__ import annotations

from . import functional as F
from .autodiff import GradientLocation, backward_sweep, value_keys
from .autograd.function import sweep_order
from .dispatch import variable_of
from .eager.tensor import Tensor
from .errors import GraphcError
from .ir import graph as ir
from .ir.graph import Graph, Value, tag_gradient


def grad(outputs, wrt, grad_outputs=None, allow_unused=None):
    """Reverse-mode gradients of symbolic `outputs` w.r.t. `wrt`, as new graph values.

    `wrt` may hold placeholders, variables, intermediate values or eager parameters (their
    graph variables). The result can be differentiated again and compiled with the forward.
    A `wrt` the outputs do not reach gets zeros (allow_unused=None), None (True), or raises
    (False, as torch.autograd.grad by default).
    """
    single_out = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single_out else list(outputs)
    single_wrt = not isinstance(wrt, (list, tuple))
    wrt = [wrt] if single_wrt else list(wrt)
    wrt = [variable_of(w) if isinstance(w, Tensor) else w for w in wrt]
    if Tensor._trace is not None:  # inside graphc.jit: values written in place, as they are now
        outputs = [Tensor._trace.resolve(y) if isinstance(y, Value) else y for y in outputs]
    for v in outputs + wrt:
        if not isinstance(v, Value):
            raise TypeError(f"graphc.grad works on symbolic values, got {type(v).__name__}; "
                            f"for eager tensors use .backward() or graphc.autograd.grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    first_id = next(ir._ids)  # nodes made from here on are the gradient part (for tools)
    seeds = {}
    for y, g in zip(outputs, grad_outputs):
        if g is None:
            if y.ndim != 0:
                raise ValueError(f"grad: output of shape {list(y.shape)} is not a scalar; pass "
                                 f"grad_outputs")
            g = F.ones_like(y)
        key = id(y)
        seeds[key] = g if key not in seeds else F.add(seeds[key], g)
    graph = Graph.from_outputs(outputs)
    # custom autograd.Functions: their backward joins the sweep as pseudo-entries
    nodes = sweep_order(graph.nodes, outputs) or graph.nodes
    depends = {id(w) for w in wrt}
    for node in nodes:
        if any(id(x) in depends for x in node.inputs):
            depends.update(id(v) for v in node.outputs if v.dtype.is_floating_point)
    trace = Tensor._trace  # inside graphc.jit: rules read node inputs as they were
    if trace is not None:
        trace.frozen += 1
    try:
        cts = backward_sweep(nodes, seeds, value_keys(lambda v: id(v) in depends))
    finally:
        if trace is not None:
            trace.frozen -= 1
    if allow_unused is False and any(id(w) not in cts for w in wrt):
        raise GraphcError("One of the differentiated Tensors appears to not have been used in "
                          "the graph. Set allow_unused=True if this is the desired behavior.")
    grads = [cts[id(w)] if id(w) in cts else None if allow_unused else F.zeros_like(w)
             for w in wrt]
    _mark_gradient([g for g in grads if g is not None], range(first_id, next(ir._ids)))
    for w, g in zip(wrt, grads):
        if g is not None and w.node.op.name == "variable":
            tag_gradient(g, w)
    return grads[0] if single_wrt else grads


def _mark_gradient(grads, made):
    for node in Graph.from_outputs(grads).nodes:
        loc = node.location
        if node.id in made and loc is not None and not isinstance(loc, GradientLocation):
            node.location = GradientLocation(loc.filename, loc.lineno, loc.code)
