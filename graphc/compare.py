"""graphc.compare: run one function eagerly and compiled, check they agree, time both.

The compiled side is graphc.jit of the function; with grad=True both sides also compute the
gradients of a fixed random projection of the outputs, sum(out_i * c_i), with respect to the
floating-point inputs and to every parameter (tensor with requires_grad) the function reaches:
eager through the tape (.backward()), compiled through graphc.grad in the same graph.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from . import static_grad
from .dispatch import constant
from .eager.tensor import Tensor
from .errors import GraphcError
from .ir.graph import Graph, Value
from .jit import Jitted, _flatten

# Default tolerances per dtype: |compiled - eager| <= atol * max(1, max|eager|) + rtol * |eager|.
TOLERANCES = {"float64": (1e-7, 1e-9), "float32": (1e-4, 1e-5), "float16": (1e-2, 1e-3)}


class MismatchError(GraphcError, AssertionError):
    """Eager and compiled results of graphc.compare disagree beyond the tolerances."""


class Row:
    """One compared array: an output or a gradient."""

    def __init__(self, label, eager, compiled, rtol, atol):
        self.label, self.shape = label, tuple(np.shape(eager))
        self.dtype = str(np.asarray(eager).dtype)
        self.eager, self.compiled = eager, compiled  # the two arrays, for a closer look
        eager = np.asarray(eager, np.float64)
        compiled = np.asarray(compiled, np.float64)
        if eager.shape != compiled.shape:
            self.max_abs = self.max_rel = float("inf")
            self.ok = False
            self.note = f"shape {list(compiled.shape)} compiled vs {list(eager.shape)} eager"
            return
        diff = np.abs(compiled - eager)
        scale = max(1.0, float(np.max(np.abs(eager), initial=0.0)))
        bad = ~(diff <= atol * scale + rtol * np.abs(eager))
        bad &= ~(np.isnan(eager) & np.isnan(compiled))  # NaN where eager has NaN agrees
        self.max_abs = float(np.max(np.where(np.isnan(diff), np.inf, diff), initial=0.0))
        self.max_rel = float(np.max(diff / np.maximum(np.abs(eager), 1e-30), initial=0.0))
        self.ok = not bool(np.any(bad))
        self.note = "" if self.ok else f"{int(np.sum(bad))} of {eager.size} elements differ"


class CompareResult:
    """Agreement (per output and gradient) and the cost of each execution model."""

    def __init__(self, name, target, rows, eager_s, compiled_s, first_call_s, trace_s, compile_s):
        self.name, self.target, self.rows = name, target, rows
        self.eager_step_s = eager_s          # median seconds per eager call (with backward)
        self.compiled_step_s = compiled_s    # median seconds per compiled call
        self.first_call_s = first_call_s     # first compiled call: trace + compile + run
        self.trace_s = trace_s               # running fn on placeholders
        self.compile_s = compile_s           # graphc.compile + the first run (lazy targets)

    @property
    def ok(self):
        return all(r.ok for r in self.rows)

    @property
    def speedup(self):
        return self.eager_step_s / self.compiled_step_s if self.compiled_step_s else float("inf")

    def __bool__(self):
        return self.ok

    def __repr__(self):
        verdict = "agree" if self.ok else "DISAGREE"
        lines = [f"graphc.compare({self.name}) eager vs compiled (target {self.target!r}): "
                 f"{verdict}",
                 f"  {'value':<28} {'shape':<14} {'dtype':<8} {'max |diff|':>10} "
                 f"{'max rel':>9}  ok"]
        for r in self.rows:
            lines.append(f"  {r.label:<28} {str(list(r.shape)):<14} {r.dtype:<8} "
                         f"{r.max_abs:>10.2e} {r.max_rel:>9.2e}  {'yes' if r.ok else 'NO'}"
                         + (f"  ({r.note})" if r.note else ""))
        lines.append(f"  eager step {_fmt(self.eager_step_s)} | compiled step "
                     f"{_fmt(self.compiled_step_s)} ({self.speedup:.1f}x) | compile "
                     f"{_fmt(self.compile_s)} (+ trace {_fmt(self.trace_s)})")
        return "\n".join(lines)

    __str__ = __repr__


def _fmt(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cotangents(values):
    """Fixed random weights per output: the loss whose gradients both sides compute."""
    rng = np.random.default_rng(1234)
    return [rng.uniform(0.5, 1.5, tuple(v.shape)).astype(v.dtype.np) for v in values]


def _is_float_array(x):
    return isinstance(x, (Tensor, np.ndarray)) and np.asarray(x).dtype.kind == "f"


def compare(fn, *inputs, grad=True, rtol=None, atol=None, repeat=5, target=None,
            raise_on_mismatch=True):
    """Run `fn(*inputs)` eagerly and compiled (graphc.jit); check that outputs and, with
    grad=True, gradients w.r.t. the float inputs and the parameters it reaches agree.

    A whole training step (one that calls `loss.backward()` and `opt.step()`, or writes any
    state in place) is compared by what it does: its outputs and the state it writes
    (parameters, optimizer moments, BatchNorm statistics, dropout's seed), both sides starting
    from the same state; the state is put back afterwards, so compare has no side effects.

    Tolerances default per dtype (see TOLERANCES); the check is
    |compiled - eager| <= atol * max(1, max|eager|) + rtol * |eager|, elementwise.
    Returns a CompareResult (readable repr, .ok, step times); raises MismatchError on
    disagreement unless raise_on_mismatch=False.
    """
    arrays = [np.array(x._data if isinstance(x, Tensor) else x) if isinstance(x, (Tensor, np.ndarray))
              else x for x in inputs]
    found = {}  # what the compiled trace discovers: float outputs, parameters, a backward()

    def compiled_fn(*xs):
        out = fn(*xs)
        leaves = []
        _flatten(out, leaves)
        values = [v for v in leaves if isinstance(v, Value) and v.dtype.is_floating_point]
        found["n_out"] = len(values)
        # fn ran backward() itself (a training step): its outputs and writes are compared
        found["backward"] = bool(getattr(Tensor._trace, "grads", None))
        if not grad or found["backward"]:
            return values, []
        graph = Graph.from_outputs(values)
        params = [v.node.attrs["storage"] for v in graph.variables
                  if v.node.attrs["storage"].requires_grad]
        found["params"] = params
        wrt = [x for x in xs if isinstance(x, Value) and x.dtype.is_floating_point]
        wrt += [v for v in graph.variables if v.node.attrs["storage"].requires_grad]
        loss = None
        for v, c in zip(values, _cotangents(values)):
            term = (v * constant(c)).sum()
            loss = term if loss is None else loss + term.to(loss.dtype)
        grads = static_grad.grad(loss, wrt) if wrt else []
        return values, grads

    jitted = Jitted(compiled_fn, target=target)
    start = time.perf_counter()
    spec = jitted.specialization(*arrays)  # trace and compile, without running
    exe = spec.executable
    written = [var.node.attrs["storage"] for var, _ in exe.updates] if exe else []
    state = _State(exe.graph.variables if exe else [])
    compiled_outs, compiled_grads = jitted(*arrays)
    first_call = time.perf_counter() - start
    compiled_state = [t._data.copy() for t in written]
    params = found.get("params", [])
    with_grads = grad and not found["backward"]

    def eager_run():
        xs = [Tensor._wrap(a.copy()).requires_grad_(with_grads) if _is_float_array(a) else
              (Tensor._wrap(a.copy()) if isinstance(a, np.ndarray) else a) for a in arrays]
        saved = [p.grad for p in params]
        for p in params:
            p.grad = None
        try:
            out = fn(*xs)
            leaves = []
            _flatten(out, leaves)
            values = [v for v in leaves if isinstance(v, Tensor) and v.dtype.is_floating_point]
            grads = []
            if with_grads:
                loss = None
                for v, c in zip(values, _cotangents(values)):
                    term = (v * Tensor._wrap(c)).sum()
                    loss = term if loss is None else loss + term.to(loss.dtype)
                if loss is not None and loss.requires_grad:
                    loss.backward()
                wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad] + params
                grads = [np.zeros(w.shape, w._data.dtype) if w.grad is None else
                         w.grad._data.copy() for w in wrt]
            return [v.detach()._data.copy() for v in values], grads
        finally:
            for p, g in zip(params, saved):
                p.grad = g

    try:
        state.restore()  # the eager side starts where the compiled one did
        eager_outs, eager_grads = eager_run()
        eager_state = [t._data.copy() for t in written]
        rows = []
        labels = [f"output[{i}]" for i in range(len(eager_outs))]
        float_inputs = [i for i, a in enumerate(arrays) if _is_float_array(a)]
        if with_grads:
            labels += [f"grad input[{i}]" for i in float_inputs]
            labels += [f"grad {p.name or f'param[{k}]'}" for k, p in enumerate(params)]
        if len(eager_outs) != len(compiled_outs):
            raise MismatchError(f"graphc.compare: {len(eager_outs)} float outputs eagerly, "
                                f"{len(compiled_outs)} compiled")
        pairs = list(zip(labels, eager_outs + eager_grads,
                         [t._data for t in compiled_outs] + [t._data for t in compiled_grads]))
        pairs += [(f"state {t.name or f'[{k}]'} after the step", e, c)
                  for k, (t, e, c) in enumerate(zip(written, eager_state, compiled_state))
                  if np.asarray(e).dtype.kind == "f"]
        for label, e, c in pairs:
            d_rtol, d_atol = TOLERANCES.get(str(e.dtype), (1e-4, 1e-5))
            rows.append(Row(label, e, c, d_rtol if rtol is None else rtol,
                            d_atol if atol is None else atol))
        rows += [Row(f"state {t.name or f'[{k}]'} after the step", e, c, 0, 0)
                 for k, (t, e, c) in enumerate(zip(written, eager_state, compiled_state))
                 if np.asarray(e).dtype.kind != "f"]  # integers (step counts, seeds): exact
        eager_s = _median_seconds(eager_run, repeat)
        compiled_s = _median_seconds(lambda: jitted(*arrays), repeat)
    finally:
        state.restore()
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    target = jitted.target or (exe.target if exe else "none")
    compile_s = spec.compile_seconds + (spec.first_run_seconds or 0.0)
    result = CompareResult(name, target, rows, eager_s, compiled_s, first_call,
                           spec.trace_seconds, compile_s)
    if raise_on_mismatch and not result.ok:
        raise MismatchError(repr(result))
    return result


class _State:
    """The values of the tensors a compiled step reads, to run both sides from the same state
    and to leave everything as it was."""

    def __init__(self, variables):
        self.tensors = [v.node.attrs["storage"] for v in variables]
        self.saved = [t._data.copy() for t in self.tensors]
        self.grads = [(t, t.grad) for t in self.tensors if t.requires_grad]

    def restore(self):
        for t, data in zip(self.tensors, self.saved):
            if t._data is not data:
                np.copyto(t._data, data)
        for t, grad in self.grads:  # (an eager training step leaves its gradients in .grad)
            t.grad = grad
