"""Compiled steps that communicate.

A data-parallel training step is forward + backward, then an allreduce of the gradients,
then the optimizer update. `graphc.compile` hands a graph holding collectives to
`DistributedExecutable`. On the `cpu` target the step is **one program** whose allreduces
overlap backward: the memory plan places the gradients of a bucket side by side in the
arena (passes/memory.py), the kernels write them there, and the program (plain Python
calling kernels) starts a non-blocking allreduce of the bucket as soon as its last gradient
is written and waits for it just before the first kernel that reads the averaged values
(graphc/lower/collective.py; passes/schedule.py moves the collectives early and the updates
late); with every rank on one machine the bucket is summed through shared memory instead
(shared_memory.py). GRAPHC_DDP_OVERLAP=0 selects the split below instead (for comparisons).

On the other targets no code generator lowers `all_reduce`; the graph is split and compiled
as two programs with the ordinary target:

- the *gradient part*: every node that does not depend on a collective's result; its
  outputs are the collectives' inputs (for DistributedDataParallel: each parameter's
  gradient) and the values the second part reads;
- the *update part*: every node after the collectives, fed with the reduced buffers.

Between them each collective runs once, in place, on the gradient part's output buffer (one
MPI_Allreduce per buffer). Broadcasts of variables (DistributedDataParallel's buffers from
rank 0) run before the gradient part, in place on the variables' storage. Variable updates
whose new value is known before the collectives (BatchNorm statistics) are written after the
update part, so that every read in the step still sees the values from before the step, as
in one program. Broadcasts and the check that every rank communicates alike (once per new
pattern, before the first call with new feed shapes: see _agree) apply to both shapes.
`.graph` is the whole step, so dumps and pictures show the `all_reduce` nodes.
"""
from __future__ import annotations

import os

import numpy as np

from ..compile import Executable, _normalize_updates
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.build import placeholder
from ..ir.graph import Graph, Value
from ..ops import leaves
from ..ops.collective import all_reduce, broadcast
from ..passes.graph_edit import clone_node
from .collectives import all_ranks_agree, allreduce_array, broadcast_array
from .process_group import DistributedError, _state

def has_collectives(graph) -> bool:
    return any(n.op.effects.collective for n in graph.nodes)


def _hoist_broadcasts(nodes, outputs, updates):
    """Broadcasts of variables run before the step, in place on their storage, so that the
    step's nodes read the variable itself. Returns (outputs, updates, [(storage, src)])."""
    mapping, prologue, seen = {}, [], set()
    for node in nodes:
        if node.op is not broadcast:
            continue
        source = node.inputs[0]
        if source.node.op is not leaves.variable:
            raise UnsupportedError(f"compile: broadcast of a computed value; compiled steps "
                                   f"broadcast only variables (before the step){_where(node)}")
        storage = source.node.attrs["storage"]
        if id(storage) not in seen:
            seen.add(id(storage))
            prologue.append((storage, node.attrs["src"]))
        mapping[node.outputs[0]] = source
    if not mapping:
        return outputs, updates, prologue
    for node in nodes:
        if node.op is not broadcast and any(v in mapping for v in node.inputs):
            copy = clone_node(node, tuple(mapping.get(v, v) for v in node.inputs), node.attrs,
                              [o.type for o in node.outputs])
            mapping.update(zip(node.outputs, copy.outputs))
    outputs = [mapping.get(v, v) for v in outputs]
    updates = [(var, mapping.get(new, new)) for var, new in updates
               if mapping.get(new, new) is not var]  # written back unchanged: nothing to do
    return outputs, updates, prologue


