"""Assemble a compiled step, in one of two shapes with one calling convention:

    program(steps, inputs..., variables..., constant arenas..., work arenas..., outputs...)
        -> (error code, error value)

- "kernels": each step of the memory plan becomes a kernel of its own, a small @njit
  function over views of its operands, named by a hash of its text and cached on disk, so
  identical layers, graphs and processes share one compiled kernel; the program is plain
  Python that calls the kernels in order. Compile time follows the number of *distinct*
  kernels, not of nodes.
- "whole": every kernel inlined into one @njit program (no Python between kernels): for tiny
  steps, where a Python call per kernel would cost more than the work (see choose_layout).

The body runs `steps` times (a k-step training loop in one call when feeds do not change).
Outputs are allocated by the caller for each call; temporaries live in the work arenas;
variables are updated in their own storage.
"""
from __future__ import annotations

import hashlib
import math
import os
import re

from runtime.threads import BLAS_PARALLEL_MIN_WORK

from ..errors import UnsupportedError, op_error
from ..passes.fusion import FUSED, is_fusable
from ..passes.layout import contiguous_strides
from .collective import IMPORT as COLLECTIVE_IMPORT, CollectiveCalls
from .emit import Emitter, comment_text, sanitize
from .kernels import EMITTERS, emit_copy
from .runtime_calls import RUNTIME_OPS, emit_runtime_call
from .loops import emit_elementwise, emit_reduce, is_single_pass_reduce
from .scalar import CTOR, FAST_HELPERS, PRELUDE
from .scan import emit_scan, has_scan


class Options:
    """Code generation switches. strict: libm transcendental functions, no fast-math.
    parallel_min: elementwise loops of at least this many elements run on all threads
    (None: never; the default when only one thread is configured)."""

    def __init__(self, strict=False, parallel_min=None):
        self.strict = strict
        self.parallel_min = parallel_min

    @property
    def fastmath(self):
        # reassociation lets LLVM vectorize reductions; no nnan/ninf: NaN and Inf propagate
        return "False" if self.strict else '{"reassoc", "contract"}'

    def key(self):
        return f"strict={self.strict}|parallel_min={self.parallel_min}"


# Comment lines naming the user's source lines start with this; they are left out of the
# module that is compiled and cached, so that editing a script does not invalidate the cache.
LOCATION_MARK = "@ "


class GeneratedProgram:
    """The source of a program and what the runner needs to call it."""

    def __init__(self, annotated, plan, inputs, variables, arenas, errors, parallel,
                 kernels=None, views=()):
        self.annotated = annotated  # with the user's source lines, for people
        self.source = _without_locations(annotated)
        self.plan = plan
        self.inputs = inputs          # placeholder values, in argument order
        self.variables = variables    # variable values, in argument order
        self.arenas = arenas          # [(kind, dtype name, size or data)] in argument order
        self.errors = errors          # code - 1 -> (node, message)
        self.parallel = parallel      # calls threaded code: the runner takes the thread lock
        # kernel layout: the kernels' module sources (the program's `K` tuple, in order) and
        # the arena views it binds (`V`: (arena argument index, start, stop))
        self.kernels = kernels
        self.views = views
        self.subprograms = []  # kernel layout: body programs of scan nodes (lower/scan.py)

    @property
    def layout(self):
        return "whole" if self.kernels is None else "kernels"


def _without_locations(text):
    return "\n".join(line for line in text.split("\n")
                     if not line.lstrip().startswith("#" + LOCATION_MARK))


def choose_layout(graph):
    """ "whole" for tiny steps, else "kernels" (GRAPHC_LAYOUT=whole|kernels overrides).

    Measured (docs/compiler.md): a Python call of a cached kernel costs ~0.3-0.5 us, a whole
    program compiles ~2-5 ms per node and grows with every layer. A step whose values hold
    few elements runs in microseconds, where per-kernel calls would double its time, and it
    has few nodes, so compiling it whole is cheap.
    """
    if has_scan(graph) or graph.memory.collectives:  # Python between the kernels: the loop
        return "kernels"                             # of a scan, allreduce calls
    forced = os.environ.get("GRAPHC_LAYOUT", "")
    if forced in ("whole", "kernels"):
        return forced
    steps = graph.memory.steps
    elements = sum(v.type.numel() for s in steps if s.node is not None for v in s.node.outputs)
    return "whole" if elements <= WHOLE_MAX_ELEMENTS and len(steps) <= WHOLE_MAX_STEPS \
        else "kernels"


