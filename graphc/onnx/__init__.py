"""graphc.onnx: export graphc models to ONNX files and load ONNX files as graphc graphs.

    graphc.onnx.export(model, args, "model.onnx", input_names=["x"],
                       dynamic_axes={"x": {0: "batch"}})
    graph = graphc.onnx.load("model.onnx")      # placeholders, variables, ops
    exe = graphc.compile(graph.outputs, graph.inputs, target="cpu")

Both directions are driven by op tables (`export_ops.EXPORTERS`, `import_ops.CONVERTERS`):
adding an op is adding one entry. Needs the `onnx` package (`pip install graphc[onnx]`).
See docs/onnx.md.
"""
from .common import OnnxError, StaticInputNeeded
from .export import export
from .importer import load, supported_onnx_ops

__all__ = ["export", "load", "supported_onnx_ops", "OnnxError", "StaticInputNeeded"]
