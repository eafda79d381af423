"""A fused node of the shared pipeline (passes/fusion.py) as CUDA kernels.

Both targets get their fusion groups from the same pass; each renders a group its own way.
The cpu target makes one Numba loop of it (lower/loops.py). On CUDA an elementwise group is
one generated grid-stride kernel (runtime/cuda/elementwise.py) that stores every member
value read outside the group; a group that ends in a reduction runs its prologue as such a
kernel, which also stores the reduction's input, then the reduction's own kernel
(runtime/cuda/kernels_reduce.py, through the CUDA rule table). A kernel is named by its
structure (input kinds, statements, stored values), never by sizes: one kernel serves every
batch size and every identical layer, and its source is cached on disk.
"""
from __future__ import annotations

from runtime.cuda import memory

from ..storage import cuda_elementwise as elementwise, cuda_ops


class FusedKernel:
    """The kernels of one fused node, with their output buffers (allocated once, reused by
    every call of the plan)."""

    def __init__(self, node):
        group = node.attrs["group"]
        self.outputs = group.outputs  # the inner values that the fused node's outputs carry
        self.reduction = group.nodes[-1] if group.is_reduce else None
        members = group.nodes[:-1] if group.is_reduce else group.nodes
        # ids, not values, as keys: a Value's == builds a graph node
        index = {id(n.outputs[0]): j for j, n in enumerate(members)}
        position = {id(v): k for k, v in enumerate(node.inputs)}
        specs = [(n.op, n.attrs,
                  [("node", index[id(v)]) if id(v) in index else ("in", position[id(v)])
                   for v in n.inputs],
                  n.inputs[0].dtype if n.inputs else None, n.outputs[0].dtype)
                 for n in members]
        self.stored = [v for v in group.outputs if id(v) in index]
        if self.reduction is not None and id(self.reduction.inputs[0]) not in map(id,
                                                                                self.stored):
            self.stored.append(self.reduction.inputs[0])
        self.code = elementwise.elementwise_body(specs, [index[id(v)] for v in self.stored])
        self.shape = tuple(group.shape)
        self.buffers = [memory.empty(self.shape, v.dtype.np) for v in self.stored]

    def run(self, args):
        """args: one device array or host scalar per input of the fused node; returns one
        device array per output."""
        kinds = tuple(elementwise.input_kind(a, self.shape) for a in args)
        elementwise.run_elementwise(kinds, self.code, elementwise.scalar_arguments(args, kinds),
                                 self.buffers)
        values = {id(v): out for v, out in zip(self.stored, self.buffers)}
        r = self.reduction
        if r is not None:
            values[id(r.outputs[0])] = cuda_ops.run(r.op, [values[id(r.inputs[0])]], r.attrs,
                                                    [r.outputs[0].type])[0]
        return [values[id(v)] for v in self.outputs]

    def give_away(self, arrays):
        """The caller keeps these arrays (outputs left on the device): the buffers among
        them are replaced, so the next call does not overwrite what the caller holds."""
        kept = {id(a) for a in arrays}
        self.buffers = [memory.empty(b.shape, b.dtype) if id(b) in kept else b
                        for b in self.buffers]
