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

import os

from ..ops import leaves
from .emit import Emitter, sanitize
from .kernel_layout import lower_kernels
from .options import Options
from .scalar import prelude
from .scan import has_scan
from .steps import GeneratedProgram, emit_step, helper_parts, hoist_constants


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
        if st.kind == "var" and v.node.op is leaves.variable:
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
    # arenas holding allreduce buckets: other ranks may read and write them in place
    shared = {plan.storage[c.root].dtype.name for c in plan.collectives
              if plan.storage[c.root].kind == "temp"}
    for dt, size in sorted(plan.arena_sizes.items()):
        params.append(f"w_{dt}")
        arenas.append(("shared" if dt in shared else "work", dt, size))
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
        return lower_kernels(graph, opts, em, params, inputs, variables, arenas, scan_body)
    em.line("for _step in range(steps):")
    em.depth += 1
    helpers = set()
    for number, step in enumerate(plan.steps):
        emit_step(em, number, step, opts, helpers)
    em.line("pass")
    em.depth -= 1
    em.line(f"return 0, i64(0){em.returns}")
    annotated = _module(params, em, helpers, opts)
    return GeneratedProgram(annotated, plan, inputs, variables, arenas, em.errors,
                            bool(em.parallel_kernels))


def _module(params, em, helpers, opts):
    parts = helper_parts(helpers, opts)
    for name, lines in em.parallel_kernels:
        parts.append(f"\n@njit(cache=CACHE, nogil=True, error_model=\"numpy\", "
                     f"fastmath={opts.fastmath}, parallel=True)")
        parts.append(f"def {name}({em.params}):")
        parts.extend(lines)
    parts.append(f"\n@njit(cache=CACHE, nogil=True, error_model=\"numpy\", "
                 f"fastmath={opts.fastmath})")
    parts.append(f"def program({', '.join(params)}):")
    parts.extend(em.lines)
    code, constants = hoist_constants("\n".join(parts))
    return "\n".join(["# Generated by graphc (target cpu). Do not edit: regenerated from the "
                      "graph.\n", prelude(code), constants, code]) + "\n"


__all__ = ["lower_program", "GeneratedProgram", "Options"]
