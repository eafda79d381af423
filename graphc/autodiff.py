"""The one reverse sweep shared by static autodiff and eager backward.

Both modes hand it "entries" in topological order, each with .op, .attrs, .inputs and
.outputs: graph nodes (static) or tape entries (eager). Each op's gradient rule is called
with graphc ops, so in static mode the sweep builds new nodes (differentiable again) and in
eager mode it computes at once.
"""
from __future__ import annotations

from . import functional as F
from .errors import GraphcError, SourceLocation
from .ops.registry import VJPContext


def sum_to(g, shape):
    """Sum a broadcast cotangent back to `shape` (the inverse of broadcasting)."""
    if tuple(g.shape) == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        return F.broadcast_to(g, shape)  # a reduced cotangent for a bigger input
    dims = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    if not dims:
        return g
    g = F.sum(g, dim=dims, keepdim=True)
    return F.reshape(g, tuple(shape)) if lead else g


def backward_sweep(entries, seeds, keys, sums=None):
    """Propagate cotangents from `seeds` ({key: cotangent}) through `entries`.

    keys(entry) -> (keys of its outputs, keys of its inputs): where the cotangents of the
    entry's values live; an input key of None means no gradient flows into that input.
    Static graphs key values by id; the eager tape by edges (eager/autograd.py), so that a
    tensor written in place has one key per version. sums: how cotangents arriving at one
    key add up (eager backward adds in place into sums it made: eager/autograd.py); None:
    F.add. Returns the dict {key: cotangent}.
    """
    cotangents = dict(seeds)
    get = cotangents.get
    owned = sums.owned if sums is not None else None
    for entry in reversed(entries):
        out_keys, in_keys = keys(entry)
        if len(out_keys) == 1:
            g = get(out_keys[0])
            if g is None:
                continue
            grads = [g]
        else:
            grads = [get(k) for k in out_keys]
            if all(g is None for g in grads):
                continue
        needs = tuple([k is not None for k in in_keys])
        if True not in needs:
            continue
        op = entry.op
        if op.vjp is None:
            if not op.differentiable:
                continue  # declared: its outputs carry no gradient (comparisons, argmax)
            raise GraphcError(
                f"{op.name} has no gradient rule: cannot differentiate through it (declare "
                f"it non-differentiable if its outputs carry no gradient, or write its vjp)"
                + (f"\n  at {entry.location}" if getattr(entry, "location", None) else ""))
        if len(grads) > 1:
            grads = [g if g is not None else F.zeros_like(v) for g, v in zip(grads, entry.outputs)]
            grads = grads[:_differentiable_outputs(entry)]
        if owned:  # a cotangent a rule reads may be returned as is (add): no longer ours
            for g in grads:
                owned.discard(id(g))
        ctx = VJPContext(entry.inputs, entry.outputs, entry.attrs, needs)
        input_grads = op.vjp(ctx, *grads)
        if len(input_grads) != len(entry.inputs):
            raise GraphcError(f"gradient rule of {op.name} returned {len(input_grads)} "
                              f"cotangents for {len(entry.inputs)} inputs")
        for x, gx, key in zip(entry.inputs, input_grads, in_keys):
            if gx is None or key is None:
                continue
            shape = x.shape
            if gx.shape != shape:
                gx = sum_to(gx, shape)
            if gx.dtype is not x.dtype:
                gx = F.cast(gx, x.dtype)
            prev = get(key)
            if prev is None:
                cotangents[key] = gx
            elif sums is None:
                cotangents[key] = F.add(prev, gx)
            else:
                cotangents[key] = sums.add(prev, gx)
    return cotangents


def value_keys(needs_grad):
    """keys() for graph nodes: values keyed by id; inputs for which needs_grad is false get
    no gradient."""
    def keys(node):
        return ([id(v) for v in node.outputs],
                [id(x) if needs_grad(x) else None for x in node.inputs])
    return keys


def _differentiable_outputs(entry):
    """Gradient rules take cotangents of floating outputs only (not of indices)."""
    return sum(1 for v in entry.outputs if v.dtype.is_floating_point) or 1


def grad(outputs, wrt, grad_outputs=None):
    """Reverse-mode gradients of symbolic `outputs` w.r.t. `wrt`, as new graph values.

    `wrt` may hold placeholders, variables, intermediate values or eager parameters (their
    graph variables). The result can be differentiated again and compiled with the forward.
    """
    from .dispatch import variable_of
    from .eager.tensor import Tensor
    from .ir import graph as ir
    from .ir.graph import Graph, Value

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
    depends = {id(w) for w in wrt}
    for node in graph.nodes:
        if any(id(x) in depends for x in node.inputs):
            depends.update(id(v) for v in node.outputs if v.dtype.is_floating_point)
    trace = Tensor._trace  # inside graphc.jit: rules read node inputs as they were
    if trace is not None:
        trace.frozen += 1
    try:
        cts = backward_sweep(graph.nodes, seeds, value_keys(lambda v: id(v) in depends))
    finally:
        if trace is not None:
            trace.frozen -= 1
    grads = [cts[id(w)] if id(w) in cts else F.zeros_like(w) for w in wrt]
    _mark_gradient(grads, range(first_id, next(ir._ids)))
    return grads[0] if single_wrt else grads


class GradientLocation(SourceLocation):
    """The location of a node made by graphc.grad (kept by passes that copy nodes), so that
    tools can tell the backward part of a graph from the forward part."""
    __slots__ = ()


def _mark_gradient(grads, made):
    from .ir.graph import Graph
    for node in Graph.from_outputs(grads).nodes:
        loc = node.location
        if node.id in made and loc is not None and not isinstance(loc, GradientLocation):
            node.location = GradientLocation(loc.filename, loc.lineno, loc.code)
