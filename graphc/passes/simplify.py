"""Algebraic simplification and constant folding (one forward sweep; rules see rewritten inputs).

Every rule returns a value that equals the node's output in shape, dtype and meaning, or None.
"""
from __future__ import annotations

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


RULES = (_full_like_as_view, _identity_operand, _double_negation, _noop_view, _collapse_chain,
         _fold_constants, _transposed_product)


def _uses(graph):
    """How many node inputs and graph outputs read each value."""
    uses = {}
    for n in graph.nodes:
        for v in n.inputs:
            uses[v] = uses.get(v, 0) + 1
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
                n = r
                continue
            mapping[n.outputs[0]] = r
            break
    out = remap_graph(graph, nodes, mapping)
    out.pass_note = f"rewrote {len(mapping)} values" if mapping else "no change"
    return out
