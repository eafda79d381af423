"""The "cuda" compile target: a graph run on the GPU, elementwise chains fused into one kernel.

Per shape signature of the feeds, the graph is specialized to concrete shapes, rewritten by
the cpu target's graph passes (simplify, cse, dce) and planned once: fusion groups (cuda_fusion), constants uploaded, elementwise output buffers allocated.
Each call then transfers only the feeds and the fetched outputs:
- variables (parameters, optimizer state) stay on the device: a CUDA tensor's storage is used
  in place; a CPU tensor gets a device mirror, uploaded when its host version changes and
  written back after each call that updates it (move the model with .to("cuda") to avoid that);
- outputs are copied to the host unless every feed is already on the device (CUDA tensors):
  then they are returned as CUDA tensors, with no transfer.
"""
from __future__ import annotations

import numpy as np

from runtime.cuda import memory, require

from ..ir.interpreter import Interpreter
from ..ops import leaves
from ..passes.graph_edit import updates_of
from ..passes import run_pipeline
from ..storage import cuda_ops
from ..types import TensorType
from . import register_target
from .cuda_fusion import fuse_elementwise


# the cpu pipeline's passes that build its kernel schedule: fusion groups, collective order and
# the memory plan's arenas
CPU_SCHEDULE = ("fuse", "schedule_collectives", "plan_memory")


class CudaRunner:
    def __init__(self, spec):
        require()
        self.spec = spec
        self._plans = {}

    def __call__(self, feeds):
        key = tuple((tuple(f.shape), np.dtype(f.dtype).str) for f in feeds)
        plan = self._plans.get(key)
        if plan is None:
            types = {p: TensorType(k[0], np.dtype(k[1])) for p, k in zip(self.spec.graph.inputs,
                                                                          key)}
            # the cpu target's graph passes (simplify, cse, dce: verified after each when
            # GRAPHC_VERIFY=1); fusion and the schedule are this target's own (cuda_fusion)
            graph = run_pipeline(self.spec.graph, input_types=types, updates=self.spec.updates,
                                 skip=CPU_SCHEDULE)
            plan = self._plans[key] = Plan(graph)
        return plan.run(feeds)


class Plan:
    """One specialized graph as a list of steps over device arrays."""

    def __init__(self, graph):
        self.graph = graph
        self.groups = fuse_elementwise(graph)
        self.constants = {}
        self.buffers = {}
        for node in graph.nodes:
            if node.op is leaves.constant:
                value = np.asarray(node.attrs["value"], node.outputs[0].dtype.np)
                self.constants[node.outputs[0]] = value if value.ndim == 0 else \
                    memory.to_device(value)
        for group in self.groups.values():
            out = group.root.outputs[0]
            self.buffers[out] = memory.empty(out.shape, out.dtype.np)
        self.mirrors = {}  # host-resident variable storage -> (device copy, host version)
        self.interpreter = _CudaInterpreter(self)

    def _variable(self, storage):
        if type(storage._data) is not np.ndarray:
            return storage._data
        copy, version = self.mirrors.get(id(storage), (None, None))
        if copy is None or version != storage._vc[0]:
            copy = memory.to_device(storage._data)
            self.mirrors[id(storage)] = (copy, storage._vc[0])
        return copy

    def run(self, feeds):
        on_device = bool(feeds) and all(type(f) is not np.ndarray for f in feeds)
        env = self.interpreter.run([memory.to_device(a) if type(a) is np.ndarray else a
                                    for a in feeds])
        self._write_updates(env)
        outputs = self.interpreter.outputs(env, self.graph.outputs)
        if on_device:  # the caller gets the kernels' buffers; the next call gets new ones
            for v, out in zip(self.graph.outputs, outputs):
                if v in self.buffers and self.buffers[v] is out:
                    self.buffers[v] = memory.empty(v.shape, v.dtype.np)
            return outputs, []
        return [memory.to_host(o) if type(o) is not np.ndarray else o for o in outputs], []

    def _write_updates(self, env):
        new_values = [(var.node.attrs["storage"], env[id(new)]) for var, new in
                      updates_of(self.graph)]
        written = [memory.span(s._data) for s, _ in new_values if type(s._data) is not np.ndarray]
        staged = []
        for storage, value in new_values:
            if type(value) is np.ndarray:
                value = memory.to_device(value)
            elif type(storage._data) is np.ndarray or memory.overlaps(value, written):
                # a copy: read before any storage is written (a swap of two variables), or
                # kept as a host variable's mirror (the plan's buffers are reused next call)
                value = memory.clone(value)
            staged.append((storage, value))
        for storage, value in staged:
            if type(storage._data) is not np.ndarray:
                memory.copy(storage._data, value)
            else:
                np.copyto(storage._data, memory.to_host(value))
                self.mirrors[id(storage)] = (value, storage._vc[0] + 1)
            storage._vc[0] += 1


class _CudaInterpreter(Interpreter):
    """The walk over a plan: a fused group runs as one kernel at its root (reading the
    group's inputs), its other members are computed inside it; other ops run one by one."""

    def __init__(self, plan):
        self.plan = plan
        super().__init__(plan.graph)

    def reads(self, node):
        groups = self.plan.groups
        if node in groups:
            return groups[node].inputs
        return () if node in groups.members else node.inputs

    def run_node(self, node, args):
        plan = self.plan
        if node.op is leaves.constant:
            return [plan.constants[node.outputs[0]]]
        if node.op is leaves.variable:
            return [plan._variable(node.attrs["storage"])]
        if node in plan.groups:
            group, out = plan.groups[node], node.outputs[0]
            return [cuda_ops.run_elementwise(group.kernel(args), group.kernel_args(args),
                                             plan.buffers[out])]
        if node in plan.groups.members:
            return None  # computed inside its group's kernel
        return cuda_ops.run(node.op, args, node.attrs, [v.type for v in node.outputs])


register_target("cuda", CudaRunner)
