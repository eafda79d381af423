import re
import shutil
import subprocess

import numpy as np
import pytest

import graphc as gc
from graphc import viz
from graphc.errors import GraphcError
from graphc.viz import engines as render
from graphc.viz.picture import BOX_STYLES

from conftest import build_step

PNG = b"\x89PNG\r\n\x1a\n"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


def boxes_of(dot):
    return dict(re.findall(r"^\s*(?!graph )(\w+) \[label=\"((?:[^\"\\]|\\.)*)\"", dot, re.M))


def arrows_of(dot):
    return re.findall(r"^\s*(\w+) -> (\w+)", dot, re.M)


def test_dot_has_every_node_and_every_use(step_exe):
    graph = step_exe.graph
    dot = viz.draw(step_exe).dot
    boxes = boxes_of(dot)
    for node in graph.nodes:
        assert f"n{node.id}" in boxes
    uses = sum(len(n.inputs) for n in graph.nodes)
    arrows = arrows_of(dot)
    assert len(arrows) == uses + len(step_exe.updates)
    assert {f"u{var.node.id}" for var, _ in step_exe.updates} <= set(boxes)
    assert dot.count("style=dashed") == len(step_exe.updates)  # the update arrows


def test_gradient_nodes_are_styled_apart_from_the_forward():
    x, w, b, loss, gw, gb = build_step()
    graph = gc.Graph.from_outputs([loss, gw, gb])
    forward = {n.id for n in gc.Graph.from_outputs([loss]).nodes}
    dot = viz.draw(graph).dot
    grad_fill = BOX_STYLES["grad"]["fill"]
    for node in graph.nodes:
        line = next(l for l in dot.splitlines() if l.strip().startswith(f"n{node.id} ["))
        assert (grad_fill in line) == (node.id not in forward and not node.is_leaf), line
        assert viz.is_gradient(node) == (node.id not in forward and node.op.name != "variable")


def test_outputs_have_a_double_border_and_leaves_their_styles():
    graph = gc.Graph.from_outputs([build_step()[3]])
    dot = viz.draw(graph).dot
    out = graph.outputs[0].node
    assert re.search(rf"n{out.id} \[.*peripheries=2", dot)
    assert dot.count("peripheries=2") == 1
    assert dot.count(BOX_STYLES["variable"]["fill"]) == 2
    assert dot.count("shape=ellipse") == 1  # the placeholder


def test_labels_are_escaped_in_dot():
    x = gc.placeholder((2,), name='say "hi" \\ bye\nnow')
    dot = viz.draw(gc.exp(x)).dot
    assert r'label="say \"hi\" \\ bye\nnow\nf32[2]"' in dot


def test_fusion_groups_become_clusters():
    x, w, b, loss, gw, gb = build_step()
    graph = gc.Graph.from_outputs([loss])
    chain = [n for n in graph.nodes if n.op.name in ("add", "tanh", "square")]

    class Compiled:  # the interface a compiled target offers (see graphc/viz/picture.py)
        target = "test"
        updates = ()
        fusion_groups = [[n.id for n in chain], [graph.nodes[-1]]]  # ids or nodes
        buffer_of = {chain[0].outputs[0]: 0, chain[1].outputs[0]: 1, chain[2].outputs[0]: 0}
    Compiled.graph = graph
    dot = viz.draw(Compiled()).dot
    assert dot.count("subgraph cluster_") == 1  # a one-node group is no cluster
    cluster = dot[dot.index("subgraph cluster_k0"):dot.index("  }")]
    assert "kernel 0 (3 ops)" in cluster
    assert set(boxes_of(cluster)) == {f"n{n.id}" for n in chain}
    assert "buf 0 (reused)" in boxes_of(dot)[f"n{chain[0].id}"]
    assert "buf 1" in boxes_of(dot)[f"n{chain[1].id}"]
    assert "reused" not in boxes_of(dot)[f"n{chain[1].id}"]


def test_fused_nodes_of_a_compiled_graph_are_drawn_as_their_ops():
    fusion = pytest.importorskip("graphc.passes.fusion")
    memory = pytest.importorskip("graphc.passes.memory")
    from graphc.passes.specialize import specialize
    x = gc.placeholder((4, 3), name="x")
    w = gc.variable(np.ones(3, np.float32), name="w")
    loss = (gc.tanh(x * w) + 1).sum()
    new_w = w * 2
    graph = gc.Graph.from_outputs([loss, new_w])
    graph.outputs = [loss]
    compiled = memory.plan_memory(fusion.fuse(specialize(graph, updates=[(w, new_w)])))
    fused = [n for n in compiled.nodes if n.op.name == "fused"]
    assert fused

    class Exe:
        target = "cpu"
        compiled_graph = compiled
    Exe.graph = graph
    dot = viz.draw(Exe()).dot
    boxes = boxes_of(dot)
    inner = [n for f in fused for n in f.attrs["group"].nodes]
    assert all(f"n{n.id}" in boxes for n in inner)
    assert not any(f"n{f.id}" in boxes for f in fused)
    assert dot.count("subgraph cluster_") == sum(len(f.attrs["group"].nodes) > 1 for f in fused)
    assert any("in place" in label for label in boxes.values())  # w <- w * 2 is in place
    sources = {a for a, _ in arrows_of(dot)}
    assert sources <= set(boxes)


