"""An ONNX model imported with graphc.onnx.load compiles on the CUDA target (forward and
gradients) and agrees with the reference target."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import graphc as gc  # noqa: E402
import graphc.onnx  # noqa: E402
from graphc import nn  # noqa: E402


def test_imported_model_and_gradients_on_cuda():
    gc.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.LogSoftmax(1))
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    graph = graphc.onnx.load(graphc.onnx.export(model, (x,)).SerializeToString())
    loss = graph.outputs[0].sum()
    outputs = [graph.outputs[0]] + list(gc.grad(loss, graph.variables))
    want = gc.compile(outputs, graph.inputs, target="reference")(x)
    got = gc.compile(outputs, graph.inputs, target="cuda")(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-5)
