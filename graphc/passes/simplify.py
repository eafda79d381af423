"""Algebraic simplification and constant folding (one forward sweep; rules see rewritten inputs).

Every rule returns a value that equals the node's output in shape, dtype and meaning, or None.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..ir.graph import Node
from ..ops import elementwise as E, leaves, linalg
from ..ops import shape as shape_ops
from ..types import TensorType
from .graph_edit import remap_graph, rewire, updates_of

# Folding bigger constants would grow the program's constant data for little gain.
FOLD_LIMIT = 1 << 16


def _const(v):
    return v.node.attrs["value"] if v.node.op is leaves.constant else None


def _is_filled(v, x):
    c = _const(v)
    return c is not None and c.size > 0 and bool(np.all(c == x))


def _same_type(v, node):
    return v.type == node.outputs[0].type


_UNITS = {E.mul: 1, E.add: 0, E.sub: 0, E.div: 1}  # op -> the operand value it ignores


def _identity_operand(node, uses):
    """x*1, 1*x, x+0, 0+x, x-0, x/1 -> x (only when that keeps shape and dtype)."""
    ins = node.inputs
    unit = _UNITS.get(node.op)
    if unit is None:
        return None
    commutes = node.op is E.mul or node.op is E.add
    for keep, other in ((0, 1), (1, 0)) if commutes else ((0, 1),):
        if _is_filled(ins[other], unit) and _same_type(ins[keep], node):
            return ins[keep]
    return None


def _double_negation(node, uses):
    x = node.inputs[0]
    if node.op is E.neg and x.node.op is E.neg:
        return x.node.inputs[0]
    return None


_NOOP_WHEN_SAME_TYPE = (shape_ops.reshape, shape_ops.squeeze, shape_ops.unsqueeze,
                        shape_ops.broadcast_to, shape_ops.expand_like, E.cast)


def _noop_view(node, uses):
    """A view or cast that changes nothing."""
    if node.op in _NOOP_WHEN_SAME_TYPE and _same_type(node.inputs[0], node):
        return node.inputs[0]
    if node.op is shape_ops.permute and node.attrs["dims"] == tuple(range(len(node.attrs["dims"]))):
        return node.inputs[0]
    return None


def _collapse_chain(node, uses):
    """permute(permute(x)) -> one permute; reshape(reshape(x)) -> one reshape."""
    op, x = node.op, node.inputs[0]
    if x.node.op is not op or op not in (shape_ops.permute, shape_ops.reshape):
        return None
    src = x.node.inputs[0]
    if op is shape_ops.permute:
        inner = x.node.attrs["dims"]
        dims = tuple(inner[d] for d in node.attrs["dims"])
        if dims == tuple(range(len(dims))):
            return src
        attrs = {"dims": dims}
    else:
        if src.type.shape == node.outputs[0].type.shape:
            return src
        attrs = {"shape": node.outputs[0].type.shape}
    merged = Node(node.op, (src,), attrs, [node.outputs[0].type], node.location,
                  [node.outputs[0].name])
    merged.scope = node.scope
    return merged


def _fold_constants(node, uses):
    if node.op.is_leaf or node.op.effects.random or node.op.num_outputs != 1:
        return None
    values = [_const(v) for v in node.inputs]
    out = node.outputs[0].type
    if any(v is None for v in values) or (out.numel() or 0) > FOLD_LIMIT:
        return None
    with np.errstate(all="ignore"):
        value = np.asarray(node.op.reference(*values, **node.attrs), out.dtype.np)
    return Node(leaves.constant, (), {"value": value}, [TensorType(value.shape, out.dtype)],
                node.location, [node.outputs[0].name])


def _zero_view(like):
    """A free stand-in for an input whose values are never read (only its shape)."""
    zero = Node(leaves.constant, (), {"value": np.zeros((), like.dtype.np)},
                [TensorType((), like.dtype)], like.node.location)
    return Node(shape_ops.broadcast_to, zero.outputs, {"shape": like.type.shape},
                [like.type], like.node.location)


def _drop_shape_only_reads(node):
    """Inputs read only for their shape stop depending on the values that compute them (an op
    that reads nothing but shapes is folded to a constant by specialize instead)."""
    slots = () if node.op.reads_only_shapes else node.op.shape_only_inputs
    for i in slots:
        like = node.inputs[i]
        if not (like.node.op is shape_ops.broadcast_to and _const(like.node.inputs[0]) is not None):
            view = _zero_view(like)
            node.inputs = node.inputs[:i] + (view.outputs[0],) + node.inputs[i + 1:]
            return [view.inputs[0].node, view]
    return None


def _full_like_as_view(node, uses):
    """full_like(x) -> a constant scalar broadcast to x's shape (a free stride-0 view)."""
    if node.op is not E.full_like:
        return None
    out = node.outputs[0].type
    value = Node(leaves.constant, (), {"value": np.asarray(node.attrs["value"], out.dtype.np)},
                 [TensorType((), out.dtype)], node.location)
    return Node(shape_ops.broadcast_to, value.outputs, {"shape": out.shape}, [out],
                node.location, [node.outputs[0].name]), value


