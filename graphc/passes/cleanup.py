"""Common subexpression elimination and dead code elimination."""
from __future__ import annotations

import numpy as np

from ..ops import leaves
from ..types import DType, TensorType
from .graph_edit import live_roots, remap_graph, rewire, updates_of


def _attr_key(a):
    if isinstance(a, np.ndarray):
        return ("array", a.dtype.str, a.shape, a.tobytes()) if a.size <= 4096 else ("id", id(a))
    if isinstance(a, (list, tuple)):
        return tuple(_attr_key(x) for x in a)
    if isinstance(a, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in a.items()))
    if isinstance(a, (DType, TensorType)):
        return repr(a)
    try:
        hash(a)
    except TypeError:
        return ("id", id(a))
    return (type(a).__name__, a)


def _key(node):
    if node.op is leaves.constant:
        return ("constant", _attr_key(node.attrs["value"]))
    if node.op.is_leaf or node.op.effects.random:  # two applications may differ
        return None
    return (node.op, tuple(id(v) for v in node.inputs), _attr_key(node.attrs))


def cse(graph):
    """Merge nodes that apply the same op to the same inputs with the same attributes."""
    seen, mapping, nodes = {}, {}, []
    for n in graph.nodes:
        rewire(n, mapping)
        key = _key(n)
        if key is not None and key in seen:
            for old, new in zip(n.outputs, seen[key].outputs):
                mapping[old] = new
            continue
        if key is not None:
            seen[key] = n
        nodes.append(n)
    out = remap_graph(graph, nodes, mapping)
    out.pass_note = f"merged {len(mapping)} repeated values" if mapping else "no change"
    return out


def dce(graph):
    """Drop nodes that no output or variable update depends on (placeholders stay, and so
    do updated variables, even when their new value does not read them: `p.copy_(x)`)."""
    live = {id(v.node) for v in live_roots(graph)}
    live.update(id(var.node) for var, _ in updates_of(graph))
    for n in reversed(graph.nodes):
        if id(n) in live:
            live.update(id(v.node) for v in n.inputs)
    nodes = [n for n in graph.nodes if id(n) in live or n.op is leaves.placeholder]
    out = remap_graph(graph, nodes, {})
    dropped = len(graph.nodes) - len(nodes)
    out.pass_note = f"dropped {dropped} dead nodes" if dropped else "no change"
    return out
