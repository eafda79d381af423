"""Loop kernels: fused elementwise groups and single-pass reductions with fused prologues.

A group's members all compute values of the loop's shape, so one loop nest evaluates every
member once per index, in order, into scalar locals; inputs of other shapes are read through
broadcast (zero) strides; values read outside the group are stored at the end of the body.
"""
from __future__ import annotations

import math

from ..ops.elementwise import cast, full_like, where
from ..ops.scalar import reduction_combine, reduction_identity
from ..passes.fusion import FUSED
from ..passes.layout import contiguous_strides
from .emit import _linear, aligned_strides, collapse, ctor
from .scalar import CTOR, expression


def _members(node):
    """(inner nodes, {inner value: stored value}) of a fused node or a lone node."""
    group = node.attrs.get("group") if node.op is FUSED else None
    if group is None:
        return [node], {v: v for v in node.outputs}
    return group.nodes, dict(zip(group.outputs, node.outputs))


def _compute_dtype(node):
    """The dtype an elementwise op computes in (its inputs' dtype after coercion)."""
    ins = [v for v in node.inputs]
    if node.op is where:
        return ins[1].dtype.name
    if node.op is cast or node.op is full_like or not ins:
        return node.outputs[0].dtype.name
    return ins[0].dtype.name


class Body:
    """Emits the per-index statements of a group: loads, member expressions, stores."""

    def __init__(self, em, members, opts, helpers):
        self.em, self.members, self.opts, self.helpers = em, members, opts, helpers
        inner = {id(n) for n in members}
        self.external = []
        seen = set()
        for n in members:
            for v in n.inputs:
                if id(v.node) not in inner and v not in seen:
                    seen.add(v)
                    self.external.append(v)

    def loads(self, shape):
        """External inputs that are read from memory, with their strides over `shape`."""
        return [v for v in self.external if self.em.scalar_constant(v) is None], [
            aligned_strides(self.em.layout(v), shape) for v in self.external
            if self.em.scalar_constant(v) is None]

    def emit(self, loaded, strides, cshape, idx):
        """Emit the body; returns {value: local name or literal}."""
        em = self.em
        local = {}
        for v in self.external:
            lit = em.scalar_constant(v)
            local[v] = lit
        for v, st in zip(loaded, strides):
            name, base = em.array_of(v)
            t = em.fresh()
            em.line(f"{t} = {name}[{_linear(base, st, cshape, idx)}]")
            local[v] = t
        for n in self.members:
            args = [local[v] for v in n.inputs]
            e = expression(n, args, _compute_dtype(n), n.outputs[0].dtype.name,
                           not self.opts.strict, self.helpers)
            t = em.fresh()
            em.line(f"{t} = {e}")
            local[n.outputs[0]] = t
        return local


def emit_elementwise(em, node, opts, helpers):
    """A fused elementwise loop (lower/loops.py)."""
    members, stored = _members(node)
    shape = members[-1].outputs[0].type.shape
    body = Body(em, members, opts, helpers)
    loaded, in_strides = body.loads(shape)
    out_strides = [list(contiguous_strides(shape)) for _ in stored]
    cshape, cstrides, _ = collapse(shape, in_strides + out_strides)
    # Big loops run on all threads: every index writes its own elements, so the outer loop
    # splits freely (in-place updates included: each reads only the index it writes).
    parallel = bool(opts.parallel_min) and math.prod(cshape) >= opts.parallel_min
    if parallel:
        em.separate(f"parallel_kernel{len(em.parallel_kernels)}")
    bounds, cstrides = em.dense_rows(cshape, cstrides)
    idx = em.loops(bounds, parallel=parallel)
    local = body.emit(loaded, cstrides[:len(loaded)], cshape, idx)
    for (inner, outer), st in zip(stored.items(), cstrides[len(loaded):]):
        name, base = em.array_of(outer)
        em.line(f"{name}[{_linear(base, st, cshape, idx)}] = {local[inner]}")
    em.close(len(cshape))
    if parallel:
        em.end_separate(em.params)


# ---- single-pass reductions (ops with a Reduction trait), with an optional elementwise prologue --
def _acc_dtype(reduction, out_dtype):
    # float32 sums accumulate in float64: far closer to NumPy's pairwise sums than a plain
    # float32 running sum, and still vectorized (docs/numerics.md)
    return "float64" if reduction.combine == "add" and out_dtype == "float32" else out_dtype