# A step is compiled whole below both limits (see choose_layout): XOR-sized models.
WHOLE_MAX_ELEMENTS = 4096
WHOLE_MAX_STEPS = 120

def lower_program(graph, opts, layout=None, scan_body=False):
    """The program of a planned graph. scan_body: the body of a scan (graphc/lower/scan.py),
    called once per step by its caller's program, which restores BLAS threads itself."""
    layout = "kernels" if has_scan(graph) or graph.memory.collectives \
        else layout or choose_layout(graph)
    plan = graph.memory
    em = Emitter(plan)
    inputs, variables, params = list(graph.inputs), [], ["steps"]
    for i, v in enumerate(inputs):
        name = f"in{i}_{sanitize(v.name)}".rstrip("_")
        em.array_names[v] = (name, 0)
        params.append(name)
    for v, st in plan.storage.items():
        if st.kind == "var" and v.node.op.name == "variable":
            variables.append((st.index, v))
    variables = [v for _, v in sorted(variables, key=lambda p: p[0])]
    for j, v in enumerate(variables):
        name = f"var{j}_{sanitize(v.name)}".rstrip("_")
        em.array_names[v] = (name, 0)
        params.append(name)
    arenas = []
    for dt, data in sorted(plan.const_data.items()):
        params.append(f"c_{dt}")
        arenas.append(("const", dt, data))
    for dt, size in sorted(plan.arena_sizes.items()):
        params.append(f"w_{dt}")
        arenas.append(("work", dt, size))
    outs = []
    for v, st in plan.storage.items():
        if st.kind == "const":
            em.array_names[v] = (f"c_{st.dtype.name}", st.offset)
        elif st.kind == "temp":
            em.array_names[v] = (f"w_{st.dtype.name}", st.offset)
        elif st.kind == "out":
            em.array_names[v] = (f"out{st.index}", 0)
            outs.append((st.index, v))
        elif st.kind == "var" and v not in em.array_names:  # an in-place new value
            root = next(r for r, s in plan.storage.items() if s is st and r in em.array_names)
            em.array_names[v] = em.array_names[root]
    outs.sort(key=lambda p: p[0])
    # outputs are allocated by the caller: returning an array from compiled code costs more
    # (an allocation through Numba's runtime and boxing) than passing one more argument
    params += [f"out{k}" for k, _ in outs]
    em.params = ", ".join(params[1:])
    if layout == "kernels":
        return _lower_kernels(graph, opts, em, params, inputs, variables, arenas, scan_body)
    em.line("for _step in range(steps):")
    em.depth += 1
    helpers = set()
    for number, step in enumerate(plan.steps):
        _emit_step(em, number, step, opts, helpers)
    em.line("pass")
    em.depth -= 1
    em.line(f"return 0, i64(0){em.returns}")
    annotated = _module(params, em, helpers, opts)
    return GeneratedProgram(annotated, plan, inputs, variables, arenas, em.errors,
                            bool(em.parallel_kernels))


