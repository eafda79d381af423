"""What the viewers read from a compiled executable, and how they make a target compile.

An executable may offer (all optional; the "reference" target has none of them):

    exe.compiled_graph  the Graph after the compiler's passes. Without it, a runner with a
                        `program(feeds)` method (the "cpu" target) is asked to compile for the
                        inputs' shapes and its `.graph` is used. Fused nodes (attrs["group"]
                        with .nodes, .kind, .outputs) are drawn as clusters of their ops, the
                        graph's `.memory` plan (passes/memory.py) labels where values live and
                        which arena slots are reused, and its `.updates` are the variable writes.
    exe.source          the generated source code.
    exe.fusion_groups   more clusters: groups of nodes or node ids (or objects with .nodes).
    exe.buffer_of       mapping value -> buffer id, when there is no memory plan.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph


def _runner(exe):
    return getattr(exe, "_runner", None)


# The size a symbolic dim (a batch of None) takes when code must be generated before any call.
REPRESENTATIVE_DIM = 8


def input_shapes(exe, shapes=None):
    """One concrete shape per input: `shapes` ({input name or position: shape}) where given,
    else the input's own shape with each symbolic dim set to REPRESENTATIVE_DIM."""
    shapes = dict(shapes or {})
    out = []
    for i, x in enumerate(exe.inputs):
        given = shapes.pop(x.name, None) if x.name in shapes else shapes.pop(i, None)
        if given is None:
            given = tuple(d if isinstance(d, int) else REPRESENTATIVE_DIM for d in x.shape)
        given = tuple(int(d) for d in given)
        if len(given) != len(x.shape) or any(isinstance(d, int) and d != g
                                             for d, g in zip(x.shape, given)):
            raise ValueError(f"shape {list(given)} does not fit input "
                             f"{x.name or i!r} of type {x.type}")
        out.append(given)
    if shapes:
        names = ", ".join(repr(x.name or i) for i, x in enumerate(exe.inputs))
        raise ValueError(f"no input named {', '.join(map(repr, shapes))}; inputs: {names}")
    return out


def compile_now(exe, shapes=None, representative=False) -> bool:
    """Make a lazily compiling target compile (without running) for the inputs' shapes:
    `shapes` ({input name or position: shape}) where given; symbolic dims otherwise only
    when `representative` (set to REPRESENTATIVE_DIM).

    Returns False when it cannot: no such target, or symbolic dims whose sizes are known
    only at a call.
    """
    runner = _runner(exe)
    if runner is None or not hasattr(runner, "program"):
        return False
    if getattr(runner, "graph", None) is not None and not shapes:
        return True
    types = [x.type for x in exe.inputs]
    if not (shapes or representative or all(t.is_concrete for t in types)):
        return False
    feeds = [np.zeros(s, t.dtype.np) for s, t in zip(input_shapes(exe, shapes), types)]
    try:  # code generation only: showing the source needs no Numba compile
        runner.program(feeds, compile_kernels=False)
    except TypeError:  # a target whose program() takes the feeds alone
        runner.program(feeds)
    return True


def compiled_graph(exe, shapes=None) -> Graph:
    """The graph an executable runs after the passes (else the graph it was given)."""
    graph = getattr(exe, "compiled_graph", None)
    runner = _runner(exe)
    if graph is None and runner is not None and hasattr(runner, "program"):
        if compile_now(exe, shapes):
            graph = runner.graph
        else:  # symbolic dims: the same passes, without shapes (no memory plan)
            from ..passes import run_pipeline
            graph = run_pipeline(exe.graph, updates=list(exe.updates),
                                 skip=getattr(runner, "skip", ()))
    return graph if isinstance(graph, Graph) else exe.graph


def compiled_source(exe, shapes=None, representative=False) -> str | None:
    compile_now(exe, shapes, representative)
    source = getattr(exe, "source", None)
    return source or None