class _Split:
    """Which nodes each part computes, and how the update part is fed."""

    def __init__(self, graph, outputs, updates, inputs):
        after, fed, self.collectives = set(), set(), []
        for node in graph.nodes:
            reads_after = any(v in after for v in node.inputs)
            if node.op is all_reduce:
                if reads_after:
                    raise UnsupportedError(
                        f"compile: {node.op.name} reads the result of another collective; a "
                        f"compiled step communicates at one point (gradients complete), so "
                        f"chained collectives are not supported{_where(node)}")
                self.collectives.append(node)
                after.update(node.outputs)
            elif reads_after:
                after.update(node.outputs)
            elif node.op is leaves.placeholder or any(v in fed for v in node.inputs):
                fed.update(node.outputs)
        roots = list(outputs) + [new for _, new in updates]
        # Values of the gradient part that the update part reads are sent to it, except those
        # computed from variables and constants alone (momentum * buffer, weight.t()): the
        # update part recomputes them, so that it reads the variables it updates in place.
        # New values of variables computed from variables alone (step counters, the dropout
        # seed) are recomputed too, so the update part writes them in place.
        recompute, stack = set(), [v for n in graph.nodes if n.outputs[0] in after
                                   for v in n.inputs] + [new for _, new in updates]
        while stack:
            v = stack.pop()
            if v not in after and v not in fed and v not in recompute and \
                    not v.node.op.is_leaf:
                recompute.update(v.node.outputs)
                stack.extend(v.node.inputs)
        second_nodes = [n for n in graph.nodes if not n.op.effects.collective
                        and (n.outputs[0] in after or n.outputs[0] in recompute)]
        crossing, seen = [], set()  # (Values compare elementwise: membership by set only)
        for v in [x for n in second_nodes for x in n.inputs] + roots:
            if v not in after and v not in seen and v not in recompute \
                    and not v.node.op.is_leaf:
                crossing.append(v)
                seen.add(v)
        self.first_outputs = [c.inputs[0] for c in self.collectives] + crossing
        # a leaf's array is the caller's feed or a variable's storage: reduce a copy of it
        self.reduces_leaf = [c.inputs[0].node.op.is_leaf for c in self.collectives]
        self.crossing_index = {v: len(self.collectives) + i for i, v in enumerate(crossing)}
        # the update part: its nodes cloned onto placeholders for what it receives
        mapping = {}
        for i, c in enumerate(self.collectives):
            out = c.outputs[0]
            mapping[out] = placeholder(out.shape, out.dtype, name=f"{out.name or 'reduced'}_{i}")
        for i, v in enumerate(crossing):
            mapping[v] = placeholder(v.shape, v.dtype, name=v.name or f"from_gradient_part_{i}")
        for node in second_nodes:
            copy = clone_node(node, tuple(mapping.get(v, v) for v in node.inputs), node.attrs,
                              [o.type for o in node.outputs])
            mapping.update(zip(node.outputs, copy.outputs))
        # the update part's inputs: fed placeholders it reads, then buffers of the first part
        used = {v for n in second_nodes for v in n.inputs}
        self.fed_inputs = [i for i, x in enumerate(inputs) if x in used]
        received = [c.outputs[0] for c in self.collectives] + crossing
        self.received = [k for k, v in enumerate(received) if v in used]
        self.second_inputs = ([inputs[i] for i in self.fed_inputs]
                              + [mapping[received[k]] for k in self.received])
        reduced = {c.outputs[0]: i for i, c in enumerate(self.collectives)}
        self.second_outputs, self.output_from = [], []
        for v in outputs:  # ("second", k): of the update part; ("first", k): a buffer
            if v in reduced:
                self.output_from.append(("first", reduced[v]))
            elif v in after or v in recompute:
                self.output_from.append(("second", len(self.second_outputs)))
                self.second_outputs.append(mapping[v])
            elif v in self.crossing_index:
                self.output_from.append(("first", self.crossing_index[v]))
            else:
                raise UnsupportedError(f"compile: output {v!r} of a step with collectives is "
                                       f"a leaf; return a computed value")
        # Variable updates: in the update part when it reads the variable (in place); else
        # written after it from a buffer (late), so every read in the step sees old values.
        self.second_updates, self.late_updates = [], []
        for var, new in updates:
            storage = var.node.attrs["storage"]
            if (new in after or new in recompute) and var in used:
                self.second_updates.append((var, mapping[new]))
            elif new in after or new in recompute:
                self.late_updates.append((storage, "second", len(self.second_outputs)))
                self.second_outputs.append(mapping[new])
            elif new in self.crossing_index:
                self.late_updates.append((storage, "first", self.crossing_index[new]))
            elif new is not var:
                raise UnsupportedError(f"compile: variable {var.name!r} is updated with a leaf "
                                       f"in a step with collectives")


