"""graphc.ir.verify: each broken invariant is caught and named; the pipeline verifies every
pass under GRAPHC_VERIFY=1 (set for the whole suite in tests/conftest.py)."""
import numpy as np
import pytest

import graphc as gc
from graphc import passes
from graphc.ir.graph import Graph, Node
from graphc.ir.verify import GraphVerificationError, enabled, verify
from graphc.ops import elementwise as E
from graphc.types import TensorType


def _graph():
    x = gc.placeholder((2, 3), gc.float64, name="x")
    y = gc.exp(x) * 2.0
    return Graph.from_outputs([y.sum(1)]), x


def test_a_built_graph_and_every_pass_result_verify():
    g, x = _graph()
    assert verify(g) is g
    assert enabled()  # the suite runs with GRAPHC_VERIFY=1
    _, log = passes.run_pipeline(g, record=True)
    assert [name for name, _, _ in log] == ["specialize"] + [n for n, _ in passes.PIPELINE]


def test_nodes_out_of_order_are_caught():
    g, _ = _graph()
    g.nodes = g.nodes[::-1]
    with pytest.raises(GraphVerificationError, match="later node .not topological order"):
        verify(g)


def test_an_input_from_outside_the_graph_is_caught():
    g, _ = _graph()
    stray = gc.placeholder((2, 3), gc.float64)
    g.nodes[-1].inputs = (stray,)
    with pytest.raises(GraphVerificationError, match="not in the graph"):
        verify(g)


def test_a_dangling_output_and_update_are_caught():
    g, _ = _graph()
    g.outputs.append(gc.placeholder((1,)))
    with pytest.raises(GraphVerificationError, match="graph output .* is computed by no node"):
        verify(g)
    g, _ = _graph()
    w = gc.variable(np.zeros(3), name="w")
    g.updates = [(w, g.outputs[0])]
    with pytest.raises(GraphVerificationError, match="update of .*its variable"):
        verify(g)


def test_a_recorded_type_the_rule_disagrees_with_is_caught():
    g, x = _graph()
    bad = Node(E.exp, (x,), {}, [TensorType((3, 2), gc.float64)])
    g.nodes.insert(1, bad)
    with pytest.raises(GraphVerificationError, match=r"exp .*records output types \[f64\[3, 2\]\]"
                                                     r", but its type rule gives \[f64\[2, 3\]\]"):
        verify(g)


def test_a_type_rule_that_rejects_the_inputs_is_caught():
    g, x = _graph()
    y = gc.placeholder((4,), gc.float64)
    g.nodes.insert(0, y.node)
    g.nodes.append(Node(E.add, (x, y), {}, [TensorType((2, 3), gc.float64)]))
    with pytest.raises(GraphVerificationError, match="type rule rejects its inputs"):
        verify(g)


def test_a_pass_that_breaks_the_graph_is_named(monkeypatch):
    def drop_first_real_node(graph):
        graph.nodes = [n for n in graph.nodes if n.op.name != "exp"]
        return graph
    monkeypatch.setattr(passes, "PIPELINE", [("drop_exp", drop_first_real_node)])
    g, _ = _graph()
    with pytest.raises(GraphVerificationError, match="after pass 'drop_exp'"):
        passes.run_pipeline(g)
    monkeypatch.setenv("GRAPHC_VERIFY", "0")  # off: the broken graph goes through unchecked
    passes.run_pipeline(g)
