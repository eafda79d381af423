"""graphc.onnx.export: the op table's cases and the example models, exported and run in ONNX
Runtime, give graphc's outputs; dynamic batch dims stay dynamic; errors name what is wrong."""
from __future__ import annotations

import importlib
import io
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import graphc as gc  # noqa: E402
import graphc.onnx  # noqa: E402
from graphc import nn  # noqa: E402
from graphc.errors import UnsupportedError  # noqa: E402
from op_table import CASES  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "examples")

# op-table cases that have no ONNX form
NO_ONNX_FORM = {"inverse", "inverse-batched",
                "scan", "scan-reverse"}  # (no mapping of scan to ONNX Scan yet)


def run_ort(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))


def assert_close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape,
                                                                  want.dtype, want.shape)
    if want.dtype.kind == "f":
        tol = 1e-5 if want.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got, want, rtol=tol * 10, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def _as_f32(a):
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype == np.float64 else a


STATIC_CASES = [c for c in CASES if c.static]


@pytest.mark.parametrize("case", STATIC_CASES, ids=[c.name for c in STATIC_CASES])
def test_op_table_case_runs_in_onnxruntime(case):
    feeds = [_as_f32(a) for a in case.inputs]
    placeholders = [gc.placeholder(a.shape, a.dtype) for a in feeds]
    out = case.fn(*placeholders)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if case.name in NO_ONNX_FORM:
        with pytest.raises(UnsupportedError, match=case.op):
            graphc.onnx.export(outs)
        return
    model = graphc.onnx.export(gc.Graph.from_outputs(outs, placeholders))
    want = gc.compile(outs, placeholders)(*feeds)
    want = want if isinstance(want, list) else [want]
    for got, w in zip(run_ort(model, feeds), want):
        assert_close(got, w.numpy())


# ---- the example models ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, EXAMPLES)
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(EXAMPLES)


def _models(examples):
    gc.manual_seed(0)
    rng = np.random.default_rng(0)
    xor_model = examples("xor").build()[0]
    cnn = examples("digits_cnn").Net()
    regression = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    return {"xor": (xor_model, rng.random((4, 2), np.float32)),
            "regression": (regression, rng.random((6, 2), np.float32)),
            "linear_regression": (nn.Linear(1, 1), rng.random((5, 1), np.float32)),
            "digits_cnn": (cnn, rng.random((3, 1, 8, 8), np.float32))}


def _eager(model, x):
    model.eval()
    with gc.no_grad():
        return model(gc.tensor(x)).numpy()


@pytest.mark.parametrize("name", ["xor", "regression", "linear_regression", "digits_cnn"])
def test_example_model_runs_in_onnxruntime_with_a_dynamic_batch(examples, name, tmp_path):
    model, x = _models(examples)[name]
    path = tmp_path / f"{name}.onnx"
    graphc.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"],
                       dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {i.name for i in proto.graph.initializer} >= {
        n for n, _ in model.named_parameters()}
    for batch in (x, np.concatenate([x, x[:1]])):  # the traced batch and another one
        assert_close(run_ort(proto, [batch])[0], _eager(model, batch))


def test_training_mode_model_is_exported_in_eval_mode(examples):
    model, x = _models(examples)["digits_cnn"]
    model.train()
    proto = graphc.onnx.export(model, (x,))
    assert model.training  # restored
    assert "Dropout" not in {n.op_type for n in proto.graph.node}
    assert_close(run_ort(proto, [x])[0], _eager(model, x))


