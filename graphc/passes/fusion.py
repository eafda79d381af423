"""Fusion: elementwise chains become one loop; elementwise producers join a reduction's loop.

Rules (docs/compiler.md):
- elementwise nodes of the same output shape fuse; inputs of other shapes are read through
  broadcast strides, never materialized;
- a single-pass reduction (an op with a Reduction trait: sum, mean, amax, amin) absorbs the
  elementwise group computing its input when the reduction is that value's only reader:
  `mean((a - b) ** 2)` is one pass;
- a one-element value read by several nodes joins none of their groups (scalar chains of
  different parameters stay apart, so their kernels do not grow with the model);
- a merge is legal only if no path leaves the group and comes back (it would make a cycle),
  checked on the node DAG; nothing is ever computed twice.
A fused group becomes one `fused` node whose outputs are the group's values read outside it.
"""
from __future__ import annotations

from ..ir.graph import Node
from ..ops.registry import PURE
from .graph_edit import live_roots, new_graph, stable_toposort


class FusedOp:
    """The op of a fused node (not a registry op: it exists only inside the compiler)."""
    name = family = "fused"
    num_outputs = None
    vjp = None
    normalize = None
    # the traits of an Op (graphc/ops/registry.py): a fused node is none of these
    scalar = view = reduction = None
    effects = PURE
    shape_only_inputs = ()
    is_leaf = reads_only_shapes = False


FUSED = FusedOp()


class FusedGroup:
    """The nodes of one fused kernel, in order: elementwise ops, ending in a single-pass
    reduction when `is_reduce`."""

    def __init__(self, nodes, is_reduce, outputs):
        self.nodes = nodes
        self.is_reduce = is_reduce
        self.outputs = outputs  # inner values read outside the group, in fused-node order

    @property
    def kind(self):
        """A label for people (graph pictures, dumps): "reduce" or "elementwise"."""
        return "reduce" if self.is_reduce else "elementwise"

    @property
    def shape(self):
        """The loop's index space: the (reduction's input) shape every member computes."""
        last = self.nodes[-1]
        return (last.inputs[0] if self.is_reduce else last.outputs[0]).type.shape

    def __repr__(self):
        return "[" + ", ".join(n.op.name for n in self.nodes) + "]"


def is_fusable(node):
    return node.op.scalar is not None


def fuse(graph):
    """Group fusable nodes (see module doc) and replace each multi-node group by a node."""
    successors = {n.id: set() for n in graph.nodes}  # (a plain dict: importing networkx
    for n in graph.nodes:                              # costs a warm start 0.2-1 s)
        for v in n.inputs:
            successors[v.node.id].add(n.id)
    group_of = {}     # node id -> group id (the id of its first node)
    members = {}      # group id -> list of nodes
    reducing = {}     # group id -> whether it ends in a reduction
    position = {n.id: i for i, n in enumerate(graph.nodes)}  # edges go to higher positions
    ids = {}          # group id -> its members' ids
    highest = {}      # group id -> the highest position of its members
    lowest = {}       # group id -> the lowest position of its members
    exits = {}        # group id -> successors of its members outside it
    users = graph.users()
    roots = set(live_roots(graph))

    def new_group(n, is_reduce):
        group_of[n.id], members[n.id], reducing[n.id] = n.id, [n], is_reduce
        ids[n.id], exits[n.id] = {n.id}, set(successors[n.id])
        highest[n.id] = lowest[n.id] = position[n.id]

    def drop_group(g):
        for table in (members, reducing, ids, highest, lowest, exits):
            del table[g]
        del group_of[g]

    def legal(a, b):
        """Merging groups a and b makes no cycle: no path leaves one and comes back into the
        other. Another group counts as the single node it will become: entering any of its
        members reaches the successors of all of them. A node past every target reaches
        none of them, unless its group has a member before them: that keeps each check
        local (without it, fusing an unrolled 64-step LSTM took seconds)."""
        for src, dst in ((a, b), (b, a)):
            targets, limit = ids[dst], highest[dst]

            def may_reach(y):
                return position[y] < limit or lowest.get(group_of.get(y), limit) < limit
            stack = [y for y in exits[src] if y not in ids[a] and y not in ids[b]]
            if any(y in targets for y in stack):
                return False
            stack = [y for y in stack if may_reach(y)]
            seen, seen_groups = set(stack), {a, b}
            while stack:
                x = stack.pop()
                g = group_of.get(x)
                if g is None:
                    nexts = successors[x]
                elif g in seen_groups:
                    continue
                else:
                    seen_groups.add(g)
                    nexts = exits[g]
                for y in nexts:
                    if y in targets:
                        return False
                    if y not in seen and may_reach(y):
                        seen.add(y)
                        stack.append(y)
        return True

    def merge(a, b):
        if len(ids[a]) < len(ids[b]):  # keep a's id, grow from the larger sets
            ids[a], ids[b] = ids[b], ids[a]
            exits[a], exits[b] = exits[b], exits[a]
        ids[a] |= ids.pop(b)
        exits[a] |= exits.pop(b)
        exits[a] -= ids[a]
        lowest[a] = min(lowest[a], lowest.pop(b))
        highest[a] = max(highest[a], highest.pop(b))
        reducing.pop(b)
        for n in members.pop(b):
            group_of[n.id] = a
            members[a].append(n)

    for n in graph.nodes:
        if is_fusable(n):
            gid = n.id
            new_group(n, False)
            shape = n.outputs[0].type.shape
            for v in n.inputs:
                p = group_of.get(v.node.id)
                if (p is not None and p != gid and not reducing[p]
                        and v.type.shape == shape and not _shared_scalar(v, users)
                        and legal(p, gid)):
                    merge(p, gid)
                    gid = p
        elif n.op.reduction is not None:  # a single-pass reduction takes a prologue
            x = n.inputs[0]
            p = group_of.get(x.node.id)
            if (p is not None and not reducing[p] and len(users.get(x, ())) == 1
                    and x not in roots and x.type.shape == members[p][-1].outputs[0].type.shape):
                new_group(n, True)
                if legal(p, n.id):
                    merge(p, n.id)
                    reducing[p] = True
                else:
                    drop_group(n.id)
    return _rebuild(graph, members, reducing, users, roots)


