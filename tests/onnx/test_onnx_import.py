"""graphc.onnx.load: round trips (export -> load -> compile) reproduce outputs and gradients,
imported models fine-tune, and what cannot be loaded says which op, node and opset."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402

import graphc as gc  # noqa: E402
import graphc.onnx  # noqa: E402
from graphc import nn  # noqa: E402
from graphc.cli import main as cli  # noqa: E402
from graphc.errors import UnsupportedError  # noqa: E402


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = gc.nn.functional.max_pool2d(gc.relu(self.norm(self.conv(x))), 2)
        x = gc.nn.functional.layer_norm(gc.flatten(x, 1), (36,))
        return gc.log_softmax(self.fc(x), 1)


@pytest.fixture(scope="module")
def cnn():
    gc.manual_seed(3)
    model = SmallCNN()
    model.eval()
    x = np.random.default_rng(3).standard_normal((2, 1, 6, 6)).astype(np.float32)
    return model, x


def _round_trip(model, x, tmp_path):
    path = tmp_path / "model.onnx"
    graphc.onnx.export(model, (x,), str(path), input_names=["x"],
                       dynamic_axes={"x": {0: "batch"}})
    return graphc.onnx.load(str(path))


def _eager_grads(model, x, weights):
    for p in model.parameters():
        p.grad = None
    out = model(gc.tensor(x))
    (out * gc.tensor(weights)).sum().backward()
    return out.detach().numpy(), {n: p.grad.numpy() for n, p in model.named_parameters()}


def _mlp():
    gc.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 6), nn.GELU(), nn.Linear(6, 5))
    return model, np.random.default_rng(5).standard_normal((2, 3)).astype(np.float32)


# the CNN on the reference target; a small MLP on cpu (a Numba compile of the CNN's forward
# and backward costs ~10 s: conv and pooling gradients on cpu are tested in tests/ops)
@pytest.mark.parametrize("which, target", [("cnn", "reference"), ("mlp", "cpu")])
def test_round_trip_reproduces_outputs_and_gradients(cnn, tmp_path, which, target):
    if target == "cpu":
        pytest.importorskip("numba")
    model, x = cnn if which == "cnn" else _mlp()
    graph = _round_trip(model, x, tmp_path)
    assert graph.inputs[0].shape[0] == "batch"
    (y,) = graph.outputs
    weights = np.random.default_rng(4).standard_normal(5).astype(np.float32)
    loss = (y * weights).sum()
    variables = graph.variables
    grads = gc.grad(loss, variables)
    exe = gc.compile([y] + list(grads), graph.inputs, target=target)
    results = exe(x)
    want_out, want_grads = _eager_grads(model, x, weights)
    np.testing.assert_allclose(results[0].numpy(), want_out, rtol=1e-5, atol=1e-5)
    by_name = {v.name: g.numpy() for v, g in zip(variables, results[1:])}
    assert set(want_grads) <= set(by_name)  # and BatchNorm's running statistics
    for name, g in want_grads.items():
        np.testing.assert_allclose(by_name[name], g, rtol=1e-4, atol=1e-5, err_msg=name)


def test_imported_model_runs_any_batch(cnn, tmp_path):
    model, x = cnn
    graph = _round_trip(model, x, tmp_path)
    exe = gc.compile(graph.outputs, graph.inputs)
    bigger = np.concatenate([x, x, x])
    np.testing.assert_allclose(exe(bigger)[0].numpy(), model(gc.tensor(bigger)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_imported_model_fine_tunes(tmp_path):
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    target = np.array([[0], [1], [1], [0]], np.float32)
    graph = _round_trip(model, x, tmp_path)
    t = gc.placeholder((None, 1), name="t")
    loss = gc.square(graph.outputs[0] - t).mean()
    params = graph.variables
    updates = {p: p - 0.2 * g for p, g in zip(params, gc.grad(loss, params))}
    step = gc.compile(loss, [graph.inputs[0], t], updates=updates)
    first = step(x, target).item()
    for _ in range(200):
        last = step(x, target).item()
    assert last < first * 0.5


def _model(nodes, inputs, outputs, initializers=(), opset=18):
    g = helper.make_graph(nodes, "m", inputs, outputs, initializer=list(initializers))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _info(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def test_unsupported_op_names_op_node_and_opset():
    m = _model([helper.make_node("Unique", ["x"], ["y"], name="dedupe")],
               [_info("x", TensorProto.FLOAT, [3])], [_info("y", TensorProto.FLOAT, [None])],
               opset=17)
    with pytest.raises(UnsupportedError, match=r"'dedupe' \(Unique, opset 17\)"):
        graphc.onnx.load(m)


def test_unsupported_attribute_is_an_error():
    m = _model([helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=1)],
               [_info("x", TensorProto.FLOAT, [2, 2]), _info("i", TensorProto.INT64, [2, 1])],
               [_info("y", TensorProto.FLOAT, [2])])
    with pytest.raises(UnsupportedError, match="batch_dims"):
        graphc.onnx.load(m)


def test_shape_from_a_graph_input_must_be_bound():
    m = _model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
               [_info("x", TensorProto.FLOAT, [2, 3]), _info("shape", TensorProto.INT64, [2])],
               [_info("y", TensorProto.FLOAT, [3, 2])])
    with pytest.raises(graphc.onnx.StaticInputNeeded, match="'shape'"):
        graphc.onnx.load(m)
    graph = graphc.onnx.load(m.SerializeToString(), constants={"shape": np.array([3, 2])})
    assert [p.name for p in graph.inputs] == ["x"]
    out = gc.compile(graph.outputs, graph.inputs)(np.arange(6, dtype=np.float32).reshape(2, 3))[0]
    np.testing.assert_array_equal(out.numpy(), np.arange(6).reshape(3, 2))


def test_dtypes_graphc_lacks_are_refused():
    m = _model([helper.make_node("Identity", ["x"], ["y"])],
               [_info("x", TensorProto.BFLOAT16, [2])], [_info("y", TensorProto.BFLOAT16, [2])])
    with pytest.raises(UnsupportedError, match="BFLOAT16"):
        graphc.onnx.load(m)


def test_initializers_become_variables_or_constants():
    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    k = helper.make_tensor("k", TensorProto.INT64, [1], [2])
    m = _model([helper.make_node("Mul", ["x", "w"], ["a"]),
                helper.make_node("Tile", ["a", "k"], ["y"])],
               [_info("x", TensorProto.FLOAT, [2])], [_info("y", TensorProto.FLOAT, [4])],
               [w, k])
    graph = graphc.onnx.load(m)
    assert [v.name for v in graph.variables] == ["w"]
    assert graphc.onnx.load(m, trainable=False).variables == []
    out = gc.compile(graph.outputs, graph.inputs)(np.array([3, 4], np.float32))[0]
    np.testing.assert_array_equal(out.numpy(), [3, 8, 3, 8])


def test_missing_and_damaged_files(tmp_path):
    with pytest.raises(graphc.onnx.OnnxError, match="no such file"):
        graphc.onnx.load(str(tmp_path / "nope.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(graphc.onnx.OnnxError, match="not a readable ONNX model"):
        graphc.onnx.load(str(bad))


def test_cli_dumps_and_draws_onnx_files(cnn, tmp_path, capsys):
    model, x = cnn
    path = tmp_path / "m.onnx"
    graphc.onnx.export(model, (x,), str(path), input_names=["x"])
    assert cli(["dump", str(path)]) == 0
    text = capsys.readouterr().out
    assert "conv2d" in text and "variable('conv.weight')" in text
    assert cli(["draw", str(path), "-o", str(tmp_path / "m.dot")]) == 0
    assert (tmp_path / "m.dot").read_text().startswith("digraph")
    assert cli(["dump", str(tmp_path / "missing.onnx")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_an_input_no_output_reads_still_compiles_on_cpu():
    pytest.importorskip("numba")
    # CastLike reads only the dtype of `like`: the cpu target once failed with KeyError
    m = _model([helper.make_node("CastLike", ["x", "like"], ["y"])],
               [_info("x", TensorProto.DOUBLE, [2]), _info("like", TensorProto.FLOAT, [0])],
               [_info("y", TensorProto.FLOAT, [2])])
    graph = graphc.onnx.load(m)
    exe = gc.compile(graph.outputs, graph.inputs, target="cpu")
    out = exe(np.array([1.5, 2.5]), np.zeros(0, np.float32))[0]
    np.testing.assert_array_equal(out.numpy(), np.array([1.5, 2.5], np.float32))