def test_function_and_executable_and_file_object():
    x = gc.placeholder(("n", 3), name="x")
    w = gc.variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
    y = gc.tanh(x @ w).sum(1)
    exe = gc.compile(y, [x])
    buffer = io.BytesIO()
    graphc.onnx.export(exe, None, buffer, output_names=["out"])
    proto = onnx.load_from_string(buffer.getvalue())
    assert [o.name for o in proto.graph.output] == ["out"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    data = np.random.default_rng(1).random((4, 3), np.float32)
    assert_close(run_ort(proto, [data])[0], exe(data).numpy())

    def f(a, b):
        return gc.maximum(a, b) * 2.0, a - b
    a, b = np.ones((2, 2), np.float32), np.eye(2, dtype=np.float32)
    outs = run_ort(graphc.onnx.export(f, (a, b), input_names=["a", "b"]), [a, b])
    assert_close(outs[0], np.maximum(a, b) * 2)
    assert_close(outs[1], a - b)


def test_export_params_false_makes_parameters_inputs():
    model = nn.Linear(2, 2)
    proto = graphc.onnx.export(model, (np.ones((1, 2), np.float32),), export_params=False)
    assert not proto.graph.initializer
    assert {i.name for i in proto.graph.input} == {"input_0", "weight", "bias"}


def test_an_op_without_onnx_form_names_the_op_and_the_line():
    x = gc.placeholder((3, 3))
    y = gc.inverse(x)  # the line the message names
    with pytest.raises(UnsupportedError, match=r"inverse.*test_onnx_export.py"):
        graphc.onnx.export(y)


def test_dynamic_axes_must_name_inputs_or_outputs():
    with pytest.raises(ValueError, match=r"\['z'\]"):
        graphc.onnx.export(nn.Linear(2, 2), (np.ones((1, 2), np.float32),),
                           input_names=["x"], dynamic_axes={"z": [0]})


def test_dynamic_axes_of_a_static_graph_need_symbolic_dims():
    x = gc.placeholder((4, 3), name="x")
    with pytest.raises(ValueError, match="symbolic dim"):
        graphc.onnx.export(gc.relu(x), dynamic_axes={"x": {0: "batch"}})


def test_outputs_that_are_inputs_or_repeated_get_identity_nodes():
    def f(x):
        y = x * 2
        return x, y, y
    x = np.ones((2, 2), np.float32)
    proto = graphc.onnx.export(f, (x,), input_names=["x"], output_names=["same", "y", "y2"])
    assert [o.name for o in proto.graph.output] == ["same", "y", "y2"]
    got = run_ort(proto, [x])
    assert_close(got[0], x), assert_close(got[1], 2 * x), assert_close(got[2], 2 * x)
    with pytest.raises(ValueError, match="output name 'x'"):
        graphc.onnx.export(f, (x,), input_names=["x"], output_names=["x", "y", "y2"])


def test_opset_range_is_checked():
    x = gc.placeholder((2,))
    with pytest.raises(ValueError, match="opset_version 7"):
        graphc.onnx.export(gc.relu(x), opset_version=7)


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_other_opsets(opset):
    x = gc.placeholder((2, 3), name="x")
    y = gc.gelu(x).mean(1) + gc.amax(x, 1)
    proto = graphc.onnx.export(y, opset_version=opset)
    data = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    assert_close(run_ort(proto, [data])[0], gc.compile(y, [x])(data).numpy())


def _layers():
    r = np.random.default_rng(7)
    img = r.standard_normal((2, 4, 6, 6)).astype(np.float32)
    vec = r.standard_normal((3, 5)).astype(np.float32)
    seq = r.standard_normal((2, 4, 5)).astype(np.float32)
    acts = [nn.CELU(), nn.ELU(0.5), nn.GELU(), nn.GELU("tanh"), nn.SELU(), nn.Hardshrink(),
            nn.Hardtanh(), nn.LeakyReLU(0.2), nn.LogSigmoid(), nn.LogSoftmax(1), nn.Mish(),
            nn.PReLU(), nn.ReLU6(), nn.SiLU(), nn.Softmax(0), nn.Softmin(1), nn.Softplus(2.0),
            nn.Softshrink(), nn.Softsign(), nn.Tanhshrink(), nn.Threshold(0.1, 2.0)]
    cases = [(type(a).__name__, a, vec) for a in acts]
    cases += [
        ("Conv2d-strided-groups", nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), img),
        ("Conv2d-dilated", nn.Conv2d(4, 2, 3, dilation=2, padding="same"), img),
        ("ConvTranspose2d", nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
         img),
        ("MaxPool2d", nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), img),
        ("AvgPool2d", nn.AvgPool2d(2, count_include_pad=False, padding=1), img),
        ("AdaptiveAvgPool2d-1", nn.AdaptiveAvgPool2d(1), img),
        ("AdaptiveAvgPool2d-3", nn.AdaptiveAvgPool2d(3), img),
        ("BatchNorm2d", nn.BatchNorm2d(4), img),
        ("LayerNorm", nn.LayerNorm(5), seq),
        ("Flatten-Linear-Dropout", nn.Sequential(nn.Flatten(), nn.Linear(20, 3),
                                                       nn.Dropout(0.5)), seq),
        ("Unflatten", nn.Unflatten(1, (2, 2)), seq),
        ("RNN", nn.RNN(5, 3, batch_first=True), seq),
        ("LSTM", nn.LSTM(5, 3, batch_first=True), seq),
    ]
    return cases