def _transposed_product(node, uses):
    """transpose(a @ b) -> b^T @ a^T when the product has no other reader: BLAS reads
    transposed operands for free, and the result comes out in the layout its readers want
    (e.g. a Linear weight's gradient, which Adam then walks densely, not with a stride)."""
    if node.op is not shape_ops.permute or node.inputs[0].node.op is not linalg.matmul:
        return None
    product = node.inputs[0].node
    a, b = product.inputs
    n = len(node.attrs["dims"])
    swap = tuple(range(n - 2)) + (n - 1, n - 2)
    if node.attrs["dims"] != swap or a.ndim != n or b.ndim != n or uses.get(node.inputs[0]) != 1:
        return None
    bt, at = (Node(shape_ops.permute, (v,), {"dims": swap},
                   [TensorType(v.type.shape[:-2] + v.type.shape[:-3:-1], v.dtype)],
                   node.location) for v in (b, a))
    swapped = Node(product.op, (bt.outputs[0], at.outputs[0]), dict(product.attrs),
                   [node.outputs[0].type], node.location, [node.outputs[0].name])
    for new in (bt, at, swapped):
        new.scope = node.scope
    return swapped, bt, at


def _batch_permuted_product(node, uses):
    """permute(x, p) @ w -> permute(x @ w, p) for a 2-D w and a p that keeps the last dim:
    x @ w is one BLAS call on x as it lies (e.g. an RNN's input projection of every time step
    of a batch-first x), where the permuted operand needed a compiled batched product."""
    if node.op is not linalg.matmul:
        return None
    a, w = node.inputs
    if w.ndim != 2 or a.ndim < 3 or a.node.op is not shape_ops.permute:
        return None
    dims = a.node.attrs["dims"]
    if dims[-1] != a.ndim - 1:
        return None
    x = a.node.inputs[0]
    out = node.outputs[0].type
    product = Node(linalg.matmul, (x, w), dict(node.attrs),
                   [TensorType(x.type.shape[:-1] + (out.shape[-1],), out.dtype)], node.location)
    back = Node(shape_ops.permute, product.outputs, {"dims": dims}, [out], node.location,
                [node.outputs[0].name])
    product.scope = back.scope = node.scope
    return back, product


def _slice_range(node):
    """(dim, start, stop, squeezed) of a slice_backward that places its gradient in one
    contiguous range of one dim of a zero tensor (every other dim whole; squeezed: an integer
    index, so the gradient lacks that dim), or None."""
    shape, found = node.outputs[0].type.shape, None
    for d, e in enumerate(node.attrs["index"]):
        if e[0] not in ("slice", "int") or not isinstance(shape[d], int):
            return None
        if e[0] == "int":
            start, stop, step = e[1] % shape[d], e[1] % shape[d] + 1, 1
        else:
            start, stop, step = builtins.slice(*e[1:]).indices(shape[d])
            if (start, stop, step) == (0, shape[d], 1):
                continue
        if step != 1 or found is not None:
            return None
        found = (d, start, stop, e[0] == "int")
    return found


