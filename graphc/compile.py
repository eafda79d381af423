"""graphc.compile: turn symbolic outputs (and variable updates) into a callable executable."""
from __future__ import annotations

import numpy as np

from . import debug as _debug
from .backends import default_target, get_target
from .eager.tensor import Tensor
from .errors import FeedError
from .ir.graph import Graph, Value
from .ops import leaves
from .ops.nn import number_random_sites
from .types import format_shape


class ProgramSpec:
    """What a target compiles: the graph, its ordered inputs, outputs and variable updates."""

    def __init__(self, graph, outputs, updates):
        self.graph = graph
        self.outputs = list(outputs)
        self.updates = list(updates)  # (variable value, new value)

    @property
    def update_values(self):
        return [new for _, new in self.updates]


def _normalize_updates(updates):
    from .dispatch import variable_of
    if updates is None:
        return []
    items = updates.items() if isinstance(updates, dict) else updates
    out = []
    for var, new in items:
        var = variable_of(var) if isinstance(var, Tensor) else var
        if not isinstance(var, Value) or var.node.op is not leaves.variable:
            raise TypeError("updates: each key must be a variable (a parameter or a value made "
                            "by graphc.variable)")
        if not isinstance(new, Value):
            from .dispatch import constant
            new = constant(np.asarray(new, var.dtype.np))
        if new.dtype is not var.dtype:
            raise TypeError(f"updates: variable {var.name!r} is {var.dtype.name}, its new value "
                            f"is {new.dtype.name}")
        if len(new.shape) != len(var.shape) or any(
                isinstance(a, int) and a != b for a, b in zip(new.shape, var.shape)):
            raise ValueError(f"updates: variable {var.name!r} has shape {list(var.shape)}, its "
                             f"new value has shape {list(new.shape)}")
        out.append((var, new))
    return out


