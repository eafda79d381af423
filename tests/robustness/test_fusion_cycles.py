"""Fusion never builds a cycle (found by batching random programs into one graph)."""
import graphc as gc
from graphc.passes import FUSED, run_pipeline
from graphc.testing import fuzz
from graphc.types import TensorType


def _pipeline(seeds):
    outputs, placeholders, feeds = [], [], []
    for seed in seeds:
        arrays, program = fuzz.make_program(seed, 8, 0.0)
        ps = [gc.placeholder(a.shape, gc.float64) for a in arrays]
        loss = fuzz.loss_of(fuzz.run_program(program, ps))
        outputs += [loss, *gc.grad(loss, ps)]
        placeholders += ps
        feeds += arrays
    graph = gc.compile(outputs, placeholders, target="reference").graph
    types = {x: TensorType(a.shape, x.dtype) for x, a in zip(placeholders, feeds)}
    return run_pipeline(graph, input_types=types)


def test_group_reached_through_another_group_is_not_merged():
    # seeds 19, 27 and 37 together once made fuse() raise "graph has a cycle": a path left
    # one group, entered a third group, and came back from another member of that group
    graph = _pipeline([19, 27, 37])
    assert any(n.op is FUSED for n in graph.nodes)
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:  # still topologically ordered
        assert all(position[id(v.node)] < position[id(n)] for v in n.inputs)

