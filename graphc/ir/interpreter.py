"""One graph interpreter: walk the nodes in order, free each value after its last reader.

Every consumer that runs a graph node by node (the reference target, `graphc.debug`'s search
for the first NaN, the CUDA target's executor) subclasses `Interpreter` and says only how to
run one node (`run_node`), as torch.fx's Interpreter does. The walk, the feeding of
placeholders, the error naming the op and the user's line, and the freeing of dead values are
written once, here. Freeing matters for memory: without it every intermediate of a training
step (each layer's activations and their gradients) stays alive until the step returns.
"""
from __future__ import annotations

from ..errors import GraphcError
from ..ops import leaves


class Interpreter:
    """Runs `graph` on arrays. `roots`: the values the caller wants back (default: the
    graph's outputs and its updates' new values); everything else is dropped after its last
    reader has run."""

    def __init__(self, graph, roots=None):
        self.graph = graph
        if roots is None:
            roots = list(graph.outputs) + [new for _, new in getattr(graph, "updates", ())]
        self.roots = list(roots)
        self._dead_after = self._lifetimes()

    # ---- what a subclass may say --------------------------------------------------------
    def reads(self, node):
        """The values `node` reads when it runs (a fused kernel reads its group's inputs; a
        node computed inside another one reads nothing)."""
        return node.inputs

    def run_node(self, node, args):
        """Compute `node` from the arrays of `reads(node)`: one array per output, or None for
        a node computed elsewhere (inside a fused kernel)."""
        raise NotImplementedError

    # ---- the walk -------------------------------------------------------------------------
    def _lifetimes(self):
        """For each node's position, the ids of the values that are dead once it has run."""
        keep = {id(v) for v in self.roots}
        last = {}
        for i, node in enumerate(self.graph.nodes):
            for v in node.outputs:
                last[id(v)] = i  # an output nobody reads dies where it is made
            for v in self.reads(node):
                last[id(v)] = i
        dead = [[] for _ in self.graph.nodes]
        for vid, i in last.items():
            if vid not in keep:
                dead[i].append(vid)
        return dead

    def run(self, feeds):
        """feeds: one array per graph input. Returns {id(root value): array}."""
        env = {id(v): a for v, a in zip(self.graph.inputs, feeds)}
        for node, dead in zip(self.graph.nodes, self._dead_after):
            if node.op is leaves.placeholder:
                if id(node.outputs[0]) not in env:
                    raise GraphcError(f"placeholder {node.outputs[0].name!r} is not fed")
            else:
                args = [env[id(v)] for v in self.reads(node)]
                try:
                    results = self.run_node(node, args)
                except GraphcError:
                    raise
                except Exception as e:
                    raise _naming(e, node) from e
                if results is not None:
                    env.update(zip(map(id, node.outputs), results))
            for vid in dead:
                env.pop(vid, None)
        return env

    def outputs(self, env, values):
        return [env[id(v)] for v in values]


def _naming(error, node):
    """The same kind of error, its message prefixed by the op and the user's line."""
    where = f" (created at {node.location})" if node.location else ""
    try:
        return type(error)(f"{node.op.name}{where}: {error}")
    except Exception:  # noqa: BLE001 - an exception type with another constructor
        return error
