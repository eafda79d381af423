"""Scheduling around collectives: communicate as early, and wait as late, as the graph allows.

A data-parallel training step averages each gradient with an `all_reduce` node, and the
optimizer update reads the averaged values. Traced in program order, every all_reduce sits
after the whole backward pass and the updates follow it at once, which would leave the
communication nothing to overlap with. This pass reorders the nodes (any topological order
computes the same values: the memory plan decides in-place updates after it) so that

- each all_reduce (and any node that only feeds collectives, such as a concatenation of
  gradients) comes right after its last input is computed, so the compiled program can
  start it while the rest of backward runs;
- every node that does not depend on a collective keeps its place, before any that does;
- nodes that depend on collectives come last, grouped by the collective they need that is
  ready last: updates of the parameters averaged first run first, while later buckets are
  still in flight.

Graphs without collectives are returned unchanged.
"""
from __future__ import annotations

import heapq

from .graph_edit import new_graph, updates_of

COLLECTIVES = ("all_reduce",)


def schedule_collectives(graph):
    nodes = graph.nodes
    if not any(n.op.name in COLLECTIVES for n in nodes):
        return graph
    position = {n.id: i for i, n in enumerate(nodes)}
    producer = {v: n for n in nodes for v in n.outputs}
    users = {n.id: [] for n in nodes}
    for n in nodes:
        for v in n.inputs:
            if v in producer:
                users[producer[v].id].append(n)
    early = _feeding_collectives(nodes, users)
    # ready[n]: the position of the last (non-early) node a collective waits for; a node that
    # reads averaged values is keyed by the latest ready collective it depends on
    ready, after = {}, {}
    for n in nodes:
        inputs = [producer[v] for v in n.inputs if v in producer]
        if n.id in early:
            ready[n.id] = max([ready.get(p.id, position[p.id]) if p.id in early
                               else position[p.id] for p in inputs], default=-1)
        deps = [after[p.id] for p in inputs if p.id in after]
        if n.op.name in COLLECTIVES:
            deps.append(ready[n.id])
        if deps:
            after[n.id] = max(deps)

    def key(n):
        if n.id in early:
            return (0, 0, position[n.id])
        if n.id in after:
            return (2, after[n.id], position[n.id])
        return (1, 0, position[n.id])
    waiting = {n.id: len({producer[v].id for v in n.inputs if v in producer}) for n in nodes}
    heap = [(key(n), n.id, n) for n in nodes if waiting[n.id] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, n = heapq.heappop(heap)
        order.append(n)
        for u in {u.id: u for u in users[n.id]}.values():  # once per distinct user
            waiting[u.id] -= 1
            if waiting[u.id] == 0:
                heapq.heappush(heap, (key(u), u.id, u))
    assert len(order) == len(nodes), "schedule_collectives: the graph has a cycle"
    scheduled = new_graph(order, graph.inputs, graph.outputs, updates_of(graph))
    scheduled.pass_note = (f"{sum(1 for n in nodes if n.op.name in COLLECTIVES)} collectives "
                           f"moved next to their inputs")
    return scheduled


def _feeding_collectives(nodes, users):
    """Ids of collectives and of the computed nodes whose every user is one of them."""
    early = {n.id for n in nodes if n.op.name in COLLECTIVES}
    for n in reversed(nodes):
        if n.id not in early and n.op.kind != "leaf" and users[n.id] and \
                all(u.id in early for u in users[n.id]):
            early.add(n.id)
    return early


__all__ = ["schedule_collectives", "COLLECTIVES"]
