"""Fusion for the CUDA target: chains of elementwise nodes become one generated kernel.

An elementwise node joins the group of a producer when that producer is elementwise, has the
same output shape, and its value is used only there (not an output, an update or by another
node): the group is then a tree whose root writes the only buffer. Inputs from outside may
broadcast; 0-d constants become kernel arguments.
"""
from __future__ import annotations

import numpy as np

from ..passes.graph_edit import live_roots
from ..storage import cuda_ops


class Group:
    def __init__(self, root, nodes):
        self.root, self.nodes = root, nodes
        # ids, not values, as keys: a Value's == builds a graph node
        inside = {id(v) for n in nodes for v in n.outputs}
        position = {}
        self.inputs = []
        for n in nodes:
            for v in n.inputs:
                if id(v) not in inside and id(v) not in position:
                    position[id(v)] = len(self.inputs)
                    self.inputs.append(v)
        index = {id(n): j for j, n in enumerate(nodes)}
        self.body = tuple(cuda_ops.elementwise_body(
            [(n.op, n.attrs, [("node", index[id(v.node)]) if id(v) in inside else
                              ("in", position[id(v)]) for v in n.inputs],
              n.inputs[0].dtype if n.inputs else None, n.outputs[0].dtype) for n in nodes],
            len(self.inputs)))
        self._kernels = {}

    def kernel(self, args):
        kinds = tuple(cuda_ops.input_kind(a, self.root.outputs[0].shape) for a in args)
        return kinds, self.body

    def kernel_args(self, args):
        return [a if cuda_ops.memory_is_device(a) else np.asarray(a)[()] for a in args]


class Groups(dict):
    """root node -> Group; .members: every node inside some group."""

    def __init__(self):
        super().__init__()
        self.members = set()


def fuse_elementwise(graph):
    uses = {}
    for n in graph.nodes:
        for v in n.inputs:
            uses[id(v)] = uses.get(id(v), 0) + 1
    for v in live_roots(graph):
        uses[id(v)] = uses.get(id(v), 0) + 2  # outputs and updates need their own buffer
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    group_of = {}
    for n in graph.nodes:
        if n.op.scalar is None:
            continue
        members = [n]
        for v in n.inputs:
            p = v.node
            if p in group_of and uses.get(id(v), 0) == 1 and tuple(v.shape) == tuple(
                    n.outputs[0].shape):
                for m in group_of[p]:
                    if m not in members:
                        members.append(m)
        members.sort(key=lambda m: order[id(m)])
        for m in members:
            group_of[m] = members
    groups = Groups()
    for n, members in group_of.items():
        if members[-1] is n:
            groups[n] = Group(n, members)
            groups.members.update(members)
    return groups