class Executable:
    """A compiled graph. Call it with feeds by position or by placeholder name."""

    def __init__(self, outputs, inputs=None, updates=None, target=None, *, _reachable=None,
                 **options):
        if isinstance(outputs, Graph):  # e.g. a training step loaded from JSON
            graph = outputs
            inputs = graph.inputs if inputs is None else inputs
            updates = graph.updates if updates is None else updates
            outputs = graph.outputs
        self._single = isinstance(outputs, Value)
        outputs = [outputs] if self._single else list(outputs)
        for o in outputs:
            if not isinstance(o, Value):
                raise TypeError(f"compile: outputs must be symbolic values, got "
                                f"{type(o).__name__}")
        self.updates = _normalize_updates(updates)
        # (_reachable: the graph of these outputs and updates, when graphc.compile made it)
        graph = _reachable or Graph.from_outputs(outputs + [new for _, new in self.updates])
        # dropout's call sites read graphc's random counter as eager calls do (one stream)
        numbered, self.updates = number_random_sites(graph, outputs, self.updates)
        if numbered is not outputs:
            outputs = numbered
            graph = Graph.from_outputs(outputs + [new for _, new in self.updates])
        if inputs is None:
            inputs = graph.placeholders
        inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
        for x in inputs:
            if not isinstance(x, Value) or x.node.op is not leaves.placeholder:
                raise TypeError(f"compile: inputs must be placeholders, got {x!r}")
        missing = [p for p in graph.placeholders if all(p is not x for x in inputs)]
        if missing:
            raise FeedError("compile: the outputs depend on placeholders that are not inputs: "
                            + ", ".join(repr(p.name or p) for p in missing))
        graph.inputs, graph.outputs, graph.updates = inputs, outputs, list(self.updates)
        self.graph = graph
        self.inputs = inputs
        self.outputs = outputs
        self.target = target = target or default_target()
        self.spec = ProgramSpec(graph, outputs, self.updates)
        self._runner = get_target(target)(self.spec, **options)
        self._names = {x.name: i for i, x in enumerate(inputs) if x.name}
        self._update_storages = [var.node.attrs["storage"] for var, _ in self.updates]
        self._checked_signature = None  # feeds of this (shape, dtype) signature passed _check

    # ---- feeds -------------------------------------------------------------------------------
    def _bind(self, args, kwargs):
        if len(args) > len(self.inputs):
            raise FeedError(f"expected at most {len(self.inputs)} positional inputs, got "
                            f"{len(args)}")
        feeds = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        for name, value in kwargs.items():
            if name not in self._names:
                raise FeedError(f"unknown input {name!r}; inputs are: "
                                + ", ".join(repr(x.name) for x in self.inputs))
            i = self._names[name]
            if feeds[i] is not _MISSING:
                raise FeedError(f"input {name!r} given twice (by position and by name)")
            feeds[i] = value
        missing = [self._label(i) for i, f in enumerate(feeds) if f is _MISSING]
        if missing:
            raise FeedError("missing inputs: " + ", ".join(missing))
        return [self._check(i, f) for i, f in enumerate(feeds)]

    def _label(self, i):
        x = self.inputs[i]
        return repr(x.name) if x.name else f"#{i} ({x.type})"

    def _check(self, i, value):
        x = self.inputs[i]
        want = x.type
        if isinstance(value, Tensor):
            arr = value._data
        elif isinstance(value, np.ndarray):
            arr = value
        else:
            arr = np.asarray(value, want.dtype.np)
        if arr.dtype != want.dtype.np:
            raise FeedError(f"input {self._label(i)} expects dtype {want.dtype.name}, got "
                            f"{arr.dtype.name} (convert it with .astype / .to)")
        if arr.ndim != want.ndim or any(isinstance(d, int) and d != s
                                        for d, s in zip(want.shape, arr.shape)):
            raise FeedError(f"input {self._label(i)} expects shape {format_shape(want.shape)}, "
                            f"got {list(arr.shape)}")
        return arr

    def _check_symbolic_dims(self, feeds):
        seen = {}
        for x, arr in zip(self.inputs, feeds):
            for d, s in zip(x.shape, arr.shape):
                if isinstance(d, str):
                    if seen.setdefault(d, s) != s:
                        raise FeedError(f"dim {d!r} is {seen[d]} in one input and {s} in "
                                        f"another")

    def __call__(self, *args, **kwargs):
        # fastest path: the very feeds of the latest call (a training loop over fixed data)
        fast_call = getattr(self._runner, "fast_call", None)
        if fast_call is not None and not kwargs and not _debug._state["numerics"]:
            outputs = fast_call(args)
            if outputs is not None:
                for storage in self._update_storages:  # updated in place by the target
                    storage._vc[0] += 1
                return self._results(outputs)
        # fast path: all feeds positional arrays of the signature that was checked last time
        if not kwargs and len(args) == len(self.inputs):
            feeds = [a._data if type(a) is Tensor else a for a in args]
            try:
                signature = tuple([(f.shape, f.dtype) for f in feeds if type(f) is np.ndarray])
            except AttributeError:
                signature = None
            if signature == self._checked_signature and len(signature) == len(feeds) \
                    and not _debug._state["numerics"]:
                return self._run(feeds)
        feeds = self._bind(args, kwargs)
        self._check_symbolic_dims(feeds)
        self._checked_signature = tuple((f.shape, f.dtype) for f in feeds)
        if _debug.numerics_enabled():
            return self._call_checking_numerics(feeds)
        return self._run(feeds)

    def _call_checking_numerics(self, feeds):
        """Run; if any result is NaN/Inf, undo the step and name the op that caused it."""
        storages = [v.node.attrs["storage"] for v in self.graph.variables]
        before = [s._data.copy() for s in storages]
        results = self._run(feeds)
        results_list = [results] if self._single else results
        if any(_debug._nonfinite(r._data) for r in results_list) or \
                any(_debug._nonfinite(s._data) for s in storages):
            for s, old in zip(storages, before):
                np.copyto(s._data, old)
            _debug.locate_nonfinite(self.graph, feeds, self.target)
        return results

    def run_steps(self, steps, *args, **kwargs):
        """Run the step `steps` times with the same feeds (one compiled call on "cpu")."""
        feeds = self._bind(args, kwargs)
        self._check_symbolic_dims(feeds)
        if getattr(self._runner, "supports_steps", False):
            return self._run(feeds, steps)
        result = None
        for _ in range(steps):
            result = self._run(feeds)
        return result

    @property
    def source(self):
        """Generated source of the programs compiled so far (None for targets without)."""
        return getattr(self._runner, "source", None)

    def memory_report(self):
        """{planned_bytes, unplanned_bytes, peak_live_bytes, ...} of the latest compiled
        program (targets that plan memory, e.g. "cpu")."""
        report = getattr(self._runner, "memory_report", None)
        if report is None:
            raise NotImplementedError(f"target {self.target!r} does not plan memory")
        return report()

    def compile_report(self):
        """Per-phase times of the latest compile: graphc's passes, code generation, Numba
        (typing, LLVM) and how many kernels came from the on-disk cache (target "cpu")."""
        report = getattr(self._runner, "compile_report", None)
        if report is None:
            raise NotImplementedError(f"target {self.target!r} has no compile report")
        return report()

    def _run(self, feeds, steps=1):
        outputs, new_values = self._runner(feeds, steps) if steps != 1 else self._runner(feeds)
        for storage, value in zip(self._update_storages, new_values):
            if value is not storage._data:  # targets may update the storage in place
                np.copyto(storage._data, value)
            storage._vc[0] += 1
        return self._results(outputs)

    def _results(self, outputs):
        """Output arrays as tensors, in the structure the outputs were given in."""
        if self._single:
            return Tensor._wrap(outputs[0])
        return [Tensor._wrap(o) for o in outputs]

    def __repr__(self):
        return (f"<graphc.Executable target={self.target!r} {len(self.graph.nodes)} nodes, "
                f"inputs=[{', '.join(self._label(i) for i in range(len(self.inputs)))}]>")