def test_tape_picture_names_grad_fns_and_shows_leaves(eager_loss):
    dot = viz.draw(eager_loss).dot
    labels = list(boxes_of(dot).values())
    assert labels.count("MatmulBackward0") == 1 and "MeanBackward0" in labels
    assert r"w\n[2, 3]" in labels  # the leaf that requires grad, not the constant input
    assert len(labels) == 6 and len(arrows_of(dot)) == 5
    assert dot.count(BOX_STYLES["tape_leaf"]["fill"]) == 1


def test_tape_leaves_are_named_by_params():
    w = gc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    loss = (gc.ones(1, 2) @ w).sum()
    labels = boxes_of(viz.draw(loss, params={"layer.weight": w}).dot).values()
    assert r"layer.weight\n[2, 3]" in labels


def test_tape_freed_by_backward_cannot_be_drawn(eager_loss):
    eager_loss.backward()
    with pytest.raises(GraphcError, match="freed by backward"):
        viz.draw(eager_loss)


def test_tensor_without_grad_has_no_tape():
    with pytest.raises(GraphcError, match="does not require grad"):
        viz.draw(gc.ones(2) * 2)


def test_collapse_makes_one_box_per_source_line(step_exe):
    full = viz.draw(step_exe).picture
    small = viz.draw(step_exe, collapse=True).picture
    assert len(small.boxes) < len(full.boxes) / 2
    groups = [b for b in small.boxes.values() if b.style in ("collapsed", "grad")]
    assert len(groups) == 3  # the forward line, the grad line, the update line
    assert any("gc.grad(loss, [w, b])" in b.label and b.style == "grad" for b in groups)
    keys = set(small.boxes)
    assert all(a.src in keys and a.dst in keys and a.src != a.dst for a in small.arrows)
    merged = [b for b in small.boxes.values() if b.style == "update"]
    assert len(merged) == 1 and merged[0].label.startswith("update 2 variables\nw, b")
    assert not any(b.style == "constant" for b in small.boxes.values())  # inside their groups


def test_matplotlib_fallback_draws_png_and_svg(step_exe, tmp_path):
    drawing = viz.draw(step_exe, engine="matplotlib")
    assert drawing.render("png").startswith(PNG)
    drawing.save(tmp_path / "step.svg")
    assert b"<svg" in (tmp_path / "step.svg").read_bytes()[:400]


def test_fallback_is_forced_by_the_environment(monkeypatch, eager_loss, tmp_path):
    monkeypatch.setenv("GRAPHC_VIZ_ENGINE", "matplotlib")
    assert render.choose_engine() == "matplotlib"
    drawing = viz.draw(eager_loss, tmp_path / "tape.png")
    assert (tmp_path / "tape.png").read_bytes().startswith(PNG)
    assert drawing._repr_svg_() is None and drawing._repr_png_().startswith(PNG)


def test_asking_for_graphviz_without_it_is_a_clear_error(monkeypatch, eager_loss):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    assert render.choose_engine() == "matplotlib"
    with pytest.raises(GraphcError, match="not installed"):
        viz.draw(eager_loss, engine="graphviz").render("svg")


@needs_dot
def test_graphviz_draws_png_svg_and_accepts_the_dot(step_exe, tmp_path):
    drawing = viz.draw(step_exe, collapse=True)
    drawing.save(tmp_path / "step.png")
    assert (tmp_path / "step.png").read_bytes().startswith(PNG)
    svg = drawing._repr_svg_()
    assert "<svg" in svg and drawing._repr_png_() is None
    check = subprocess.run(["dot", "-Tcanon"], input=viz.draw(step_exe).dot.encode(),
                           capture_output=True)
    assert check.returncode == 0, check.stderr


def test_draw_writes_dot_by_suffix_and_rejects_unknown_ones(step_exe, tmp_path):
    viz.draw(step_exe, tmp_path / "step.dot")
    assert (tmp_path / "step.dot").read_text().startswith("digraph graphc {")
    with pytest.raises(ValueError, match="picture format"):
        viz.draw(step_exe, tmp_path / "step.txt")


def test_draw_rejects_what_it_cannot_draw():
    with pytest.raises(TypeError, match="cannot draw a int"):
        viz.draw(3)


def test_collapse_draws_one_box_per_module():
    from graphc import nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    out = model(gc.placeholder((None, 4), name="x")).sum()
    dot = viz.draw(gc.Graph.from_outputs([out]), collapse=True).dot
    assert 'label="Sequential.0\\n' in dot and 'label="Sequential.2\\n' in dot
