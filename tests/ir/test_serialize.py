"""Graph JSON: round trips, version checks, malformed and hostile files."""
import json

import numpy as np
import pytest

import graphc as gc
from graphc.ir.graph import value_names


def _graph():
    a = gc.placeholder((None, 2), name="a")
    w = gc.variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    loss = gc.tanh(a @ w + 1.5)[:, 1:].logsumexp(1).mean()
    return a, w, loss, gc.grad(loss, w)


def test_round_trip_runs_identically(tmp_path):
    a, w, loss, g = _graph()
    path = tmp_path / "g.json"
    gc.save_graph([loss, g], path)
    loaded = gc.load_graph(path)
    assert str(loaded) == str(gc.Graph.from_outputs([loss, g], [a]))
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    want = [r.numpy() for r in gc.compile([loss, g], [a], target="reference")(x)]
    got = [r.numpy() for r in gc.compile(loaded.outputs, loaded.inputs, target="reference")(x)]
    for u, v in zip(want, got):
        np.testing.assert_array_equal(u, v)


def test_locations_survive(tmp_path):
    a, w, loss, g = _graph()
    gc.save_graph(loss, tmp_path / "g.json")
    text = gc.load_graph(tmp_path / "g.json").format(locations=True)
    assert "test_serialize.py" in text


def _doc():
    a, w, loss, g = _graph()
    from graphc.ir.serialize import graph_to_json
    return graph_to_json(gc.Graph.from_outputs([loss]))


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(version=99), "unsupported graph format version 99"),
    (lambda d: d.update(format="other"), "not a graphc graph"),
    (lambda d: d["nodes"][1].update(op="os.system"), "unknown op 'os.system'"),
    (lambda d: d["nodes"][2].update(inputs=[[7, 0]]), "invalid value reference"),
    (lambda d: d["nodes"][1]["attrs"].update(value={"$array": {"dtype": "float32",
                                                              "shape": [100000, 100000],
                                                              "data": ""}}), "too large"),
    (lambda d: d["nodes"][1]["attrs"].update(value={"$array": {"dtype": "float32",
                                                              "shape": [10, 10],
                                                              "data": "AAAA"}}), "needs 400"),
    (lambda d: d["nodes"][1]["attrs"].update(value={"$array": {"dtype": "object", "shape": [1],
                                                              "data": ""}}), "unsupported array dtype"),
    (lambda d: d["nodes"][1]["attrs"].update(value={"$pickle": "gASV"}), "unknown attribute tag"),
    (lambda d: d.update(nodes="__import__('os')"), "'nodes' must be a list"),
])
def test_malformed_files_are_clear_errors(tmp_path, mutate, message):
    doc = _doc()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(gc.GraphFormatError, match=message):
        gc.load_graph(path)


def test_type_errors_in_file_are_caught_on_load(tmp_path):
    doc = _doc()
    matmul = next(n for n in doc["nodes"] if n["op"] == "matmul")
    matmul["inputs"] = [matmul["inputs"][1], matmul["inputs"][1]]  # w @ w: [2, 3] @ [2, 3]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(gc.GraphFormatError, match="matmul"):
        gc.load_graph(tmp_path / "bad.json")


def test_not_json(tmp_path):
    (tmp_path / "x.json").write_bytes(b"\x80\x04garbage")
    with pytest.raises(gc.GraphFormatError):
        gc.load_graph(tmp_path / "x.json")


def test_gradient_nodes_stay_marked(tmp_path):
    from graphc.autodiff import GradientLocation
    a, w, loss, g = _graph()
    gc.save_graph([loss, g], tmp_path / "g.json")
    loaded = gc.load_graph(tmp_path / "g.json")
    marked = [isinstance(n.location, GradientLocation) for n in loaded.nodes]
    original = [isinstance(n.location, GradientLocation)
                for n in gc.Graph.from_outputs([loss, g], [a]).nodes]
    assert marked == original and any(marked) and not all(marked)


# ---- a training step: inputs, outputs, updates and the variables' values survive -----------------
def _training_step():
    from graphc import nn, optim
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = gc.placeholder((None, 3), name="x"), gc.placeholder((None, 1), name="y")
    loss = ((model(x) - y) ** 2).mean()
    return gc.compile(loss, inputs=[x, y], updates={**opt.updates(loss),
                                                    **model.buffer_updates()},
                      target="reference")


def test_a_saved_training_step_reloads_and_trains_identically(tmp_path):
    step = _training_step()
    gc.save_graph(step, tmp_path / "step.json")  # saved before it ran: the initial values
    loaded = gc.load_graph(tmp_path / "step.json")
    assert len(loaded.updates) == len(step.updates) and "updates {" in str(loaded)
    assert [v.name for v in loaded.inputs] == ["x", "y"]
    again = gc.compile(loaded, target="reference")  # a Graph: its inputs, outputs and updates
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)).astype(np.float32), np.ones((5, 1), np.float32)
    for _ in range(3):  # Adam's moments, step count and dropout's seed advance alike
        assert again(x, y)[0].item() == step(x, y).item()  # (a graph returns a list)
    for (var, _), (var2, _) in zip(step.updates, again.updates):
        np.testing.assert_array_equal(var2.node.attrs["storage"].detach().numpy(),
                                      var.node.attrs["storage"].detach().numpy())


def test_version_1_files_without_updates_still_load():
    doc = _doc()
    assert doc["version"] == 2 and doc["updates"] == []
    del doc["updates"]
    doc["version"] = 1
    from graphc.ir.serialize import graph_from_json
    graph = graph_from_json(doc)
    assert graph.updates == [] and len(graph.outputs) == 1


@pytest.mark.parametrize("updates, message", [
    ({"a": 1}, "must be a list"),
    ([[[0, 0]]], "must be a \\[variable, new value\\] pair"),
    ([[[0, 0], [0, 0]]], "writes to a placeholder, not a variable"),
])
def test_malformed_updates_are_format_errors(updates, message):
    doc = _doc()
    doc["updates"] = updates
    from graphc.ir.serialize import graph_from_json
    with pytest.raises(gc.GraphFormatError, match=message):
        graph_from_json(doc)


def test_gradients_of_variables_stay_tagged(tmp_path):
    a, w, loss, g = _graph()
    assert g.grad_of == (w,) and loss.grad_of == ()
    gc.save_graph([loss, g], tmp_path / "g.json")
    loaded = gc.load_graph(tmp_path / "g.json")
    variable = [n.outputs[0] for n in loaded.nodes if n.op.name == "variable"][0]
    assert loaded.outputs[1].grad_of == (variable,) and loaded.outputs[0].grad_of == ()
    text = str(loaded)  # the graph text shows them too
    names = value_names(loaded)
    assert text.endswith(f"gradients {{\n  grad {names[variable]} = {names[loaded.outputs[1]]}\n}}")


@pytest.mark.parametrize("gradients, message", [
    ({"a": 1}, "must be a list"),
    ([[[1, 0]]], "must be a \\[variable, gradient\\] pair"),
    ([[[0, 0], [1, 0]]], "is the gradient of a placeholder, not a variable"),
    ([[[1, 0], [0, 0]]], "variable 'w' is f32\\[2, 3\\], its gradient f32\\[\\?, 2\\]"),
])
def test_malformed_gradients_are_format_errors(gradients, message):
    doc = _doc()
    assert [n["op"] for n in doc["nodes"][:2]] == ["placeholder", "variable"]
    doc["gradients"] = gradients
    from graphc.ir.serialize import graph_from_json
    with pytest.raises(gc.GraphFormatError, match=message):
        graph_from_json(doc)
