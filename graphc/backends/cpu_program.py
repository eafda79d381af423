"""A compiled cpu program: its kernels loaded or compiled, bound to the arenas, called per step.

`CompiledProgram` is made from a ProgramRecord (backends/program_cache.py), fresh from the
code generator or loaded whole from the cache; backends/cpu.py's runner keeps one per input
signature. Compiling its kernels may share the work with a helper process
(runtime/compile_worker.py), which first warms a cold runtime library by running the first
call with stub kernels.
"""
from __future__ import annotations

import math
import operator
import os
import sys
import threading
import time
import types

import numpy as np

from runtime import cache, compile_worker, pages, threads

from ..eager.tensor import Tensor
from ..errors import op_error
from ..ops import collective
from .compile_report import Progress, numba_timers


def _library_hash():
    """Generated programs call runtime/library.py and runtime kernels: Numba's cache of a
    caller does not notice a callee's change, so their sources are part of the key (read as
    files: importing the kernel library costs ~0.1 s that most programs never need)."""
    import hashlib
    import runtime
    folder = os.path.dirname(os.path.abspath(runtime.__file__))
    kernels = os.path.join(folder, "kernels")
    digest = hashlib.sha256()
    for path in [os.path.join(folder, "library.py")] + sorted(
            os.path.join(kernels, name) for name in os.listdir(kernels) if name.endswith(".py")):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    return digest.hexdigest()[:32]


_LIBRARY_HASH = _library_hash()
threads.configure()

_DATA = operator.attrgetter("_data")


_kernel_signature = compile_worker.kernel_signature


def _library_is_cold(names):
    from runtime.kernels import cold  # (imports the library: only once there is a program)
    try:
        return cold(names)
    except KeyError:  # a name no kernel has (a malformed cache entry): compiled at the call
        return False


def _helper_jobs(todo):
    """(module, file, dtypes) of the kernels a helper process could compile: those with a
    cache file and no Numba index yet (an index means a load is likely, not a compile)."""
    jobs = []
    for kernel, dtypes in todo:
        module = sys.modules.get(kernel.py_func.__module__)
        path = module is not None and cache.cached_file(module)
        index = getattr(getattr(getattr(kernel, "_cache", None), "_cache_file", None),
                        "_index_path", None)
        if path and index and not os.path.exists(index):
            jobs.append((module.__name__, path, list(dtypes)))
    return jobs


def _programs(record):
    """A kernel-layout program and the body programs of its scans, nested ones too."""
    out = [record]
    for sub in record.subprograms:
        out += _programs(sub)
    return out


def _bound_view(arenas, key):
    """A view of an arena for the program (lower/kernel_layout.py `view`): elements
    start:stop, reshaped to a matrix for BLAS and transposed where asked."""
    k, start, stop, shape, transposed = key
    view = arenas[k][start:stop]
    if shape:
        view = view.reshape(shape)
    return view.T if transposed else view


def _arena_arrays(record):
    return [np.asarray(data) if kind == "const" else _work_arena(kind, data, dtype)
            for kind, dtype, data in record.arenas]


def _work_arena(kind, size, dtype):
    if kind == "shared":  # it holds allreduce buckets (lower/program.py)
        arena = collective.shared_arena(size, dtype)
        if arena is not None:
            return arena
    return pages.zeros(size, dtype)  # (without the huge-page hint: runtime/pages.py)


