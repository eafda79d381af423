"""graphc.jit: compile eager-style code by tracing it once per input signature.

Calling a jitted function runs it on symbolic placeholders shaped like the call's arrays, so
that every graphc op builds a graph node instead of computing. What the function reaches is
taken along:

- tensors it reads (parameters, optimizer state, captured arrays) become `variable` nodes
  bound to their storage, so the compiled step always sees their current values;
- `loss.backward()` computes symbolic gradients (graphc.grad) and sets them as `.grad` of
  the parameters it reaches, so an optimizer's `step()` can read them;
- in-place writes (`p.add_(...)`, `m.mul_(b)`, `p.copy_(...)`, `buf[k] = v`) to tensors it
  reads become the compiled step's updates: they are applied after each call, as the eager
  code would have done; in-place writes to symbolic values (and through their views) trace
  to their functional form; tensors the function creates are fresh each call;
- a trace holds while the `.training` mode of every module it called and the presence of the
  `.grad` that backward adds to are as they were: otherwise the function is traced again
  (graphc/tracing.py has the trace and its guard).

The graph is compiled (target "cpu" when available) and cached per signature: the shapes and
dtypes of array arguments and the values of every other argument (Python numbers, strings,
None, ...), which are static: each new value traces again.

With `distributed=True` (data-parallel training on graphc.distributed), every traced
`backward()` is followed by the mean over the ranks of each parameter's gradient, exactly as
a step on a DistributedDataParallel model: the compiled step reduces gradient buckets while
backward runs (graphc/distributed/compiled.py).
"""
from __future__ import annotations

import functools
import inspect
import time
import traceback

import numpy as np

from .compile import compile as compile_graph
from .eager.tensor import Tensor
from .errors import _INTERNAL, GraphcError, SourceLocation
from .ir.build import placeholder
from .ir.graph import Graph, Value
from .tracing import TracingError, Guard, trace_call
from .types import as_dtype
from .backends import default_target

__all__ = ["jit", "Jitted", "Specialization", "TracingError"]


# ---- pytrees: nested tuples / lists / dicts of leaves -------------------------------------------
def _flatten(tree, leaves):
    """Append tree's leaves to `leaves`; return a hashable description of its structure."""
    if isinstance(tree, (tuple, list)):
        return (type(tree), tuple(_flatten(x, leaves) for x in tree))
    if isinstance(tree, dict):
        keys = tuple(tree)
        return (dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    leaves.append(tree)
    return None


def _unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        if s[0] is dict:
            return {k: build(c) for k, c in zip(s[1], s[2])}
        items = [build(c) for c in s[1]]
        kind = s[0]
        return kind(*items) if hasattr(kind, "_fields") else kind(items)
    return build(structure)


def _is_array(x):
    return isinstance(x, (Tensor, np.ndarray))


def _leaf_key(x):
    if isinstance(x, Tensor):
        return (x._data.shape, x._data.dtype.str)
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype.str)
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"graphc.jit: argument of type {type(x).__name__} is neither an array "
                        f"nor hashable; pass tensors, arrays, numbers or tuples of them") from None
    return (type(x), x)


def _control_flow_error(fn, error):
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith(_INTERNAL)]
    where = ""
    if frames:
        f = frames[-1]
        where = f"\n  at {SourceLocation(f.filename, f.lineno, f.line or '')}"
    return TracingError(
        f"graphc.jit({_name(fn)}): {error}{where}\n"
        f"While tracing, tensors are symbolic: their values exist only when the compiled graph "
        f"runs, so Python cannot branch on them or convert them to numbers. Select values with "
        f"graphc.where(cond, a, b), compute such conditions outside the jitted function, or "
        f"pass them as Python numbers (static arguments: each new value traces again).")


def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# ---- one traced and compiled specialization -------------------------------------------------------
class Specialization:
    """The graph and executable for one input signature, with the cost of making them."""

    def __init__(self, graph, executable, out_structure, out_leaves, trace_seconds,
                 compile_seconds):
        self.graph = graph
        self.executable = executable
        self.out_structure = out_structure
        self.out_leaves = out_leaves  # per output leaf: int (executable output) or a constant
        self.trace_seconds = trace_seconds      # running fn on placeholders
        self.compile_seconds = compile_seconds  # graphc.compile
        self.first_run_seconds = None           # first call: where lazy targets compile
        self.write_back = []  # (feed index, output index): arguments written in place
        self.grad_outputs = []  # (parameter, output index): its new .grad (keep_grads)
        self.guard = None     # Guard: module modes and .grad presence the trace assumed

    def run(self, feeds):
        results = self.executable(*feeds) if self.executable is not None else []
        for i, j in self.write_back:
            np.copyto(feeds[i], np.asarray(results[j]._data if isinstance(results[j], Tensor)
                                           else results[j]))
        for t, j in self.grad_outputs:
            g = results[j]
            t.grad = g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g))
        if self.out_structure is None:  # a single leaf: the common `return loss`
            x = self.out_leaves[0]
            return results[x] if type(x) is int else x.value
        leaves = [results[x] if type(x) is int else x.value for x in self.out_leaves]
        return _unflatten(self.out_structure, leaves)


