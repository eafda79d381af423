"""Target "cpu": the graph compiler's passes, then one Numba program per input signature.

An executable keeps one compiled program per signature (the concrete shapes of the feeds
and of the variables); the first call with a new signature specializes the graph, runs the
passes (graphc.passes), generates source (graphc.lower) and loads it through the on-disk
cache (runtime.cache), so that another process compiling the same graph does not compile.
A process that meets a program compiled before (same graph, feed shapes, options, versions)
skips the passes and code generation too: the program is loaded whole from its entry in
the same cache (backends/program_cache.py), and only its kernels' machine code is loaded.
The program itself, its kernels and its calls are backends/cpu_program.py's.
"""
from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import types

from runtime import threads

from ..errors import UnsupportedError, op_error
from ..lower.options import Options
from .compile_report import CompileReport
from ..types import TensorType
from . import program_cache, register_target
from .cpu_program import _LIBRARY_HASH, _library_hash, CompiledProgram  # noqa: F401 (a test
# reads _library_hash here)


# Elementwise loops of at least this many elements run on all threads: below it, starting
# the threads costs more than a second core saves on a memory-bound loop (NUMBA_NOTES).
PARALLEL_MIN = 1 << 20


def strict_default():
    return os.environ.get("GRAPHC_STRICT", "") not in ("", "0")


def program_cache_enabled():
    """GRAPHC_PROGRAM_CACHE=0 compiles every program from its graph (the kernels' machine
    code is still cached)."""
    return os.environ.get("GRAPHC_PROGRAM_CACHE", "") != "0"


# gc's third threshold while a program compiles: never reached, so no full collection
_NO_FULL_COLLECTION = 1 << 30


@contextlib.contextmanager
def full_collections_paused():
    """No full collection of Python's garbage collector while a program compiles. Numba's
    typing and lowering allocate objects by the million, and each full collection they
    trigger scans every object alive (NumPy's, SciPy's, Numba's: ~75 ms a time): 0.07-0.25 s
    of a cold compile. Young collections still run and free the compile's garbage."""
    young, middle, full = gc.get_threshold()
    if full == _NO_FULL_COLLECTION:  # (another thread is compiling: it restores)
        yield
        return
    gc.set_threshold(young, middle, _NO_FULL_COLLECTION)
    try:
        yield
    finally:
        if gc.get_threshold()[2] == _NO_FULL_COLLECTION:
            gc.set_threshold(*gc.get_threshold()[:2], full)


