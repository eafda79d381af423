"""Specialize a graph to concrete shapes: a fresh copy whose types are all known.

Every node's type rule runs again on concrete input types, so symbolic dims (a batch size of
None) become numbers and shape-derived values (`shape_prod`) become constants. The copy is
what the other passes may rewrite freely: the user's graph is never touched.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError, op_error
from ..ir.graph import Node
from ..ops import leaves
from ..types import TensorType
from .graph_edit import clone_node, new_graph


def specialize(graph, input_types=None, updates=()):
    """Copy `graph` with concrete types. input_types: {placeholder value: TensorType}."""
    input_types = input_types or {}
    vmap, nodes = {}, []
    # an input that no output reads (an argument used only for its shape: view_as, type_as)
    # is still fed, and a variable overwritten without being read is still updated: their
    # nodes stay in the copy
    present = {id(n) for n in graph.nodes}
    unread = []
    for v in list(graph.inputs) + [var for var, _ in updates]:
        if id(v.node) not in present:
            present.add(id(v.node))
            unread.append(v.node)
    for n in unread + list(graph.nodes):
        ins = tuple(vmap[v] for v in n.inputs)
        types = [v.type for v in ins]
        if n.op is leaves.placeholder:
            t = input_types.get(n.outputs[0], n.outputs[0].type)
            new = clone_node(n, (), {**n.attrs, "type": t}, [t])
        elif n.op.reads_only_shapes and all(t.is_concrete for t in types):
            new = _fold_shape_op(n, types)
        else:
            try:
                attrs = n.op.normalize(types, dict(n.attrs)) if n.op.normalize else dict(n.attrs)
                out_types = n.op.infer(types, **attrs)
            except (ValueError, TypeError, IndexError) as e:
                shapes = ", ".join(repr(t) for t in types)
                raise op_error(ShapeError, n.op.name, f"{e} (input types: {shapes})",
                               n.location) from None
            new = clone_node(n, ins, attrs, out_types)
        for old, v in zip(n.outputs, new.outputs):
            vmap[old] = v
        nodes.append(new)
    return new_graph(nodes, [vmap[v] for v in graph.inputs], [vmap[v] for v in graph.outputs],
                     [(vmap[var], vmap[new]) for var, new in updates])


def require_concrete(graph):
    for n in graph.nodes:
        for v in n.outputs:
            if not v.type.is_concrete:
                raise op_error(UnsupportedError, n.op.name,
                               f"output shape {v.type} is not known after specialization",
                               n.location)


def _fold_shape_op(node, types):
    """Ops that read only their inputs' shapes become constants once shapes are known."""
    fakes = [np.lib.stride_tricks.as_strided(np.zeros(1, t.dtype.np), t.shape,
                                             (0,) * t.ndim) for t in types]
    value = np.asarray(node.op.reference(*fakes, **node.attrs))
    out = node.outputs[0].type
    value = value.astype(out.dtype.np)
    return Node(leaves.constant, (), {"value": value}, [TensorType(value.shape, out.dtype)],
                node.location, [node.outputs[0].name])