def _lower_kernels(graph, opts, em, params, inputs, variables, arenas, scan_body=False):
    """The kernel layout: one kernel per step (deduplicated by text), a Python program."""
    arena_index = {params[1 + len(inputs) + len(variables) + k]: k for k in range(len(arenas))}
    kernels, kernel_ids, views, view_ids, signatures = [], {}, [], {}, set()

    def argument(description):
        if description[0] == "size":
            return str(description[1])
        _, name, base, size, _ = description
        if name not in arena_index:  # an input, variable or output: from where it starts
            return f"{name}[{base}:]" if base else name
        key = (arena_index[name], base, base + size)
        if key not in view_ids:
            view_ids[key] = f"v{len(views)}"
            views.append(key)
        return view_ids[key]

    collectives = CollectiveCalls(graph.memory, argument)  # lower/collective.py
    em.line("for _step in range(steps):")
    em.depth += 1
    blas_steps = 0
    subprograms = []  # the body programs of scan nodes (s0, s1, ...)
    for number, step in enumerate(graph.memory.steps):
        collectives.before_step(em, number)
        if step.node is not None and step.node.op.name == "scan":
            _comment_step(em, number, step)
            emit_scan(em, step.node, opts, subprograms)
            blas_steps += 1  # its body may narrow BLAS
            continue
        work = _blas_work(step.node)
        if work:
            blas_steps += 1
            em.line(f"blas({work >= BLAS_PARALLEL_MIN_WORK})  # {work:,} multiply-adds")
        em.begin_kernel()
        _emit_step(em, number, step, opts, em.kernel.helpers, comments=False)
        frame = em.end_kernel()
        _comment_step(em, number, step)
        if not frame.lines:
            em.line("pass  # nothing to compute")
            continue
        text = _kernel_module(frame, opts)
        if text not in kernel_ids:
            kernel_ids[text] = len(kernels)
            kernels.append(text)
        k = kernel_ids[text]
        signatures.add((k, tuple(d[-1] if d[0] == "array" else "size" for d in frame.args)))
        call = f"k{k}({', '.join(argument(d) for d in frame.args)})"
        if frame.raises:
            em.line(f"code, value = {call}")
            em.line("if code:")
            em.line(f"    return {frame.first_error} + code, value")
        else:
            em.line(call)
    collectives.end(em, len(graph.memory.steps))
    em.depth -= 1
    if blas_steps and not scan_body:
        em.line("blas(True)  # eager code shares this BLAS library")
    em.line("return 0, 0")
    program = em.lines
    text = "\n".join(
        ["# Generated by graphc (target cpu, kernel layout). Do not edit: regenerated from "
         "the graph.", "# K: the step's kernels (each compiled once, cached by its text); "
         "V: views of the arenas;", "# blas(wide): all configured BLAS threads, or one "
         "(runtime/threads.py narrow_blas);", "# S: the body programs of scans and their "
         "arenas (graphc/lower/scan.py)", "",
         "from graphc.lower.scan import dense" if subprograms else "",
         COLLECTIVE_IMPORT if collectives.count else "",
         "def bind(K, V, blas, S=()):"] +
        [f"    ({', '.join(f'k{k}' for k in range(len(kernels)))},) = K" if kernels else "",
         f"    ({', '.join(f'v{k}' for k in range(len(views)))},) = V" if views else "",
         f"    ({', '.join(f'(s{k}, sa{k})' for k in range(len(subprograms)))},) = S"
         if subprograms else "",
         "", f"    def program({', '.join(params)}):"] +
        ["    " + line for line in program] + ["    return program", ""])
    listing = "".join(f"\n# ---- k{k}: kernel {_kernel_name(t)} {'-' * 40}\n" +
                      t.replace(PRELUDE, "").split("\n", 2)[-1].strip("\n") + "\n"
                      for k, t in enumerate(kernels))
    listing += "".join(f"\n# ---- s{k}: scan body program {'-' * 40}\n" + sub.annotated
                       for k, sub in enumerate(subprograms))
    parallel = any("parallel=True" in t for t in kernels) or any(s.parallel for s in subprograms)
    generated = GeneratedProgram(text + listing, graph.memory, inputs, variables, arenas,
                                 em.errors, parallel, kernels, views)
    generated.subprograms = subprograms
    generated.source = _without_locations(text)  # the kernels are modules of their own
    generated.signatures = sorted(signatures)  # (kernel, argument dtypes): compiled up front
    generated.calls = sum(1 for line in program if line.lstrip().startswith(("k", "code, ")))
    return generated


