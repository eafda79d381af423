"""Text dumps: the typed IR of a graph or executable, the graph after each compiler pass,
the generated source of a compiled executable, an eager tensor's tape."""
from __future__ import annotations

from ..compile import Executable
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.graph import Graph, Value, format_graph, value_names
from .compiled import compiled_source


def as_graph(obj) -> Graph:
    """A Graph from a Graph, an executable (its graph) or symbolic outputs."""
    if isinstance(obj, Graph):
        return obj
    if isinstance(getattr(obj, "graph", None), Graph):
        return obj.graph
    if isinstance(obj, Value):
        return Graph.from_outputs([obj])
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(v, Value) for v in obj):
        return Graph.from_outputs(list(obj))
    raise TypeError(f"expected a Graph, symbolic outputs or a compiled Executable, got "
                    f"{type(obj).__name__}")


def _is_tape(obj):
    return isinstance(obj, Tensor) or (isinstance(obj, (list, tuple)) and obj
                                       and all(isinstance(t, Tensor) for t in obj))


def dump(obj, locations=False) -> str:
    """Readable typed IR, one node a line (`locations`: the user's line of each node).

    An executable also lists its variable updates and fusion groups; an eager tensor prints
    its tape.
    """
    if _is_tape(obj):
        from .tape import format_tape
        return format_tape([obj] if isinstance(obj, Tensor) else list(obj))
    graph = as_graph(obj)
    text = format_graph(graph, locations=locations)
    if graph is obj or not hasattr(obj, "graph"):
        return text
    names = value_names(graph)
    lines = [f"# executable, target {getattr(obj, 'target', '?')!r}: {len(graph.nodes)} nodes",
             text]
    updates = getattr(obj, "updates", ())
    if updates:
        lines.append("updates {")
        lines += [f"  {names[var]} <- {names[new]}" for var, new in updates]
        lines.append("}")
    by_id = {n.id: n for n in graph.nodes}
    groups = getattr(obj, "fusion_groups", None) or ()
    if groups:
        lines.append("fusion groups {")
        for k, group in enumerate(groups):
            members = [by_id.get(getattr(m, "id", m)) for m in getattr(group, "nodes", group)]
            outs = [names[n.outputs[0]] for n in members if n is not None]
            name = getattr(group, "name", None) or f"kernel {k}"
            lines.append(f"  {name}: " + ", ".join(outs))
        lines.append("}")
    return "\n".join(lines)


def dump_passes(obj) -> str:
    """The graph after each compiler pass, each under a one-line summary of what it changed."""
    graph = as_graph(obj)
    try:
        from ..passes import run_pipeline
    except ImportError:
        return ("# the compiler passes (graphc.passes) are not available in this installation:"
                " showing the input graph only\n" + format_graph(graph))
    _, records = run_pipeline(graph, record=True, updates=list(getattr(obj, "updates", ())))
    parts = ["== input ==", format_graph(graph)]
    for i, (name, summary, text) in enumerate(records, 1):
        parts += [f"== pass {i}: {name} -- {summary} ==", text]
    return "\n".join(parts)


def dump_source(obj, target="cpu") -> str:
    """The generated source of an executable (compiling `obj` for `target` if needed)."""
    if not isinstance(getattr(obj, "graph", None), Graph):
        graph = as_graph(obj)
        obj = Executable(graph.outputs, graph.inputs, target=target)
    source = compiled_source(obj)
    if not source:
        if getattr(obj, "target", None) == "reference":
            raise UnsupportedError("target 'reference' generates no source code (it runs each "
                                   "op's NumPy reference node by node); compile for target="
                                   "'cpu'")
        inputs = ", ".join(repr(x.type) for x in obj.inputs)
        raise UnsupportedError(
            f"no source yet: target {getattr(obj, 'target', '?')!r} generates it per input "
            f"shape and the inputs have symbolic dims ({inputs}); call the executable once, "
            f"or use concrete shapes")
    return source if isinstance(source, str) else str(source)


__all__ = ["dump", "dump_passes", "dump_source", "as_graph"]