def emit_fused(em, node, opts, helpers):
    """A fused group: one loop nest (lower/loops.py)."""
    (emit_reduce if node.attrs["group"].is_reduce else emit_elementwise)(em, node, opts, helpers)


def emit_reduce(em, node, opts, helpers):
    """A single-pass reduction loop with its fused prologue (lower/loops.py)."""
    members, stored = _members(node)
    red = members[-1]
    prologue = members[:-1]
    op, out = red.op.reduction, red.outputs[0]
    outer_out = stored.pop(out)
    x = red.inputs[0]
    shape = x.type.shape
    dims = set(red.attrs["dims"])
    count = 1
    for d in dims:
        count *= shape[d]
    kept = [i for i in range(len(shape)) if i not in dims]
    out_cont = contiguous_strides([shape[i] for i in kept])
    out_st = [0] * len(shape)
    for i, s in zip(kept, out_cont):
        out_st[i] = s
    body = Body(em, prologue, opts, helpers) if prologue else None
    if body:
        loaded, in_strides = body.loads(shape)
    else:
        lit = em.scalar_constant(x)
        loaded, in_strides = ([], []) if lit else ([x], [aligned_strides(em.layout(x), shape)])
    side = [list(contiguous_strides(shape)) for _ in stored]
    row = (len(shape) - 1) in dims or not kept
    order = (kept + sorted(dims)) if row else list(range(len(shape)))
    classes = [int(i in dims) for i in order]
    pshape = [shape[i] for i in order]
    sets = [[st[i] for i in order] for st in in_strides + side + [out_st]]
    cshape, cstrides, cclasses = collapse(pshape, sets, classes)
    bounds, cstrides = em.dense_rows(cshape, cstrides)
    oname, obase = em.array_of(outer_out)
    dt, acc_dt = out.dtype.name, _acc_dtype(op, out.dtype.name)
    nkept = sum(1 for c in cclasses if c == 0)

    def element(idx):
        if body:
            local = body.emit(loaded, cstrides[:len(loaded)], cshape, idx)
            for (inner, outer), st in zip(stored.items(),
                                          cstrides[len(loaded):len(loaded) + len(stored)]):
                name, base = em.array_of(outer)
                em.line(f"{name}[{_linear(base, st, cshape, idx)}] = {local[inner]}")
            return local[x]
        if not loaded:
            return em.scalar_constant(x)
        name, base = em.array_of(x)
        return f"{name}[{_linear(base, cstrides[0], cshape, idx)}]"

    ost = cstrides[-1]
    finish = (lambda a: f"{CTOR[dt]}({a} / {count})") if op.mean else (
        lambda a: f"{CTOR[dt]}({a})")
    if row:
        outer = em.loops(bounds[:nkept])
        acc = em.fresh("acc")
        em.line(f"{acc} = {reduction_identity(op, acc_dt)}")
        inner = em.loops(bounds[nkept:])
        e = element(outer + inner)
        value = e if acc_dt == dt else f"{CTOR[acc_dt]}({e})"
        em.line(f"{acc} = {reduction_combine(op, acc, value)}")
        em.close(len(cshape) - nkept)
        em.line(f"{oname}[{_linear(obase, ost[:nkept], cshape[:nkept], outer)}] = "
                f"{finish(acc)}")
        em.close(nkept)
        return
    # Reduced dims lead: walk the input in memory order, accumulating into the output.
    n_out = outer_out.type.numel()
    i = em.loops(em.bounds([n_out]))
    em.line(f"{oname}[{obase} + {i[0]}] = {reduction_identity(op, dt)}")
    em.close(1)
    idx = em.loops(bounds)
    e = element(idx)
    target = f"{oname}[{_linear(obase, ost, cshape, idx)}]"
    t = em.fresh()
    em.line(f"{t} = {e}")
    em.line(f"{target} = {reduction_combine(op, target, t)}")
    em.close(len(cshape))
    if op.mean:
        i = em.loops(em.bounds([n_out]))
        em.line(f"{oname}[{obase} + {i[0]}] = {CTOR[dt]}({oname}[{obase} + {i[0]}] / {count})")
        em.close(1)


__all__ = ["emit_elementwise", "emit_reduce", "emit_fused", "ctor"]