def _shared_scalar(value, users):
    """A one-element value read by several nodes joins none of their groups: fusing scalars
    saves nothing, and every parameter's optimizer scalars (Adam's step count and bias
    corrections) would otherwise grow into one group as deep as the model, whose kernel then
    changes with every added layer (docs/compiler.md, kernel layout)."""
    return len(users.get(value, ())) > 1 and all(d == 1 for d in value.type.shape)


def _rebuild(graph, members, reducing, users, roots):
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    replaced, mapping, fused_nodes = set(), {}, []
    for gid, nodes in members.items():
        if len(nodes) < 2:
            continue
        nodes.sort(key=lambda n: position[n.id])
        inside = {id(n) for n in nodes}
        outputs = [v for n in nodes for v in n.outputs
                   if v in roots or any(id(u) not in inside for u in users.get(v, ()))]
        inputs, seen = [], set()
        for n in nodes:
            for v in n.inputs:
                if id(v.node) not in inside and v not in seen:
                    seen.add(v)
                    inputs.append(v)
        group = FusedGroup(nodes, reducing[gid], outputs)
        fused = Node(FUSED, inputs, {"group": group}, [v.type for v in outputs],
                     nodes[-1].location, [v.name for v in outputs])
        scopes = {n.scope for n in nodes}
        fused.scope = scopes.pop() if len(scopes) == 1 else None
        mapping.update(zip(outputs, fused.outputs))
        replaced.update(id(n) for n in nodes)
        fused_nodes.append((position[nodes[-1].id], fused))
    for _, fused in fused_nodes:  # groups may read values that other groups now output
        group = fused.attrs["group"]
        inside = {id(n) for n in group.nodes}
        for n in group.nodes:
            n.inputs = tuple(v if id(v.node) in inside else mapping.get(v, v) for v in n.inputs)
        fused.inputs = tuple(mapping.get(v, v) for v in fused.inputs)
    nodes = [n for n in graph.nodes if id(n) not in replaced]
    for n in nodes:
        if any(v in mapping for v in n.inputs):
            n.inputs = tuple(mapping.get(v, v) for v in n.inputs)
    order = sorted([(position[n.id], n) for n in nodes] + fused_nodes, key=lambda p: p[0])
    nodes = stable_toposort([n for _, n in order])
    return new_graph(nodes, graph.inputs, [mapping.get(v, v) for v in graph.outputs],
                     [(var, mapping.get(new, new)) for var, new in graph.updates])
