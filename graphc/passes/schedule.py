"""Scheduling around collectives: communicate as early, and wait as late, as the graph allows.

A data-parallel training step averages each gradient with an `all_reduce` node, and the
optimizer update reads the averaged values. Traced in program order, every all_reduce sits
after the whole backward pass and the updates follow it at once, which would leave the
communication nothing to overlap with. This pass reorders the nodes (any topological order
computes the same values: the memory plan decides in-place updates after it) so that

- nodes that lead to a collective run first, the one nearest to its collective first: after
  a layer's output gradient, its weight gradient and that gradient's all_reduce come before
  the next layer's backward, so the compiled program can start communicating while the
  rest of backward runs (PyTorch's autograd engine produces gradients in that order too);
- nodes that neither lead to nor depend on a collective (the loss output, running
  statistics) keep their relative order;
- nodes that depend on collectives come last, grouped by the latest collective they need:
  updates of the parameters averaged first run first, while later buckets are in flight.

Graphs without collectives are returned unchanged.
"""
from __future__ import annotations

import heapq

from ..ops.collective import all_reduce
from .graph_edit import new_graph, updates_of

# the collectives this pass schedules (a broadcast of variables runs before the program)
COLLECTIVES = (all_reduce,)


def schedule_collectives(graph):
    nodes = graph.nodes
    if not any(n.op in COLLECTIVES for n in nodes):
        return graph
    position = {n.id: i for i, n in enumerate(nodes)}
    producer = {v: n for n in nodes for v in n.outputs}
    users = {n.id: [] for n in nodes}
    for n in nodes:
        for v in n.inputs:
            if v in producer:
                users[producer[v].id].append(n)
    # distance (in nodes) to the nearest collective a node leads to: backward computes a
    # layer's weight gradient (close to its all_reduce) before going on to the next layer
    distance = {}
    for n in reversed(nodes):
        if n.op in COLLECTIVES:
            distance[n.id] = 0
        else:
            near = [distance[u.id] for u in users[n.id] if u.id in distance]
            if near:
                distance[n.id] = 1 + min(near)
    after = {}  # node id -> emission index of the latest collective it depends on

    def key(n):
        if n.id in distance:  # leads to a collective: now, nearest first
            return (0, distance[n.id], position[n.id])
        deps = [after[p.id] for p in _producers(n, producer) if p.id in after]
        if deps:              # reads averaged values: last, by the collective it waits for
            after[n.id] = max(deps)
            return (2, after[n.id], position[n.id])
        return (1, 0, position[n.id])  # neither: in its place
    waiting = {n.id: len(_producers(n, producer)) for n in nodes}
    heap = [(key(n), n.id, n) for n in nodes if waiting[n.id] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, n = heapq.heappop(heap)
        if n.op in COLLECTIVES:
            after[n.id] = len(order)
        order.append(n)
        for u in {u.id: u for u in users[n.id]}.values():  # once per distinct user
            waiting[u.id] -= 1
            if waiting[u.id] == 0:
                heapq.heappush(heap, (key(u), u.id, u))
    assert len(order) == len(nodes), "schedule_collectives: the graph has a cycle"
    scheduled = new_graph(order, graph.inputs, graph.outputs, updates_of(graph))
    scheduled.pass_note = (f"{sum(1 for n in nodes if n.op in COLLECTIVES)} collectives "
                           f"scheduled as early as their inputs allow")
    return scheduled


def _producers(n, producer):
    return list({producer[v].id: producer[v] for v in n.inputs if v in producer}.values())


__all__ = ["schedule_collectives", "COLLECTIVES"]