_MISSING = object()


def _has_collectives(graph):
    """(graphc/distributed/compiled.py has_collectives, without importing it and the passes
    it needs: a step without collectives, loaded whole from the cache, runs no pass)"""
    return any(n.op.effects.collective for n in graph.nodes)


def compile(outputs, inputs=None, updates=None, target=None, distributed=False,
            bucket_cap_mb=None, **options):
    """Compile symbolic `outputs` (or a Graph: its outputs, inputs and updates) into a callable.

    inputs: the placeholders, in call order (default: all, in creation order).
    updates: {variable or parameter: new value}; written after each call (a training step).
    target: "cpu" (Numba, the default when it loads, as for graphc.jit), "cuda" (Numba CUDA)
    or "reference" (NumPy, node by node: the oracle; the default when Numba is missing). The
    executable's repr names the target it got.
    distributed=True (data-parallel training on graphc.distributed): every parameter gradient
    made by graphc.grad or an optimizer's updates(loss) is averaged over the ranks before
    anything after backward reads it (the update), as graphc.jit(distributed=True) does;
    bucket_cap_mb: the most MiB per allreduce bucket (PyTorch's DDP argument; None: a 1 MiB
    first bucket, then 25 MiB). A DistributedDataParallel model in the graph averages its
    parameters' gradients without it.
    options: passed to the target (for "cpu": strict=True for libm math, fuse=False).
    A graph with collectives (graphc.distributed) is compiled in two parts split where they
    communicate (graphc/distributed/compiled.py).
    """
    if isinstance(outputs, Graph) and (distributed or _has_collectives(outputs)):
        graph = outputs  # a loaded graph: its own outputs, inputs and updates
        outputs = list(graph.outputs)
        inputs = graph.inputs if inputs is None else inputs
        updates = graph.updates if updates is None else updates
    if isinstance(outputs, Graph):
        return Executable(outputs, inputs, updates, target, **options)
    if distributed:
        from .distributed import DistributedError, is_initialized
        from .distributed.averaging import average_gradients
        if not is_initialized():
            raise DistributedError("graphc.compile(distributed=True): call "
                                   "graphc.distributed.init_process_group() first")
        single = isinstance(outputs, Value)
        averaged, updates = average_gradients([outputs] if single else list(outputs),
                                              _normalize_updates(updates), bucket_cap_mb)
        outputs = averaged[0] if single else averaged
    elif bucket_cap_mb is not None:
        raise ValueError("graphc.compile: bucket_cap_mb applies to distributed=True steps "
                         "(or set it on DistributedDataParallel)")
    roots = [outputs] if isinstance(outputs, Value) else list(outputs)
    updates = _normalize_updates(updates)
    roots += [new for _, new in updates]
    if not all(isinstance(v, Value) for v in roots):
        return Executable(outputs, inputs, updates, target, **options)  # (it raises)
    graph = Graph.from_outputs(roots)
    if _has_collectives(graph):
        from .distributed.compiled import DistributedExecutable
        return DistributedExecutable(outputs, inputs, updates, target, **options)
    return Executable(outputs, inputs, updates, target, _reachable=graph, **options)
