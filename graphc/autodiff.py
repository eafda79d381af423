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
    if len(dims) == lead:  # only leading dims (a bias): one reduction gives the shape
        return F.sum(g, dim=dims)
    g = F.sum(g, dim=dims, keepdim=True)
    return F.reshape(g, tuple(shape)) if lead else g


def backward_sweep(entries, seeds, keys, sums=None, after_entry=None, before_rule=None,
                   check=None, fast_rule=None):
    """Propagate cotangents from `seeds` ({key: cotangent}) through `entries`.

    keys(entry) -> (keys of its outputs, keys of its inputs): where the cotangents of the
    entry's values live; an input key of None means no gradient flows into that input.
    Static graphs key values by id; the eager tape by edges (eager/tape.py), so that a
    tensor written in place has one key per version. sums: how cotangents arriving at one
    key add up (eager backward adds in place into sums it made: eager/autograd.py); None:
    F.add. after_entry(index, cotangents), if given, is called once each entry is done
    (eager gradient hooks fire there). before_rule(entry, out_keys, cotangents), if given,
    is called when the cotangents of an entry's outputs are final, before its rule reads
    them (tensor hooks may replace them there); check(entry, input_grads) after each rule
    (anomaly detection). fast_rule(entry, needs_input_grad, grads), if given, may return
    the input cotangents in place of op.vjp's, already summed to the inputs' shapes and of
    their dtypes (the same values, computed faster: eager backward's NumPy rules,
    eager/fast_vjp.py), or None to run op.vjp. Returns the dict {key: cotangent}.
    """
    cotangents = dict(seeds)
    get = cotangents.get
    owned = sums.owned if sums is not None else None
    count = len(entries)
    for index in range(count - 1, -1, -1):
        if after_entry is not None and index + 1 < count:
            after_entry(index + 1, cotangents)  # the entry swept before this one is done
        entry = entries[index]
        out_keys, in_keys = keys(entry)
        if before_rule is not None:
            before_rule(entry, out_keys, cotangents)
        if len(out_keys) == 1:
            g = get(out_keys[0])
            if g is None:
                continue
            grads = [g]
        else:
            grads = [get(k) for k in out_keys]
            if all(g is None for g in grads):
                continue
        n = len(in_keys)  # (one to three inputs spelled out: most entries)
        needs = (in_keys[0] is not None, in_keys[1] is not None) if n == 2 else \
            (in_keys[0] is not None,) if n == 1 else \
            (in_keys[0] is not None, in_keys[1] is not None, in_keys[2] is not None) if n == 3 \
            else tuple([k is not None for k in in_keys])
        if True not in needs:
            continue
        if owned:  # a cotangent a rule reads may be returned as is (add): no longer ours
            for g in grads:
                owned.discard(id(g))
        if fast_rule is not None:
            input_grads = fast_rule(entry, needs, grads)
            if input_grads is not None:  # (of the inputs' shapes and dtypes already)
                if check is not None:
                    check(entry, input_grads)
                for gx, key in zip(input_grads, in_keys):
                    if gx is not None and key is not None:
                        prev = get(key)
                        if prev is None:
                            cotangents[key] = gx
                        elif sums is None:
                            cotangents[key] = F.add(prev, gx)
                        else:
                            cotangents[key] = sums.add(prev, gx)
                continue
        op = entry.op
        if op.vjp is None:
            if not op.differentiable:
                continue  # declared: its outputs carry no gradient (comparisons, argmax)
            raise GraphcError(
                f"{op.name} has no gradient rule: cannot differentiate through it (declare "
                f"it non-differentiable if its outputs carry no gradient, or write its vjp)"
                + (f"\n  at {entry.location}" if getattr(entry, "location", None) else ""))
        # an op may take None for an output without gradient, as PyTorch passes it to module
        # backward hooks (takes_none) and to Functions that do not materialize grads
        if len(grads) > 1 and getattr(op, "materialize_grads", True) and \
                not getattr(op, "takes_none", False):
            grads = [g if g is not None else F.zeros_like(v) for g, v in zip(grads, entry.outputs)]
            grads = grads[:_differentiable_outputs(entry)]
        ctx = VJPContext(entry.inputs, entry.outputs, entry.attrs, needs)
        input_grads = op.vjp(ctx, *grads)
        if len(input_grads) != len(entry.inputs):
            raise GraphcError(f"gradient rule of {op.name} returned {len(input_grads)} "
                              f"cotangents for {len(entry.inputs)} inputs")
        _add_input_grads(entry, input_grads, in_keys, cotangents, sums, check)
    if after_entry is not None and entries:
        after_entry(0, cotangents)
    return cotangents


def _add_input_grads(entry, input_grads, in_keys, cotangents, sums, check):
    """Add a rule's input cotangents (summed to the input's shape, cast to its dtype) to
    the cotangents of the keys they belong to."""
    if check is not None:
        check(entry, input_grads)
    get = cotangents.get
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


class GradientLocation(SourceLocation):
    """The location of a node made by graphc.grad (kept by passes that copy nodes), so that
    tools can tell the backward part of a graph from the forward part."""
    __slots__ = ()