def _overlaps(target):
    """Whether the target runs collectives inside one program (cpu: its kernel layout)."""
    from ..backends import default_target
    return (target or default_target()) == "cpu" and \
        os.environ.get("GRAPHC_DDP_OVERLAP", "1") != "0"


def _where(node):
    return f"\n  at {node.location}" if node.location is not None else ""


def _read_elsewhere(arrays, i):
    """Whether reducing arrays[i] in place could change another result (or it cannot be
    written in place at all)."""
    buf = arrays[i]
    return not (buf.flags.c_contiguous and buf.flags.writeable) or any(
        np.may_share_memory(buf, other) for k, other in enumerate(arrays) if k != i)


class DistributedExecutable:
    """A compiled step with collectives: gradient part, allreduce, update part.

    Called like an Executable (feeds by position or name); `.graph` is the whole step,
    `.gradient_part` and `.update_part` the two compiled programs.
    """

    def __init__(self, outputs, inputs=None, updates=None, target="reference", **options):
        self._single = isinstance(outputs, Value)
        outputs = [outputs] if self._single else list(outputs)
        self.updates = _normalize_updates(updates)
        # the variables too: one written but never read still shows in dumps of the step
        graph = Graph.from_outputs(outputs + [new for _, new in self.updates]
                                   + [var for var, _ in self.updates])
        inputs = graph.placeholders if inputs is None else (
            [inputs] if isinstance(inputs, Value) else list(inputs))
        hoisted_outputs, updates, self._prologue = _hoist_broadcasts(graph.nodes, outputs,
                                                                     self.updates)
        graph.inputs, graph.outputs, graph.updates = inputs, outputs, self.updates
        self.graph, self.inputs, self.outputs, self.target = graph, inputs, outputs, target
        self.gradient_part = self.update_part = self.program = None
        self._agreed = set()  # feed signatures whose communication every rank agreed on
        self._collectives = [n for n in Graph.from_outputs(
            hoisted_outputs + [new for _, new in updates]).nodes if n.op is all_reduce]
        if _overlaps(target):
            self.program = Executable(hoisted_outputs[0] if self._single else hoisted_outputs,
                                      inputs, updates, target, **options)
            return
        split = _Split(Graph.from_outputs(hoisted_outputs + [new for _, new in updates]),
                       hoisted_outputs, updates, inputs)
        self.gradient_part = Executable(split.first_outputs, inputs, None, target, **options)
        if split.second_outputs or split.second_updates:
            self.update_part = Executable(split.second_outputs, split.second_inputs,
                                          split.second_updates, target, **options)
        self._split = split
        self._reductions = [c.attrs["reduce"] for c in split.collectives]

    def _communication(self, feeds):
        """What a call with these feeds communicates, in order: the broadcasts, the
        collectives of the graph, and (cpu) the allreduce buckets of the program compiled
        for their shapes. Ranks whose patterns are equal pair their buffers correctly."""
        parts = [("broadcast", s.shape, s.dtype.name, src) for s, src in self._prologue]
        concrete = True
        for c in self._collectives:
            t = c.inputs[0].type
            concrete = concrete and t.is_concrete
            parts.append((c.op.name, repr(t), sorted(c.attrs.items())))
        if not concrete:  # a reduced value's size follows the feeds
            parts.append(("feeds", [f.shape for f in feeds]))
        if self.program is not None:
            runner = self.program._runner
            known = len(runner.programs)
            runner.program(feeds)  # compiled for these shapes now, as the call would
            if len(runner.programs) > known:  # its plan is the latest one
                parts += [("bucket", c.size, c.dtype.name, c.reduce)
                          for c in runner.graph.memory.collectives]
            else:
                parts.append(("feeds", [f.shape for f in feeds]))
        return repr(parts)

    def _agree(self, feeds, signature):
        """Before the first call with new feed shapes: every rank must communicate alike
        (count, sizes, dtypes, order of the buffers). A pattern this process has already
        agreed on with the others needs no new check, so a rank may get a batch of another
        size (an uneven last batch) without a collective the other ranks would not make.
        A new pattern is checked with one small allreduce on a communicator of its own: if
        the other ranks are meanwhile running a step compiled before, the check times out
        (never paired with their gradients), and both sides raise."""
        from .process_group import (DistributedTimeoutError, get_rank, get_timeout,
                                    is_initialized)
        if not is_initialized():
            return  # the call raises: no process group
        key = self._communication(feeds)
        if key not in _state.agreed:
            what = "compile (checking that every rank compiled the same collectives)"
            try:
                same = all_ranks_agree(key, what)
            except DistributedTimeoutError:
                raise DistributedError(
                    f"compile: rank {get_rank()} compiled a step for new input shapes "
                    f"{[list(f.shape) for f in feeds]} whose communication was never agreed "
                    f"with the other ranks, and they did not join the check within "
                    f"{get_timeout():g} s: they run a step that communicates differently "
                    f"(another trace, or reduced values whose sizes follow the batch). Feed "
                    f"every rank inputs that give the same collectives (DistributedSampler "
                    f"gives every rank as many samples)") from None
            if not same:
                raise DistributedError(
                    "compile: the ranks compiled steps with different collectives (number, "
                    "sizes or dtypes of the allreduce buffers); every rank must trace the "
                    "same step. This rank's: " + key)
            _state.agreed.add(key)
        self._agreed.add(signature)

    def __call__(self, *args, **kwargs):
        if not kwargs and len(args) == len(self.inputs) and all(
                type(a) is np.ndarray or isinstance(a, Tensor) for a in args):
            feeds = [a if type(a) is np.ndarray else a._data for a in args]
        else:
            feeds = (self.program or self.gradient_part)._bind(args, kwargs)
        signature = tuple([(f.shape, f.dtype) for f in feeds])
        if signature not in self._agreed:
            feeds = (self.program or self.gradient_part)._bind(feeds, {})  # FeedErrors first
            (self.program or self.gradient_part)._check_symbolic_dims(feeds)
            self._agree(feeds, signature)
        for storage, src in self._prologue:  # e.g. BatchNorm statistics from rank 0
            broadcast_array(storage._data, src)
            storage._vc[0] += 1
        if self.program is not None:
            return self.program(*feeds)
        first = self.gradient_part(*feeds)
        first = [first] if not isinstance(first, list) else first
        arrays = [t._data for t in first]
        split = self._split
        for i, reduce in enumerate(self._reductions):
            if _read_elsewhere(arrays, i) or split.reduces_leaf[i]:
                arrays[i] = np.array(arrays[i], order="C")
            allreduce_array(arrays[i], reduce)  # in place
        second = []
        if self.update_part is not None:
            second = self.update_part(*([feeds[i] for i in split.fed_inputs]
                                        + [arrays[k] for k in split.received]))
            second = [second] if not isinstance(second, list) else second
        for storage, part, k in split.late_updates:
            np.copyto(storage._data, second[k]._data if part == "second" else arrays[k])
            storage._vc[0] += 1
        results = []
        for part, k in split.output_from:
            results.append(second[k] if part == "second" else Tensor._wrap(arrays[k]))
        return results[0] if self._single else results

    def run_steps(self, steps, *args, **kwargs):
        result = None
        for _ in range(steps):
            result = self(*args, **kwargs)
        return result

    @property
    def source(self):
        if self.program is not None:
            return self.program.source
        parts = [("gradient part", self.gradient_part), ("update part", self.update_part)]
        texts = [f"# ---- {name} ----\n{exe.source}" for name, exe in parts
                 if exe is not None and exe.source]
        return "\n".join(texts) or None

    def memory_report(self):
        if self.program is not None:
            return self.program.memory_report()
        return {"gradient_part": self.gradient_part.memory_report(),
                "update_part": (self.update_part.memory_report()
                                if self.update_part is not None else None)}

    def __repr__(self):
        return (f"<graphc.DistributedExecutable target={self.target!r} "
                f"{len(self.graph.nodes)} nodes, {len(self._collectives)} all_reduce"
                f"{', one program' if self.program is not None else ', split'}>")
