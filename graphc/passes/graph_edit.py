"""Small helpers shared by the passes: cloning nodes, replacing uses, stable re-ordering."""
from __future__ import annotations

import heapq

from ..ir.graph import Graph, Node, clone_node  # noqa: F401 (clone_node: re-exported)


def new_graph(nodes, inputs, outputs, updates):
    """A Graph carrying its variable updates ((variable value, new value) pairs)."""
    g = Graph(nodes, inputs, outputs)
    g.updates = list(updates)
    return g


def updates_of(graph):
    return getattr(graph, "updates", [])


def live_roots(graph):
    """Values the program must produce: outputs and new values of variables."""
    return list(graph.outputs) + [new for _, new in updates_of(graph)]


def remap_graph(graph, nodes, mapping):
    """Rebuild `graph` with `nodes`, following `mapping` (old value -> new value) for roots."""
    def m(v):
        while v in mapping:
            v = mapping[v]
        return v
    return new_graph(nodes, graph.inputs, [m(v) for v in graph.outputs],
                     [(var, m(new)) for var, new in updates_of(graph)])


def rewire(node, mapping):
    """Point a node's inputs at their replacements (in place)."""
    if any(v in mapping for v in node.inputs):
        ins = []
        for v in node.inputs:
            while v in mapping:
                v = mapping[v]
            ins.append(v)
        node.inputs = tuple(ins)


def stable_toposort(nodes):
    """Topological order that keeps the given order wherever dependencies allow."""
    rank = {n.id: i for i, n in enumerate(nodes)}
    producer = {v: n for n in nodes for v in n.outputs}
    waiting, users = {}, {}
    for n in nodes:
        deps = {producer[v].id for v in n.inputs if v in producer and producer[v] is not n}
        waiting[n.id] = len(deps)
        for d in deps:
            users.setdefault(d, []).append(n)
    by_id = {n.id: n for n in nodes}
    ready = [(rank[n.id], n.id) for n in nodes if waiting[n.id] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, nid = heapq.heappop(ready)
        out.append(by_id[nid])
        for u in users.get(nid, ()):
            waiting[u.id] -= 1
            if waiting[u.id] == 0:
                heapq.heappush(ready, (rank[u.id], u.id))
    if len(out) != len(nodes):
        raise RuntimeError("graph has a cycle")  # a bug in a pass, never a user error
    return out
