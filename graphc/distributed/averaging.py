"""graphc.compile(..., distributed=True): average a step's parameter gradients over the ranks.

A graph built by hand (graphc.grad, or an optimizer's `updates(loss)`) knows which of its
values are parameter gradients: graphc.grad tags each gradient of a variable
(`Value.grad_of`; saved in the JSON format). `average_gradients` inserts one
`all_reduce(mean)` node after each tagged gradient and makes every node that reads the
gradient *after* backward (the optimizer update, gradient clipping, a returned gradient)
read the average instead, exactly as graphc.jit(distributed=True) replaces `.grad` after a
traced backward. Nodes that compute gradients keep the local values: a gradient that also
feeds another gradient (a bias's gradient is the cotangent the weight's gradient is made
from) is averaged once, at the end, never twice.
"""
from __future__ import annotations

from ..errors import UnsupportedError
from ..ir.graph import Graph, name_scope
from ..ops.collective import all_reduce as all_reduce_op
from ..passes.graph_edit import clone_node

SCOPE = "compile(distributed=True)"


def average_gradients(outputs, updates, bucket_cap_mb=None):
    """(outputs, updates) of the step with its tagged parameter gradients averaged.

    outputs: a list of values; updates: (variable, new value) pairs. A gradient already
    averaged by an all_reduce (a DistributedDataParallel model's static forward, or a hand
    written `dist.all_reduce(g, op=AVG)`) is left as it is.
    """
    roots = list(outputs) + [new for _, new in updates]
    nodes = Graph.from_outputs(roots).nodes
    tagged = [v for n in nodes for v in n.outputs if v.grad_of]
    if not tagged:
        raise UnsupportedError(
            "compile(distributed=True): the step has no parameter gradients to average. "
            "Gradients are recognized where graphc.grad (or an optimizer's updates(loss)) "
            "made them, w.r.t. variables or parameters; average other values with "
            "graphc.distributed.all_reduce(v, op=ReduceOp.AVG)")
    grads = [v for v in tagged if v.node.op is not all_reduce_op]
    # every node a gradient is computed from runs on the local values
    computes_gradient, stack = set(), [g.node for g in grads]
    while stack:
        node = stack.pop()
        if node.id not in computes_gradient:
            computes_gradient.add(node.id)
            stack.extend(v.node for v in node.inputs)
    mapping = {}
    with name_scope(SCOPE):
        for g in grads:
            mapping[g] = all_reduce_op(g, reduce="mean", bucket_cap_mb=bucket_cap_mb)
    for node in nodes:
        if node.id in computes_gradient or node.op is all_reduce_op:
            continue  # (an all_reduce of a gradient: averaged by hand already)
        if any(v in mapping for v in node.inputs):
            copy = clone_node(node, tuple(mapping.get(v, v) for v in node.inputs), node.attrs,
                              [o.type for o in node.outputs])
            mapping.update(zip(node.outputs, copy.outputs))
    return ([mapping.get(v, v) for v in outputs],
            [(var, mapping.get(new, new)) for var, new in updates])


__all__ = ["average_gradients"]