def _blas_work(node):
    """Multiply-adds of a step that calls BLAS (matmul, conv), else 0."""
    if node is None or node.op.name not in _BLAS_OPS:
        return 0
    if node.op.name == "matmul":
        return node.outputs[0].type.numel() * node.inputs[0].type.shape[-1]  # x K
    x, w = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    if node.op.name == "conv2d":  # each output element: one filter's fan-in
        return out.type.numel() * math.prod(w.type.shape[1:])
    if node.op.name == "conv_transpose2d":  # each input element: scattered over a filter
        return x.type.numel() * math.prod(w.type.shape[1:])
    return out.type.numel() * (w.type.numel() // max(1, w.type.shape[1]))  # weight grad


_BLAS_OPS = ("matmul", "conv2d", "conv_transpose2d", "conv2d_weight_grad")


def _kernel_name(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _kernel_module(frame, opts):
    """A kernel's whole module: prelude, the helpers it calls, the function."""
    parts = _helper_parts(frame.helpers, opts)
    parallel = ", parallel=True" if frame.parallel else ""
    parts.append(f"\n@njit(cache=CACHE, nogil=True, error_model=\"numpy\", "
                 f"fastmath={opts.fastmath}{parallel})")
    parts.append(f"def kernel({', '.join(_param_names(frame))}):")
    parts.extend(frame.lines)
    if frame.raises:
        parts.append("    return 0, i64(0)")
    code, constants = _hoist_constants("\n".join(parts))
    return "\n".join(["# Generated by graphc: one kernel (target cpu).\n", PRELUDE, constants,
                      code]) + "\n"


def _param_names(frame):
    return [frame.names.get(d) or f"n{k}" for k, d in enumerate(frame.args)]


def _helper_parts(helpers, opts):
    parts = []
    kernels = sorted(k for kind, k in (h for h in helpers if isinstance(h, tuple)))
    if kernels:
        from runtime.kernels import location
        for k in kernels:
            module, attr = location(k)
            parts.append(f"from {module} import {attr} as rk_{k}")
    for name in sorted(h for h in helpers if isinstance(h, str)):
        parts.append(FAST_HELPERS[name].replace("cache=True", "cache=CACHE")
                     .format(fastmath=opts.fastmath))
    return parts


def _module(params, em, helpers, opts):
    parts = _helper_parts(helpers, opts)
    for name, lines in em.parallel_kernels:
        parts.append(f"\n@njit(cache=CACHE, nogil=True, error_model=\"numpy\", "
                     f"fastmath={opts.fastmath}, parallel=True)")
        parts.append(f"def {name}({em.params}):")
        parts.extend(lines)
    parts.append(f"\n@njit(cache=CACHE, nogil=True, error_model=\"numpy\", "
                 f"fastmath={opts.fastmath})")
    parts.append(f"def program({', '.join(params)}):")
    parts.extend(em.lines)
    code, constants = _hoist_constants("\n".join(parts))
    return "\n".join(["# Generated by graphc (target cpu). Do not edit: regenerated from the "
                      "graph.\n", PRELUDE, constants, code]) + "\n"


# A typed literal such as f32(0.5) is a call Numba must type and lower at every use; a module
# constant is frozen into the code once (about 10% less compile time for an MLP step).
_TYPED_LITERAL = re.compile(r"\b(f32|f64|i64)\((-?[0-9][0-9.e+-]*|-?np\.inf|np\.nan)\)")


def _hoist_constants(code):
    names = {}

    def name(m):
        value = (m.group(2).replace("np.inf", "INF").replace("np.nan", "NAN").replace("-", "M")
                 .replace("+", "").replace(".", "_").replace("e", "E"))
        return names.setdefault(m.group(0), f"{m.group(1).upper()}_{value}")
    code = _TYPED_LITERAL.sub(name, code)
    table = "".join(f"{k} = {text}\n" for text, k in names.items())
    return code, ("# typed constants\n" + table) if table else ""


def _describe(node):
    if node.op is FUSED and "group" in node.attrs:
        members = node.attrs["group"].nodes
        text = f"fused {node.attrs['group']!r}"
    else:
        members = [node]
        text = node.op.name
    types = ", ".join(repr(v.type) for v in node.outputs)
    lines = [f"{text} -> {types}"]
    for loc in list(dict.fromkeys(str(m.location) for m in members if m.location))[:3]:
        lines.append(f"{LOCATION_MARK}from {loc}")
    return lines


def _comment_step(em, number, step):
    if step.node is None:
        em.comment(f"[{number}] copy {step.src.type} into {em.plan.storage[step.dst].kind}")
        return
    for text in _describe(step.node):
        if text.startswith(LOCATION_MARK):
            em.line("#" + LOCATION_MARK + comment_text(text[len(LOCATION_MARK):]))
        else:
            em.comment(f"[{number}] {text}")


def _emit_step(em, number, step, opts, helpers, comments=True):
    if comments:
        _comment_step(em, number, step)
    if step.node is None:
        name, base = em.array_of(step.dst)
        emit_copy(em, step.src, name, base, contiguous_strides(step.src.type.shape))
        return
    node = step.node
    if node.op is FUSED:
        kind = node.attrs["group"].kind
        (emit_reduce if kind == "reduce" else emit_elementwise)(em, node, opts, helpers)
    elif is_fusable(node):
        emit_elementwise(em, node, opts, helpers)
    elif is_single_pass_reduce(node):
        emit_reduce(em, node, opts, helpers)
    elif node.op.name in EMITTERS:
        EMITTERS[node.op.name](em, node, opts, helpers)
    elif node.op.name in RUNTIME_OPS:
        emit_runtime_call(em, node, opts, helpers)
    else:
        raise op_error(UnsupportedError, node.op.name, "has no lowering for target 'cpu'",
                       node.location)


__all__ = ["lower_program", "GeneratedProgram", "Options", "comment_text"]