class CpuRunner:
    supports_steps = True  # the program loops over steps itself
    # outputs for the same feeds as the latest call, or None (see CompiledProgram.fast_run)
    fast_call = staticmethod(lambda args: None)

    def __init__(self, spec, strict=None, fuse=True, layout=None):
        if layout not in (None, "kernels", "whole"):
            raise ValueError(f"layout must be 'kernels', 'whole' or None (chosen by size), "
                             f"got {layout!r}")
        self.spec = spec
        self.layout = layout
        self.options = Options(strict=strict_default() if strict is None else bool(strict),
                               parallel_min=PARALLEL_MIN if threads.get_num_threads() > 1
                               else None)
        self.skip = () if fuse else ("fuse",)
        self.programs = {}
        self.report = None  # the CompileReport of the latest compiled signature
        self._graph = None  # the graph after the passes, of the latest compiled signature...
        self._rebuild = None  # ... or how to make it again (a program loaded whole)
        self.variables = [v for v in spec.graph.variables]
        self._storages = [v.node.attrs["storage"] for v in self.variables]
        self._lock = threading.Lock()

    @property
    def graph(self):
        """The graph after the passes, of the latest compiled signature (for a program loaded
        whole from the cache: the passes run again now)."""
        if self._graph is None and self._rebuild is not None:
            self._graph = self._rebuild()[0]
        return self._graph

    def _signature(self, feeds):
        return tuple([a.shape for a in feeds] + [t._data.shape for t in self._storages])

    def program(self, feeds, compile_kernels=True):
        """The compiled program for these feeds' shapes (compiled on first use).
        compile_kernels=False: generated and loaded only (for its Python twin: the fuzzer)."""
        sig = self._signature(feeds)
        prog = self.programs.get(sig)
        if prog is None:
            with self._lock, full_collections_paused():
                prog = self.programs.get(sig)
                if prog is None:
                    prog = self.programs[sig] = self._compile(feeds)
        if compile_kernels and (prog.pending or prog.store):
            with self._lock, full_collections_paused():
                prog.compile_kernels(feeds)
                if prog.store:  # a program whose kernels compiled: worth loading whole later
                    prog.store, store = None, prog.store
                    store()
        return prog

    def _flags(self):
        """What the generated code depends on besides the graph and the feeds' shapes."""
        return (f"{self.options.key()}|layout={self.layout}|"
                f"env={os.environ.get('GRAPHC_LAYOUT', '')}|skip={self.skip}|{_LIBRARY_HASH}")

    def _compile(self, feeds):
        spec, start = self.spec, time.perf_counter()
        shapes = [a.shape for a in feeds]
        key = program_cache.program_key(spec, shapes, self._flags()) \
            if program_cache_enabled() else None
        record = key and program_cache.load(key, spec, shapes)
        if record:
            report = CompileReport(record.layout)
            report.program_cached = True
            report.codegen_s = time.perf_counter() - start
            rebuild = _once(lambda: self._generate(shapes))
            try:
                program = self._program(record, report, lambda: rebuild()[1])
            except Exception:  # (a sound entry loads: this one is rebuilt and overwritten)
                program = None
            if program is not None:
                self._graph, self._rebuild = None, rebuild
                self.report = report
                return program
        graph, generated, passes_s, codegen_s = self._generate(shapes, timed=True)
        record = program_cache.ProgramRecord.of(generated, program_cache.spec_variables(spec))
        report = CompileReport(generated.layout)
        report.passes_s, report.codegen_s = passes_s, codegen_s
        # (what people read: kept, not the whole GeneratedProgram with its graph)
        details = types.SimpleNamespace(annotated=generated.annotated, errors=generated.errors)
        program = self._program(record, report, lambda: details)
        if key:
            program.store = lambda: program_cache.store(key, record, shapes)
        self._graph, self._rebuild = graph, None
        self.report = report
        return program

    def _generate(self, shapes, timed=False):
        """(graph after the passes, GeneratedProgram) for feeds of these shapes."""
        from ..lower import lower_program
        from ..passes import run_pipeline
        spec = self.spec
        start = time.perf_counter()
        types = {x: TensorType(shape, x.dtype) for x, shape in zip(spec.graph.inputs, shapes)}
        graph = run_pipeline(spec.graph, input_types=types, updates=spec.updates,
                             skip=self.skip)
        passed = time.perf_counter()
        for n in graph.nodes:
            for v in n.outputs:
                if v.dtype.name == "float16":
                    raise op_error(UnsupportedError, n.op.name, "float16 is not supported on "
                                   "target 'cpu' (use float32)", n.location)
        generated = lower_program(graph, self.options, self.layout)
        if timed:
            return graph, generated, passed - start, time.perf_counter() - passed
        return graph, generated

    def _program(self, record, report, details):
        variables = program_cache.spec_variables(self.spec)
        storages = [variables[i].node.attrs["storage"] for i in record.variables]
        updated = [var.node.attrs["storage"] for var, _ in self.spec.updates]
        return CompiledProgram(record, storages, self.options, updated, report, details)

    def compile_report(self):
        """Per-phase times of the latest compiled signature (see CompileReport)."""
        if self.report is None:
            raise RuntimeError("compile_report: nothing compiled yet (call the executable once)")
        return self.report

    def __call__(self, feeds, steps=1):
        if steps < 1:
            raise ValueError(f"run_steps: steps must be at least 1, got {steps}")
        program = self.program(feeds)
        result = program.run(feeds, steps)
        self.fast_call = program.fast_run
        return result

    def memory_report(self):
        """The memory plan of the latest compiled signature (see MemoryPlan.report)."""
        if self.graph is None:
            raise RuntimeError("memory_report: nothing compiled yet (call the executable once)")
        return self.graph.memory.report()

    @property
    def source(self):
        """Generated source of the programs compiled so far (the latest last)."""
        return "\n".join(p.source for p in self.programs.values())


def _once(fn):
    """fn, called at most once (its result kept)."""
    result = []

    def call():
        if not result:
            result.append(fn())
        return result[0]
    return call


register_target("cpu", CpuRunner)
