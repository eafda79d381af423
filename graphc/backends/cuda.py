"""The "cuda" compile target: a graph run on the GPU as a sequence of cached kernels.

Per shape signature of the feeds, the graph goes through the cpu target's pipeline up to the
kernel schedule (specialize, simplify, cse, dce, fuse, schedule_collectives: passes/) and is
planned once: each fused node becomes its generated kernels (lower/cuda_fused.py), constants
are uploaded, fused kernels' output buffers allocated. The memory plan is the cpu's alone:
here each kernel's output is its own device array, freed after its last reader.
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
from ..lower.cuda_fused import FusedKernel
from ..ops import leaves
from ..passes import FUSED, run_pipeline
from ..passes.graph_edit import updates_of
from ..storage import cuda_ops
from ..types import TensorType
from . import register_target

# the cpu pipeline's one pass that is not shared: its memory plan packs host arenas
CPU_ONLY = ("plan_memory",)


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
            # the cpu target's passes up to the kernel schedule (verified after each when
            # GRAPHC_VERIFY=1)
            graph = run_pipeline(self.spec.graph, input_types=types, updates=self.spec.updates,
                                 skip=CPU_ONLY)
            plan = self._plans[key] = Plan(graph)
        return plan.run(feeds)


class Plan:
    """One specialized graph as a list of steps over device arrays."""

    def __init__(self, graph):
        self.graph = graph
        self.constants = {}
        self.kernels = {}  # fused node -> FusedKernel
        for node in graph.nodes:
            if node.op is leaves.constant:
                value = np.asarray(node.attrs["value"], node.outputs[0].dtype.np)
                self.constants[node.outputs[0]] = value if value.ndim == 0 else \
                    memory.to_device(value)
            elif node.op is FUSED:
                self.kernels[node] = FusedKernel(node)
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
            for kernel in self.kernels.values():
                kernel.give_away(outputs)
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
    """The walk over a plan: a fused node runs its kernels, other ops their CUDA rule."""

    def __init__(self, plan):
        self.plan = plan
        super().__init__(plan.graph)

    def run_node(self, node, args):
        plan = self.plan
        if node.op is leaves.constant:
            return [plan.constants[node.outputs[0]]]
        if node.op is leaves.variable:
            return [plan._variable(node.attrs["storage"])]
        if node.op is FUSED:
            return plan.kernels[node].run(args)
        return cuda_ops.run(node.op, args, node.attrs, [v.type for v in node.outputs])


register_target("cuda", CudaRunner)