class CompiledProgram:
    """A program ready to run, made from its ProgramRecord (backends/program_cache.py), fresh
    or loaded from the cache. `details()`: its annotated source and errors (with their nodes:
    the user's line of an error) as a GeneratedProgram has them; a loaded program generates
    them again on first use."""

    def __init__(self, record, storages, options, updated, report, details):
        self.report = report
        self.store = None  # saves the record in the whole-program cache (CpuRunner.program)
        self._details = details
        self._update_storages = updated
        self.layout = record.layout
        self.errors = record.errors  # code - 1 -> (op name, message)
        self.out_shapes = [shape for shape, _ in record.outputs]
        self.out_types = [(math.prod(shape), np.dtype(dtype)) for shape, dtype in record.outputs]
        self.storages = storages
        self.arena_args = _arena_arrays(record)
        self._datas = None     # the variables' arrays the argument tail was made from
        self._tail = ()        # flat variables + arenas: the program's trailing arguments
        self._feeds = ((), (), ())  # (arrays, shapes, flat views) of the latest call's feeds
        # the work arenas are shared by calls of this program; threaded code also needs the
        # process-wide lock (runtime/threads.py)
        self.lock = threads.PARALLEL_LOCK if record.parallel else threading.Lock()
        self.parallel = record.parallel
        # library kernels called by the program (or by its scan bodies) that a forked child
        # may compile while this process compiles the kernels (runtime/compile_worker.py)
        # (programs with collectives are never recorded: see program_cache)
        self.library_kernels = sorted({k for p in _programs(record) for k in p.runtime_kernels})
        self.fn = self._load(record, options.key() + _LIBRARY_HASH)

    @property
    def source(self):
        """The generated source, with the user's lines in comments."""
        return self._details().annotated

    def _load(self, record, flags):
        """The callable program; self.dispatchers: the Numba functions it runs;
        self.pending: the kernels still to compile (compile_kernels)."""
        start = time.perf_counter()
        self.pending = []
        try:
            if record.kernels is None:
                program = cache.load_module(record.source, flags).program
                self.dispatchers = [program]  # compiled at its first call
                return program
            return self._load_kernels(record, flags)
        finally:
            self.report.load_s = time.perf_counter() - start

    def _load_kernels(self, record, flags):
        """Import every kernel (of the program and of the body programs of its scans) and
        bind the program; the kernels are compiled by compile_kernels()."""
        report = self.report
        self.dispatchers = []
        programs = _programs(record)  # the step's program first, then scan bodies
        loaded = {id(p): [cache.load_module(text, flags).kernel for text in p.kernels]
                  for p in programs}
        signatures, seen = [], set()  # a kernel shared by two programs is compiled once
        for p in programs:
            for k, dtypes in p.signatures:
                key = (id(loaded[id(p)][k]), dtypes)
                if key not in seen:
                    seen.add(key)
                    signatures.append((p, k, dtypes))
            self.dispatchers.extend(d for d in loaded[id(p)] if d not in self.dispatchers)
        report.functions = len(self.dispatchers)
        report.calls = sum(p.calls for p in programs)
        self.pending = [(loaded[id(p)][k], dtypes) for p, k, dtypes in signatures]
        arenas = {id(p): _arena_arrays(p) for p in programs}
        arenas[id(record)] = self.arena_args

        def bind(convert, program=record, library=None):
            """The program's callable, its kernels passed through `convert` (and the runtime
            library's kernels it calls, `rk_*`, through `library`)."""
            namespace = {}
            exec(compile(program.source, "<graphc program>", "exec"), namespace)
            if library is not None:
                for name in [n for n in namespace if n.startswith("rk_")]:
                    namespace[name] = library(namespace[name])
            own = arenas[id(program)]
            views = tuple(_bound_view(own, key) for key in program.views)
            subs = tuple((bind(convert, sub, library), tuple(arenas[id(sub)]))
                         for sub in program.subprograms)
            kernels = tuple(convert(kernel) for kernel in loaded[id(program)])
            return namespace["bind"](kernels, views, threads.narrow_blas, subs)
        self._bind = bind
        return bind(lambda kernel: kernel)

    def compile_kernels(self, feeds=()):
        """Compile (or load from the cache) every kernel for the argument types the program
        passes, up front, saying so on a terminal when it takes a while (kernel layout).
        A cold compile of many kernels shares the work with a helper process
        (runtime/compile_worker.py) when a core is idle; a forked helper first compiles a
        cold runtime library by running the first call on these feeds with stub kernels."""
        report, pending, self.pending = self.report, self.pending, []
        start = time.perf_counter()
        progress = Progress(len(pending))
        todo = []
        for kernel, dtypes in pending:
            if _kernel_signature(dtypes) in kernel.overloads:  # compiled earlier in this process
                report.reused += 1
            else:
                todo.append((kernel, dtypes))
        warm = feeds and self.library_kernels and not self.parallel and \
            _library_is_cold(self.library_kernels)
        helper = compile_worker.start(_helper_jobs(todo), (
            lambda claim: self._warm_library(feeds, claim)) if warm else None)
        done, deferred = report.reused, []
        if warm and hasattr(helper, "claim_library"):  # the library first, shared with it:
            try:  # its longest compiles are what everything else waits for
                self._warm_library(feeds, helper.claim_library)
            except Exception:
                pass  # (a library call failed on stand-in data: it compiles at its call)
        try:
            for kernel, dtypes in todo:
                if helper is not None and not helper.claim(kernel.py_func.__module__, dtypes):
                    deferred.append((kernel, dtypes))  # the helper compiles it
                    continue
                self._compile_kernel(kernel, dtypes)
                done += 1
                progress.update(done, report.from_cache + report.reused)
        except BaseException:
            if helper is not None:
                helper.finish(kill=True)
            raise
        if helper is not None:
            helper.finish()
            for kernel, dtypes in deferred:
                self._compile_kernel(kernel, dtypes, helped=True)
        progress.close(len(pending), report.from_cache + report.reused)
        report.load_s += time.perf_counter() - start

    def _warm_library(self, feeds, claim):
        """The first call with every generated kernel a stub, so that the runtime library's
        kernels compile for the types of the real call, into Numba's cache. Run by the
        forked helper, then by this process once its own kernels are done: each library kernel
        runs, for each set of argument types, in the process that claims it first (`claim`).
        The parameters are copies (the stubs compute nothing, and this process's must stay as
        they are)."""
        def stub(*args):
            return 0, 0

        def library(kernel):
            def call(*args):  # one claim per kernel and argument types: the rest is loads
                types = "-".join(f"{a.dtype.str}{a.ndim}" if isinstance(a, np.ndarray) else
                                 type(a).__name__ for a in args)
                if claim(f"{getattr(kernel, '__name__', 'kernel')}.{types}"):
                    kernel(*args)
            return call
        fn = self._bind(lambda kernel: stub, library=library)
        tail = self._variable_args()
        variables = [a.copy() for a in tail[:len(self.storages)]]
        outs = [np.empty(n, dtype) for n, dtype in self.out_types]
        with self.lock:
            fn(1, *[np.ascontiguousarray(a).reshape(-1) for a in feeds], *variables,
               *tail[len(self.storages):], *outs)

    def _compile_kernel(self, kernel, dtypes, helped=False):
        """Compile one kernel or load it from the on-disk cache, counting which."""
        report, signature = self.report, _kernel_signature(dtypes)
        hits = sum(kernel.stats.cache_hits.values())
        kernel.compile(signature)
        if sum(kernel.stats.cache_hits.values()) <= hits:
            report.compiled += 1
            typing, llvm = numba_timers(kernel, signature)
            report.typing_s += typing
            report.llvm_s += llvm
        elif helped:
            report.by_helper += 1
        else:
            report.from_cache += 1

    def cache_stats(self):
        """(hits, misses) of Numba's on-disk cache over the functions this program runs."""
        hits = sum(sum(d.stats.cache_hits.values()) for d in self.dispatchers)
        misses = sum(sum(d.stats.cache_misses.values()) for d in self.dispatchers)
        return hits, misses

    def python_twin(self, replacements=()):
        """The program with every generated Numba function run as plain Python (the
        runtime kernel library stays compiled); `replacements` rebinds global names."""
        from numba.core.registry import CPUDispatcher
        replacements = dict(replacements)

        def as_python(dispatcher):
            module = dispatcher.py_func.__module__
            names = dict(dispatcher.py_func.__globals__)
            for name, obj in list(names.items()):
                if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module:
                    names[name] = types.FunctionType(obj.py_func.__code__, names, name)
            names.update(replacements)
            return names[dispatcher.py_func.__name__]
        if self.layout == "whole":
            return as_python(self.dispatchers[0])
        return self._bind(as_python)

    def _variables_unchanged(self):
        datas = self._datas
        return datas is not None and all(map(operator.is_, map(_DATA, self.storages), datas))

    def _variable_args(self, unchanged=False):
        """The arguments after the feeds, rebuilt only when a variable's array was replaced
        (e.g. by load_state_dict): comparing identities is cheaper than flattening.
        unchanged: the caller has just compared them."""
        if not (unchanged or self._variables_unchanged()):
            flat = []
            for t in self.storages:
                if not t._data.flags.c_contiguous:
                    t._data = np.ascontiguousarray(t._data)
                flat.append(t._data.reshape(-1))
            self._tail = tuple(flat + self.arena_args)
            self._datas = [t._data for t in self.storages]
        return self._tail

    def run(self, feeds, steps=1):
        flats = [np.ascontiguousarray(a).reshape(-1) for a in feeds]
        # a contiguous feed's flat array is a view of it: fast_run may reuse it by identity
        self._feeds = (tuple(a if a.flags.c_contiguous else None for a in feeds),
                       tuple(a.shape for a in feeds), tuple(flats))
        return self._call(steps, flats), [t._data for t in self._update_storages]

    def fast_run(self, args):
        """The outputs for positional feeds that are the very arrays (or tensors) of the latest
        call, or None: then the caller checks the feeds and takes run(). Identity is not
        enough: an array's shape and dtype can be reassigned in place, so both are compared."""
        arrays, shapes, flats = self._feeds
        if len(args) != len(arrays):
            return None
        for a, known, shape, flat in zip(args, arrays, shapes, flats):
            if type(a) is Tensor:
                a = a._data
            if a is not known or a.shape != shape or a.dtype is not flat.dtype:
                return None
        if not self._variables_unchanged():  # maybe a new shape: another program's signature
            return None
        return self._call(1, flats, unchanged=True)

    def _call(self, steps, flats, fn=None, unchanged=False):
        """Outputs of the program (or of `fn`, its Python twin) on flat feeds."""
        tail = self._variable_args(unchanged)
        with self.lock:
            if self.parallel:
                threads.apply_num_threads()
            outs = [np.empty(n, dtype) for n, dtype in self.out_types]
            code, value = (fn or self.fn)(steps, *flats, *tail, *outs)
        if code:
            self._raise(code, value)
        return [a.reshape(shape) for a, shape in zip(outs, self.out_shapes)]

    def _raise(self, code, value):
        op, message = self.errors[code - 1]
        location = None
        try:  # the user's line: from the generated program (made again for a loaded one)
            node, again = self._details().errors[code - 1]
            location = node.location if (node.op.name, again) == (op, message) else None
        except Exception:
            pass
        raise op_error(IndexError, op, f"{message} (got {value})", location)

