"""Compiler passes over a graph specialized to concrete shapes.

Each pass is a function graph -> graph, in PIPELINE order. `run_pipeline` runs them on a
private copy (the user's graph is never modified) and can record the graph text after each
pass with a one-line summary, which `graphc dump --passes` prints.
"""
from __future__ import annotations

from collections import Counter

from ..ir.verify import verify_if_enabled
from .cleanup import cse, dce
from .fusion import FUSED, FusedGroup, fuse
from .memory import plan_memory
from .schedule import schedule_collectives
from .simplify import simplify
from .specialize import require_concrete, specialize

PIPELINE = [
    ("simplify", simplify),
    ("cse", cse),
    ("dce", dce),
    ("fuse", fuse),
    ("schedule_collectives", schedule_collectives),
    ("plan_memory", plan_memory),
]

# Passes that rewrite; fusion and memory planning can be switched off for comparisons.
OPTIONAL = ("simplify", "cse", "fuse")


def _census(graph):
    return Counter(n.op.name for n in graph.nodes)


def _summary(name, before, after, graph):
    if name == "plan_memory":
        return graph.memory.summary() if hasattr(graph, "memory") else "skipped"
    if name == "fuse":
        groups = [n.attrs["group"] for n in graph.nodes if n.op is FUSED]
        fused = sum(len(g.nodes) for g in groups)
        return f"{fused} nodes into {len(groups)} fused kernels"
    removed = before - after
    added = after - before
    parts = [graph.pass_note] if getattr(graph, "pass_note", "no change") != "no change" else []
    if removed:
        parts.append("removed " + ", ".join(f"{k} x{c}" for k, c in sorted(removed.items())))
    if added:
        parts.append("added " + ", ".join(f"{k} x{c}" for k, c in sorted(added.items())))
    return "; ".join(parts) or "no change"


def run_pipeline(graph, record=False, input_types=None, updates=None, skip=()):
    """Run PIPELINE on a specialized copy of `graph`.

    input_types: {placeholder: TensorType} to specialize symbolic dims; updates: (variable,
    new value) pairs kept alive and planned (default: graph.updates if any); skip: names of
    OPTIONAL passes to leave out. Returns the new graph, or (graph, [(pass, summary, text)])
    with record=True.
    """
    if updates is None:
        updates = getattr(graph, "updates", [])
    graph = verify_if_enabled(specialize(graph, input_types, updates), "specialize")
    log = [("specialize", f"{len(graph.nodes)} nodes", graph.format())] if record else None
    concrete = all(v.type.is_concrete for n in graph.nodes for v in n.outputs)
    for name, fn in PIPELINE:
        if name in skip or (name == "plan_memory" and not concrete):
            if record:
                why = "switched off" if name in skip else \
                    "the shapes are symbolic: memory is planned per concrete input shape"
                log.append((name, f"skipped ({why})", graph.format()))
            continue
        before = _census(graph) if record else None
        graph = verify_if_enabled(fn(graph), name)
        if record:
            log.append((name, _summary(name, before, _census(graph), graph), graph.format()))
    return (graph, log) if record else graph


__all__ = ["PIPELINE", "run_pipeline", "specialize", "require_concrete", "simplify", "cse",
           "dce", "fuse", "plan_memory", "FUSED", "FusedGroup"]
