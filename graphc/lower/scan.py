"""Lowering a `scan` node (graphc/control_flow.py) for target "cpu".

The body graph is compiled once, as a program of its own in the kernel layout (its kernels
are cached by their text like any other, so they are shared with the outer step and across
processes), and the outer program (plain Python in the kernel layout) loops over the steps:

    S[first] = init                       # S: the carry entering each step (a node output)
    for t in steps:                       # 0..T-1, or T-1..0 when reverse
        body(1, S[t], xs[t]..., captured..., body arenas..., S[next] or F, ys[t]...)

Step t reads its carry from slot t of the saved-carries output and writes the new carry
straight into the slot of the next step (the final carry output F after the last step), so
the carry is never copied. Per-step operands are 1-D views `array[t*n:(t+1)*n]` of the
dense time-major buffers; an input whose layout is strided (a transposed sequence) is made
dense once per call. Compile time is that of one body, whatever the number of steps.
"""
from __future__ import annotations

import numpy as np

from ..control_flow import scan_op
from ..errors import UnsupportedError, op_error


def dense(array, offset, shape, strides):
    """A dense 1-D copy of a strided layout of a flat array (called by generated code)."""
    view = np.lib.stride_tricks.as_strided(array[offset:], shape,
                                           [s * array.itemsize for s in strides])
    return np.ascontiguousarray(view).reshape(-1)


def lower_body(body, opts):
    """The body's passes and its kernel-layout program (a GeneratedProgram)."""
    from ..passes import run_pipeline
    from .program import lower_program
    graph = run_pipeline(body, updates=[])
    if graph.variables:
        raise AssertionError("a scan body is a closed graph: variables are inputs of the node")
    return lower_program(graph, opts, layout="kernels", scan_body=True)


def _flat(em, value):
    """A contiguous 1-D expression holding `value` (dense copy of a strided layout)."""
    lay = em.layout(value)
    name, base = em.array_of(value)
    n = value.type.numel()
    if lay.is_contiguous:
        return f"{name}[{base}:{base + n}]"
    return f"dense({name}, {base}, {tuple(lay.shape)}, {tuple(lay.strides)})"


def emit_scan(em, node, opts, subprograms):
    """Emit the loop of a scan node into the outer (Python) program; the body's program is
    appended to `subprograms` and called as s<k> with its arenas sa<k>."""
    a = node.attrs
    nc, nx, steps, reverse = a["num_carry"], a["num_xs"], a["length"], a["reverse"]
    for v in node.inputs + node.outputs:
        if v.dtype.name == "float16":
            raise op_error(UnsupportedError, "scan", "float16 is not supported on target "
                           "'cpu'", node.location)
    sub = lower_body(a["body"], opts)
    k = len(subprograms)
    subprograms.append(sub)
    first_error = len(em.errors)
    em.errors.extend(sub.errors)
    ins = list(node.inputs)
    carries, xs, consts = ins[:nc], ins[nc:nc + nx], ins[nc + nx:]
    ny = len(node.outputs) - 2 * nc
    finals, ys, saved = (node.outputs[:nc], node.outputs[nc:nc + ny],
                         node.outputs[nc + ny:])
    tag = f"_s{k}"
    names = {}
    for group, values in (("c", carries), ("x", xs), ("k", consts)):
        for j, v in enumerate(values):
            names[v, group, j] = f"{tag}{group}{j}"
            em.line(f"{tag}{group}{j} = {_flat(em, v)}")
    for group, values in (("f", finals), ("y", ys), ("s", saved)):
        for j, v in enumerate(values):
            em.line(f"{tag}{group}{j} = {_flat(em, v)}")
    c_sizes = [v.type.numel() for v in carries]
    x_sizes = [v.type.numel() // max(steps, 1) for v in xs]
    y_sizes = [v.type.numel() // max(steps, 1) for v in ys]
    if steps == 0:
        for j in range(nc):
            em.line(f"{tag}f{j}[:] = {tag}c{j}")
        return
    first, last = (steps - 1, 0) if reverse else (0, steps - 1)
    for j, n in enumerate(c_sizes):
        em.line(f"{tag}s{j}[{first * n}:{first * n + n}] = {tag}c{j}")

    def call(t, carry_out):
        args = ["1"]
        args += [f"{tag}s{j}[{t} * {n}:{t} * {n} + {n}]" for j, n in enumerate(c_sizes)]
        args += [f"{tag}x{j}[{t} * {n}:{t} * {n} + {n}]" for j, n in enumerate(x_sizes)]
        args += [f"{tag}k{j}" for j in range(len(consts))]
        if sub.arenas:
            args.append(f"*sa{k}")
        args += [carry_out(j, n) for j, n in enumerate(c_sizes)]
        args += [f"{tag}y{j}[{t} * {n}:{t} * {n} + {n}]" for j, n in enumerate(y_sizes)]
        em.line(f"code, value = s{k}({', '.join(args)})")
        em.line("if code:")
        em.line(f"    return {first_error} + code, value")

    nxt = "-" if reverse else "+"
    loop = f"range({steps - 1}, 0, -1)" if reverse else f"range({steps - 1})"
    em.line(f"for _t in {loop}:")
    em.depth += 1
    call("_t", lambda j, n: f"{tag}s{j}[(_t {nxt} 1) * {n}:(_t {nxt} 1) * {n} + {n}]")
    em.depth -= 1
    call(str(last), lambda j, n: f"{tag}f{j}")


def has_scan(graph):
    return any(n.op is scan_op for n in graph.nodes)
