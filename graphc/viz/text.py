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
             text]  # (the executable's graph carries its updates)
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


def dump_source(obj, target="cpu", shapes=None) -> str:
    """The generated source of an executable (compiling `obj` for `target` if needed).

    Targets generate code per input shape: inputs with symbolic dims (a batch of None) get
    `shapes` ({input name or position: shape}) where given, else REPRESENTATIVE_DIM (8) for
    each symbolic dim; a first comment line says which shapes the source is for.
    """
    from .compiled import REPRESENTATIVE_DIM, input_shapes
    if not isinstance(getattr(obj, "graph", None), Graph):
        obj = Executable(as_graph(obj), target=target)
    if getattr(obj, "target", None) == "reference":
        raise UnsupportedError("target 'reference' generates no source code (it runs each "
                               "op's NumPy reference node by node); compile for target='cpu'")
    symbolic = not all(x.type.is_concrete for x in getattr(obj, "inputs", ()))
    fresh = getattr(getattr(obj, "_runner", None), "graph", None) is None
    source = compiled_source(obj, shapes, representative=True)
    if not source:
        raise UnsupportedError(f"target {getattr(obj, 'target', '?')!r} generates no source")
    source = source if isinstance(source, str) else str(source)
    if (symbolic and fresh) or shapes:
        used = ", ".join(f"{x.name or i}: {x.dtype.short}{list(s)}" for i, (x, s) in
                         enumerate(zip(obj.inputs, input_shapes(obj, shapes))))
        how = "as given" if shapes else \
            f"symbolic dims set to {REPRESENTATIVE_DIM}; choose with --shape NAME=D0,D1,..."
        source = f"# source generated for the inputs {used} ({how})\n{source}"
    return source


__all__ = ["dump", "dump_passes", "dump_source", "as_graph"]
