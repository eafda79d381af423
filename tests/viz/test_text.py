import numpy as np
import pytest

import graphc as gc
import graphc.passes
from graphc import viz
from graphc.errors import UnsupportedError


def small_graph():
    x = gc.placeholder((None, 2), name="x")
    w = gc.variable(np.ones((2, 3), np.float32), name="w")
    y = gc.relu(x @ w) * 2.0
    return gc.Graph.from_outputs([y.sum()])


EXPECTED = """\
graph(%x: f32[?, 2]) {
  %w = variable('w') : f32[2, 3]
  %0 = matmul(%x, %w) : f32[?, 3]
  %1 = relu(%0) : f32[?, 3]
  %2 = constant(2.0) : f32[]
  %3 = mul(%1, %2) : f32[?, 3]
  %4 = sum(%3, dims=(0, 1), keepdim=False) : f32[]
  return %4
}"""


def test_dump_of_a_known_graph_is_stable_text():
    assert viz.dump(small_graph()) == EXPECTED
    assert viz.dump(small_graph()) == EXPECTED  # fresh nodes, same text


def test_dump_with_locations_names_this_file_and_line():
    text = viz.dump(small_graph(), locations=True)
    lines = text.splitlines()
    assert len(lines) == len(EXPECTED.splitlines())
    assert "# test_text.py:" in lines[3] and "gc.relu(x @ w) * 2.0" in lines[3]


def test_dump_of_an_executable_lists_its_updates(step_exe):
    text = viz.dump(step_exe)
    assert text.startswith("# executable, target 'reference'")
    updates = text[text.index("updates {"):].splitlines()
    assert updates[1].startswith("  %w <- %") and updates[2].startswith("  %b <- %")
    assert updates[3] == "}"


def test_dump_of_an_eager_tensor_prints_its_tape(eager_loss):
    assert viz.dump(eager_loss) == """\
tape(%in0: f32[4, 2], %w: f32[2, 3] (requires grad)) {
  %0 = matmul(%in0, %w) : f32[4, 3]                         # MatmulBackward0
  %1 = tanh(%0) : f32[4, 3]                                 # TanhBackward0
  %2 = square(%1) : f32[4, 3]                               # SquareBackward0
  %3 = mean(%2) : f32[]                                     # MeanBackward0
  return %3
}"""


def test_dump_passes_shows_each_pass_with_its_summary(monkeypatch):
    def fake_pipeline(graph, record=False, updates=None):
        assert record
        return graph, [("simplify", "folded 1 constant", "graph() {}"),
                       ("fuse", "2 kernels", "graph() { fused }")]
    monkeypatch.setattr(graphc.passes, "run_pipeline", fake_pipeline, raising=False)
    text = viz.dump_passes(small_graph())
    assert text.splitlines()[0] == "== input =="
    assert "== pass 1: simplify -- folded 1 constant ==\ngraph() {}" in text
    assert text.endswith("== pass 2: fuse -- 2 kernels ==\ngraph() { fused }")


def test_dump_passes_without_a_pipeline_says_so(monkeypatch):
    monkeypatch.delattr(graphc.passes, "run_pipeline", raising=False)
    text = viz.dump_passes(small_graph())
    assert text.startswith("# the compiler passes")
    assert text.endswith(EXPECTED)


def test_dump_source_needs_a_generating_target(step_exe):
    with pytest.raises(UnsupportedError, match="reference"):
        viz.dump_source(step_exe)

    class WithSource:
        graph, target, source = small_graph(), "cpu", "def program(x):\n    pass\n"
    assert viz.dump_source(WithSource()) == WithSource.source


def test_dump_rejects_other_objects():
    with pytest.raises(TypeError, match="expected a Graph"):
        viz.dump(42)
