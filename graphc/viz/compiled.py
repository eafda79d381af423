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


def compile_now(exe) -> bool:
    """Make a lazily compiling target compile for the inputs' shapes (without running).

    Returns False when it cannot: no such target, or symbolic dims whose sizes are known
    only at a call.
    """
    runner = _runner(exe)
    if runner is None or not hasattr(runner, "program"):
        return False
    if getattr(runner, "graph", None) is not None:
        return True
    types = [x.type for x in exe.inputs]
    if not all(t.is_concrete for t in types):
        return False
    runner.program([np.zeros(t.shape, t.dtype.np) for t in types])
    return True


def compiled_graph(exe) -> Graph:
    """The graph an executable runs after the passes (else the graph it was given)."""
    graph = getattr(exe, "compiled_graph", None)
    runner = _runner(exe)
    if graph is None and runner is not None and hasattr(runner, "program"):
        if compile_now(exe):
            graph = runner.graph
        else:  # symbolic dims: the same passes, without shapes (no memory plan)
            from ..passes import run_pipeline
            graph = run_pipeline(exe.graph, updates=list(exe.updates),
                                 skip=getattr(runner, "skip", ()))
    return graph if isinstance(graph, Graph) else exe.graph


def compiled_source(exe) -> str | None:
    compile_now(exe)
    source = getattr(exe, "source", None)
    return source or None
