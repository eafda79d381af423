"""Target "cpu": the graph compiler's passes, then one Numba program per input signature.

An executable keeps one compiled program per signature (the concrete shapes of the feeds
and of the variables); the first call with a new signature specializes the graph, runs the
passes (graphc.passes), generates source (graphc.lower) and loads it through the on-disk
cache (runtime.cache), so that another process compiling the same graph does not compile.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from runtime import cache, threads

from ..errors import UnsupportedError, op_error
from ..lower import Options, lower_program
from ..passes import run_pipeline
from ..types import TensorType
from . import register_target


def _library_hash():
    """Generated programs call graphc/lower/library.py and runtime kernels: Numba's cache of
    a caller does not notice a callee's change, so their sources are part of the key."""
    import hashlib
    from runtime.kernels import source_hash
    from ..lower import library
    with open(library.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16] + source_hash()[:16]


_LIBRARY_HASH = _library_hash()
threads.configure()


# Elementwise loops of at least this many elements run on all threads: below it, starting
# the threads costs more than a second core saves on a memory-bound loop (NUMBA_NOTES).
PARALLEL_MIN = 1 << 20


def strict_default():
    return os.environ.get("GRAPHC_STRICT", "") not in ("", "0")


class CpuRunner:
    supports_steps = True  # the program loops over steps itself

    def __init__(self, spec, strict=None, fuse=True):
        self.spec = spec
        self.options = Options(strict=strict_default() if strict is None else bool(strict),
                               parallel_min=PARALLEL_MIN if threads.get_num_threads() > 1
                               else None)
        self.skip = () if fuse else ("fuse",)
        self.programs = {}
        self.graph = None  # the graph after the passes, of the latest compiled signature
        self.variables = [v for v in spec.graph.variables]
        self._storages = [v.node.attrs["storage"] for v in self.variables]
        self._lock = threading.Lock()

    def _signature(self, feeds):
        return tuple([a.shape for a in feeds] + [t._data.shape for t in self._storages])

    def program(self, feeds):
        """The compiled program for these feeds' shapes (compiled on first use)."""
        sig = self._signature(feeds)
        prog = self.programs.get(sig)
        if prog is None:
            with self._lock:
                prog = self.programs.get(sig)
                if prog is None:
                    prog = self.programs[sig] = self._compile(feeds)
        return prog

    def _compile(self, feeds):
        spec = self.spec
        types = {x: TensorType(a.shape, x.dtype) for x, a in zip(spec.graph.inputs, feeds)}
        graph = run_pipeline(spec.graph, input_types=types, updates=spec.updates,
                             skip=self.skip)
        for n in graph.nodes:
            for v in n.outputs:
                if v.dtype.name == "float16":
                    raise op_error(UnsupportedError, n.op.name, "float16 is not supported on "
                                   "target 'cpu' (use float32)", n.location)
        generated = lower_program(graph, self.options)
        self.graph = graph
        updated = [var.node.attrs["storage"] for var, _ in spec.updates]
        return CompiledProgram(generated, self.options, updated)

    def __call__(self, feeds, steps=1):
        if steps < 1:
            raise ValueError(f"run_steps: steps must be at least 1, got {steps}")
        return self.program(feeds).run(feeds, steps)

    def memory_report(self):
        """The memory plan of the latest compiled signature (see MemoryPlan.report)."""
        if self.graph is None:
            raise RuntimeError("memory_report: nothing compiled yet (call the executable once)")
        return self.graph.memory.report()

    @property
    def source(self):
        """Generated source of the programs compiled so far (the latest last)."""
        return "\n".join(p.source for p in self.programs.values())


class CompiledProgram:
    def __init__(self, generated, options, updated):
        self._update_storages = updated
        module = cache.load_module(generated.source, options.key() + _LIBRARY_HASH)
        self.fn = module.program
        self.source = generated.annotated
        self.errors = generated.errors
        self.out_shapes = [v.type.shape for v in generated.plan.outputs]
        self.storages = [v.node.attrs["storage"] for v in generated.variables]
        self.arena_args = [np.asarray(data) if kind == "const" else np.zeros(data, dtype)
                           for kind, dtype, data in generated.arenas]
        self._flat = [None] * len(self.storages)
        # the work arenas are shared by calls of this program; threaded code also needs the
        # process-wide lock (runtime/threads.py)
        self.lock = threads.PARALLEL_LOCK if generated.parallel else threading.Lock()
        self.parallel = generated.parallel

    def _variable_args(self):
        out = []
        for i, t in enumerate(self.storages):
            data = t._data
            cached = self._flat[i]
            if cached is None or cached[0] is not data:
                if not data.flags.c_contiguous:
                    t._data = data = np.ascontiguousarray(data)
                cached = self._flat[i] = (data, data.reshape(-1))
            out.append(cached[1])
        return out

    def run(self, feeds, steps=1):
        args = [np.ascontiguousarray(a).reshape(-1) for a in feeds]
        with self.lock:
            if self.parallel:
                threads.apply_num_threads()
            result = self.fn(steps, *args, *self._variable_args(), *self.arena_args)
        code = result[0]
        if code:
            self._raise(code, result[1])
        outputs = [a.reshape(shape) for a, shape in zip(result[2:], self.out_shapes)]
        return outputs, [t._data for t in self._update_storages]

    def _raise(self, code, value):
        node, message = self.errors[code - 1]
        raise op_error(IndexError, node.op.name, f"{message} (got {value})", node.location)


register_target("cpu", CpuRunner)