class _Static:
    """An output leaf that is not symbolic: returned as it was."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Jitted:
    """A function compiled per input signature; see graphc.jit."""

    def __init__(self, fn, target=None, keep_grads=False, distributed=False,
                 bucket_cap_mb=None):
        self.fn = fn
        self.target = target
        self.keep_grads = keep_grads
        self.distributed = bool(distributed)
        if bucket_cap_mb is not None:
            if not self.distributed:
                raise ValueError("graphc.jit: bucket_cap_mb applies with distributed=True")
            from .ops.collective import bucket_caps
            bucket_caps(bucket_cap_mb)  # a positive number
        self.bucket_cap_mb = bucket_cap_mb
        self.retraces = 0  # how many times fn was traced (once per new signature)
        self._cache = {}
        self._fast = {}  # (class, shape, dtype) per positional array argument -> the same entries
        self._last = None
        try:
            self._arg_names = [p.name for p in inspect.signature(fn).parameters.values()]
        except (TypeError, ValueError):
            self._arg_names = []
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        fast_key = None
        if not kwargs:  # fast path: positional arrays only, the signature seen before
            try:
                fast_key = tuple([(a.__class__, a.shape, a.dtype) for a in args])
                spec = self._fast.get(fast_key)
            except (AttributeError, TypeError):
                fast_key = spec = None
            if spec is not None and (spec.guard is None or spec.guard.holds()):
                self._last = spec
                return spec.run([a if a.__class__ is np.ndarray else a._data for a in args])
        leaves = []
        structure = _flatten((args, kwargs), leaves)
        key = (structure, tuple(_leaf_key(x) for x in leaves))
        spec = self._lookup(key)
        new = spec is None
        if new:
            spec = self._specialize(structure, leaves)
            self._cache.setdefault(key, []).append(spec)
        if fast_key is not None and all(_is_array(a) for a in args):
            self._fast[fast_key] = spec
        self._last = spec
        feeds = [x._data if isinstance(x, Tensor) else x for x in leaves if _is_array(x)]
        if not new or spec.first_run_seconds is not None:
            return spec.run(feeds)
        start = time.perf_counter()
        result = spec.run(feeds)
        spec.first_run_seconds = time.perf_counter() - start  # lazy targets compile here
        return result

    # ---- inspection -------------------------------------------------------------------------------
    def specialization(self, *args, **kwargs):
        """The Specialization (graph, executable, timings) for these arguments, traced if new."""
        leaves = []
        structure = _flatten((args, kwargs), leaves)
        key = (structure, tuple(_leaf_key(x) for x in leaves))
        spec = self._lookup(key)
        if spec is None:
            spec = self._specialize(structure, leaves)
            self._cache.setdefault(key, []).append(spec)
        return spec

    def _lookup(self, key):
        """The specialization for this signature whose guard holds (modules' .training and
        .grad presence as when it was traced), or None."""
        for spec in self._cache.get(key, ()):
            if spec.guard is None or spec.guard.holds():
                return spec
        return None

    def graph(self, *args, **kwargs) -> Graph:
        """The traced graph for these arguments (outputs and updated values)."""
        return self.specialization(*args, **kwargs).graph

    @property
    def executable(self):
        """The executable of the most recent call."""
        if self._last is None:
            raise GraphcError(f"graphc.jit({_name(self.fn)}) has not been called yet; use "
                              f".specialization(*args) to trace without running")
        return self._last.executable

    @property
    def signatures(self):
        return sum(len(specs) for specs in self._cache.values())

    def __repr__(self):
        return (f"<graphc.jit {_name(self.fn)}: {self.retraces} traces, "
                f"target={self.target or default_target()!r}>")

    # ---- tracing ----------------------------------------------------------------------------------
    def _specialize(self, structure, leaves):
        start = time.perf_counter()
        symbolic, inputs = [], []
        names = self._leaf_names(structure, len(leaves))
        for x, name in zip(leaves, names):
            if _is_array(x):
                arr = x._data if isinstance(x, Tensor) else x
                p = placeholder(arr.shape, as_dtype(arr.dtype), name=name)
                inputs.append(p)
                symbolic.append(p)
            else:
                symbolic.append(x)
        args, kwargs = _unflatten(structure, symbolic)
        result, trace = trace_call(self.fn, args, kwargs, self.keep_grads,
                                    _control_flow_error, self._average_gradients())
        out_leaves_raw = []
        out_structure = _flatten(result, out_leaves_raw)
        outputs, out_leaves = [], []
        for leaf in out_leaves_raw:
            if isinstance(leaf, Value):
                out_leaves.append(len(outputs))
                outputs.append(trace.resolve(leaf))
            elif isinstance(leaf, Tensor) and id(leaf) in trace.current \
                    and trace._temporary(leaf):  # made and written by the traced code: its
                out_leaves.append(len(outputs))  # value, new each call (state comes back as
                outputs.append(trace.current[id(leaf)])  # itself, updated)
            else:
                out_leaves.append(_Static(leaf))
        grad_outputs = []  # keep_grads: .grad of parameters whose .grad was None
        for t, g in trace.new_grads:
            grad_outputs.append((t, len(outputs)))
            outputs.append(g)
        # arguments written in place: their new values are copied back after each call
        write_back = []
        for i, p in enumerate(inputs):
            now = trace.resolve(p)
            if now is not p:
                write_back.append((i, len(outputs)))
                outputs.append(now)
        updates = trace.updates()
        traced = time.perf_counter()
        executable = graph = None
        if outputs or updates:
            executable = compile_graph(outputs, inputs, updates,
                                       target=self.target or default_target())
            graph = executable.graph
        else:
            graph = Graph([], inputs, [])
        self.retraces += 1
        spec = Specialization(graph, executable, out_structure, out_leaves, traced - start,
                              time.perf_counter() - traced)
        spec.write_back = write_back
        spec.grad_outputs = grad_outputs
        spec.guard = Guard(trace) if trace.modules or trace.grad_guard else None
        return spec

    def _average_gradients(self):
        """distributed=True: after each traced backward, the mean over ranks of the .grad of
        the parameters it reached (the same all_reduce nodes as DistributedDataParallel)."""
        if not self.distributed:
            return None
        from .distributed import DistributedError, is_initialized
        from .distributed.collectives import average_symbolic_grads
        if not is_initialized():
            raise DistributedError(f"graphc.jit({_name(self.fn)}, distributed=True): call "
                                   f"graphc.distributed.init_process_group() first")
        return lambda params: average_symbolic_grads(params, "jit(distributed=True)",
                                                     self.bucket_cap_mb)

    def _leaf_names(self, structure, n):
        """Readable placeholder names: the parameter's name, with an index when nested."""
        names = []
        arg_structs = structure[1][0][1]  # ((args tuple), (kwargs dict))
        kw = structure[1][1]

        def walk(s, base):
            if s is None:
                names.append(base)
                return
            children = s[2] if s[0] is dict else s[1]
            labels = s[1] if s[0] is dict else range(len(children))
            for label, c in zip(labels, children):
                walk(c, f"{base}_{label}")
        for i, s in enumerate(arg_structs):
            walk(s, self._arg_names[i] if i < len(self._arg_names) else f"arg{i}")
        for key, s in zip(kw[1], kw[2]):
            walk(s, str(key))
        seen, out = set(), []
        for name in names:
            unique, k = name, 1
            while unique in seen:
                unique, k = f"{name}.{k}", k + 1
            seen.add(unique)
            out.append(unique)
        return out


