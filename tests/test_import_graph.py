"""The import graph of graphc, read from the source with ast (nothing is imported).

An edge A -> B means module A imports B, at module level or inside a function (a deferred
import is still a dependency: the layering of docs/architecture.md is about both). The
eager core (graphc.eager, graphc.dispatch, graphc.autodiff, graphc.debug and the storage
layer graphc.storage) must import nothing that imports it back, and must not import a
compile target (graphc.backends) to move or run data.
"""
import ast
import os

import networkx as nx
import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "graphc")

# the units of the eager core; a package counts as one unit
CORE = ["graphc.eager", "graphc.dispatch", "graphc.autodiff", "graphc.debug", "graphc.storage"]


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _modules():
    found = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                found[_module_name(path)] = path
    return found


def _is_module(name, modules):
    return name in modules


def import_graph(include_deferred=True):
    """networkx DiGraph of graphc modules. Edges to a module's own parent packages (which
    Python imports first anyway) are left out."""
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not include_deferred and id(node) not in top:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1])
                    source = base + ("." + node.module if node.module else "")
                else:
                    source = node.module or ""
                for alias in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if _is_module(sub, modules) else source)
            for target in targets:
                if target in modules and target != name and not name.startswith(target + "."):
                    graph.add_edge(name, target)
    return graph


def _unit(module):
    for unit in CORE:
        if module == unit or module.startswith(unit + "."):
            return unit
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert graph.has_edge("graphc.dispatch", "graphc.eager.tensor")
    assert graph.has_edge("graphc.eager.autograd", "graphc.autodiff")
    assert graph.number_of_edges() > 100


@pytest.mark.parametrize("include_deferred", [False, True], ids=["module level", "all imports"])
def test_no_cycles_among_the_eager_core(include_deferred):
    """eager, dispatch, autodiff, debug and storage, each package taken as one unit."""
    units = nx.DiGraph()
    units.add_nodes_from(CORE)
    for a, b in import_graph(include_deferred).edges:
        ua, ub = _unit(a), _unit(b)
        if ua and ub and ua != ub:
            units.add_edge(ua, ub, example=f"{a} -> {b}")
    cycles = list(nx.simple_cycles(units))
    described = [" -> ".join(c + [c[0]]) + " (" + "; ".join(
        units.edges[c[i], c[(i + 1) % len(c)]]["example"] for i in range(len(c))) + ")"
        for c in cycles]
    assert not cycles, "import cycles in the eager core:\n" + "\n".join(described)


def test_no_module_level_cycles_in_graphc():
    cycles = list(nx.simple_cycles(import_graph(include_deferred=False)))
    assert not cycles, cycles[:5]


def test_the_eager_core_does_not_import_a_compile_target():
    bad = [(a, b) for a, b in import_graph().edges
           if _unit(a) and b.startswith(("graphc.backends", "graphc.lower"))]
    assert not bad, bad


def test_storage_is_below_eager_and_dispatch():
    bad = [(a, b) for a, b in import_graph().edges
           if a.startswith("graphc.storage") and _unit(b) in ("graphc.eager", "graphc.dispatch",
                                                               "graphc.autodiff")]
    assert not bad, bad