LAYERS = _layers()


@pytest.mark.parametrize("name, layer, x", LAYERS, ids=[c[0] for c in LAYERS])
def test_nn_layer_runs_in_onnxruntime(name, layer, x):
    layer.eval()
    proto = graphc.onnx.export(layer, (x,))
    with gc.no_grad():
        want = layer(gc.tensor(x))
    want = want if isinstance(want, (tuple, list)) else [want]
    flat = []
    for w in want:  # RNN/LSTM return (output, state) with state a tensor or a pair
        flat += list(w) if isinstance(w, (tuple, list)) else [w]
    for got, w in zip(run_ort(proto, [x]), flat):
        assert_close(got, w.numpy())


def test_reductions_and_views_over_a_dynamic_dim():
    def f(x):
        return (x.mean(0), x.var(0), x.std(), gc.flatten(x, 0)[None, :3], x.softmax(0),
                x.argmax(), x[::2, 1:])
    x = np.random.default_rng(2).random((4, 3), np.float32)
    proto = graphc.onnx.export(f, (x,), input_names=["x"], dynamic_axes={"x": {0: "n"}})
    for n in (4, 7):
        data = np.random.default_rng(n).random((n, 3), np.float32)
        for got, want in zip(run_ort(proto, [data]), f(gc.tensor(data))):
            assert_close(got, want.numpy())


def test_integer_inputs_and_two_dynamic_dims_round_trip():
    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 4), nn.Linear(4, 2)

        def forward(self, ids):
            return self.fc(self.emb(ids).mean(1))  # the mean divides by a symbolic length
    gc.manual_seed(0)
    model = Bag()
    proto = graphc.onnx.export(model, (np.array([[1, 2, 3], [4, 5, 9]]),), input_names=["ids"],
                               dynamic_axes={"ids": {0: "b", 1: "t"}})
    ids = np.array([[1, 2, 3, 4], [4, 5, 9, 0], [7, 7, 7, 7]])
    want = model(gc.tensor(ids)).detach().numpy()
    assert_close(run_ort(proto, [ids])[0], want)
    graph = graphc.onnx.load(proto)
    assert_close(gc.compile(graph.outputs, graph.inputs)(ids)[0].numpy(), want)


LOSS_CASES = [c for c in __import__("op_table_loss").LOSS if c.op == "cross_entropy"]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c.name for c in LOSS_CASES])
def test_cross_entropy_exports_as_softmax_cross_entropy_loss(case):
    feeds = [_as_f32(a) for a in case.inputs]
    placeholders = [gc.placeholder(a.shape, a.dtype) for a in feeds]
    out = case.fn(*placeholders)
    model = graphc.onnx.export(gc.Graph.from_outputs([out], placeholders))
    assert "SoftmaxCrossEntropyLoss" in {node.op_type for node in model.graph.node}
    assert_close(run_ort(model, feeds)[0], gc.compile(out, placeholders)(*feeds).numpy())


def test_batch_norm_with_batch_statistics_exports_as_reductions():
    """Modules export in eval mode (BatchNormalization); a function normalizing with the batch
    statistics exports as ONNX reductions; its new running statistics have no ONNX form."""
    import graphc.nn.functional as F
    x = np.random.default_rng(5).standard_normal((3, 2, 2, 2)).astype(np.float32)
    w, b = gc.tensor(np.array([0.5, 2.0], np.float32)), gc.tensor(np.array([1.0, -1.0], np.float32))

    def f(x):
        return F.batch_norm(x, None, None, w, b, training=True)
    (got,) = run_ort(graphc.onnx.export(f, (x,)), [x])
    assert_close(got, f(gc.tensor(x)).numpy())
    from graphc.ops import norm

    def with_stats(x):
        return norm.batch_norm(x, w, b, gc.zeros(2), gc.ones(2), training=True)[3]
    with pytest.raises(UnsupportedError, match="running statistics"):
        graphc.onnx.export(with_stats, (x,))