def jit(fn=None, *, target=None, keep_grads=False, distributed=False, bucket_cap_mb=None):
    """Compile an eager-style function by tracing it; usable as `@graphc.jit` or
    `graphc.jit(fn, target="cpu")`.

    Array arguments (tensors, NumPy arrays, nested in tuples/lists/dicts) become placeholders
    of their shape and dtype; every other argument is static (part of the cache key). The
    function may call `loss.backward()`, optimizers' `step()` and in-place updates: they become
    the compiled step's gradients and updates. `keep_grads=True` also writes the final
    gradients into the parameters' `.grad` after each call (an extra copy per step).
    `retraces` counts traces; `graph(*args)` and `executable` show what was compiled.
    `distributed=True`: each traced backward averages the gradients over the ranks of
    graphc.distributed (as DistributedDataParallel does); parameters must start equal on
    every rank (the same seed, or `dist.broadcast` from rank 0); `bucket_cap_mb` caps its
    allreduce buckets as DistributedDataParallel's argument does (None: a 1 MiB first
    bucket, then 25 MiB).
    """
    if fn is None:
        return functools.partial(jit, target=target, keep_grads=keep_grads,
                                 distributed=distributed, bucket_cap_mb=bucket_cap_mb)
    if not callable(fn):
        raise TypeError(f"graphc.jit expects a function, got {type(fn).__name__}")
    return Jitted(fn, target=target, keep_grads=keep_grads, distributed=distributed,
                  bucket_cap_mb=bucket_cap_mb)