def _tiled_slice_gradients(node, uses):
    """sum of slice_backward(g_i) over disjoint ranges of one dim -> cat(g_i, zeros in the
    gaps): the gradient of x.chunk() / x.split() / x[t] (an LSTM's gates and time steps),
    written once instead of zero-filled per piece and added up. Rewritten at the root of the
    sum only: the terms are gathered once, not again at every partial sum."""
    if node.op is not E.add or not all(_same_type(v, node) for v in node.inputs) or \
            node.outputs[0] in uses.summed:
        return None
    pieces, stack = [], list(node.inputs)
    while stack:
        v = stack.pop()
        if uses.get(v) != 1 or not _same_type(v, node):
            return None
        if v.node.op is E.add:
            stack.extend(v.node.inputs)
        elif v.node.op is shape_ops.slice_backward and _slice_range(v.node) is not None:
            pieces.append((_slice_range(v.node), v.node.inputs[0]))
        else:
            return None
    pieces.sort(key=lambda p: p[0][1])
    if len({p[0][0] for p in pieces}) != 1:
        return None
    out, dim = node.outputs[0].type, pieces[0][0][0]
    parts, new, at = [], [], 0
    for (_, start, stop, squeezed), g in pieces + [((dim, out.shape[dim], None, False), None)]:
        if start < at:
            return None  # overlapping pieces
        if start > at:  # a gap: zeros, as a free broadcast view of one constant
            gap = TensorType(out.shape[:dim] + (start - at,) + out.shape[dim + 1:], out.dtype)
            zero = Node(leaves.constant, (), {"value": np.zeros((), out.dtype.np)},
                        [TensorType((), out.dtype)], node.location)
            new += [zero, Node(shape_ops.broadcast_to, zero.outputs, {"shape": gap.shape},
                               [gap], node.location)]
            parts.append(new[-1].outputs[0])
        if g is None:
            break
        if squeezed:
            new.append(Node(shape_ops.unsqueeze, (g,), {"dims": (dim,)},
                            [TensorType(out.shape[:dim] + (1,) + out.shape[dim + 1:],
                                        out.dtype)], node.location))
            g = new[-1].outputs[0]
        parts.append(g)
        at = stop
    cat = Node(shape_ops.cat, tuple(parts), {"dim": dim}, [out], node.location,
               [node.outputs[0].name])
    for n in new + [cat]:
        n.scope = node.scope
    return (cat, *new)


RULES = (_full_like_as_view, _identity_operand, _double_negation, _noop_view, _collapse_chain,
         _fold_constants, _transposed_product, _batch_permuted_product, _tiled_slice_gradients)


class _Uses(dict):
    """How many node inputs and graph outputs read each value; `summed`: the values read by
    an add of their own type (the partial sums and terms of a longer sum)."""

    __slots__ = ("summed",)


def _uses(graph):
    uses = _Uses()
    uses.summed = set()
    for n in graph.nodes:
        for v in n.inputs:
            uses[v] = uses.get(v, 0) + 1
            if n.op is E.add and v.type == n.outputs[0].type:
                uses.summed.add(v)
    for v in list(graph.outputs) + [new for _, new in updates_of(graph)]:
        uses[v] = uses.get(v, 0) + 1
    return uses


def simplify(graph):
    """Apply RULES to each node once, in order; replaced nodes are left for DCE."""
    mapping, nodes, uses = {}, [], _uses(graph)
    for n in graph.nodes:
        rewire(n, mapping)
        if n.op.is_leaf:
            nodes.append(n)
            continue
        nodes.extend(_drop_shape_only_reads(n) or ())
        nodes.append(n)
        for rule in RULES:
            r = rule(n, uses)
            if r is None:
                continue
            if isinstance(r, tuple):  # (new node, new nodes it reads, in order)
                nodes.extend(r[1:])
                r = r[0]
            if isinstance(r, Node):  # a new node replaces n; later rules see it
                nodes.append(r)
                mapping[n.outputs[0]] = r.outputs[0]
                uses[r.outputs[0]] = uses.get(n.outputs[0], 0)  # (it has n's readers)
                n = r
                continue
            mapping[n.outputs[0]] = r
            break
    out = remap_graph(graph, nodes, mapping)
    out.pass_note = f"rewrote {len(mapping)} values" if mapping else "no change"
    return out
