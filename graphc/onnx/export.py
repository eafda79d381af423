"""graphc.onnx.export: a model, a traced function or a static graph written as an ONNX file.

Eager models and functions are traced as `graphc.jit` traces them (parameters and captured
tensors become variables); the graph's nodes are then written one by one through
`export_ops.EXPORTERS`. Variables become initializers (named like the parameters: fc1.weight),
symbolic dims become ONNX dim_params (dynamic axes), and the result is checked with
`onnx.checker` (full check, which runs ONNX's shape inference over the model).
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.build import placeholder
from ..ir.graph import Graph, Value
from ..types import as_dtype
from .common import OnnxError, onnx_dtype, onnx_module

DEFAULT_OPSET = 18


class _Emitter:
    """Collects ONNX nodes and initializers; hands out unique names."""

    def __init__(self, opset, users):
        onnx = onnx_module()
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.names = {}        # graphc Value -> ONNX name
        self._users = users    # graphc Value -> readers (to skip unused outputs)
        self._taken = set()
        self._consts = {}      # (dtype, shape, bytes) -> name: one initializer per constant

    def fresh(self, base):
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in base) or "v"
        name, k = base, 1
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    def name(self, value):
        return self.names[value]

    def ins(self, node):
        return [self.names[v] for v in node.inputs]

    def used(self, value):
        return bool(self._users.get(value))

    def tensor(self, array, name=""):
        return self.numpy_helper.from_array(np.array(array, order="C"), name)  # keeps 0-d

    def const(self, array, base="const"):
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:  # a Constant node: initializers are for parameters
            name = self.fresh(base)
            self.nodes.append(self.helper.make_node("Constant", [], [name],
                                                    name=self.fresh("Constant"),
                                                    value=self.tensor(array)))
            self._consts[key] = name
        return self._consts[key]

    def initializer(self, array, base):
        name = self.fresh(base)
        self.initializers.append(self.tensor(np.asarray(array), name))
        return name

    def emit(self, op_type, inputs, num_outputs=1, **attrs):
        outputs = [self.fresh(f"{op_type}_out") for _ in range(num_outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs,
                                                name=self.fresh(op_type), **attrs))
        return outputs


def _value_info(helper, name, value, dims_override=None):
    shape = []
    for i, d in enumerate(value.shape):
        if dims_override and i in dims_override:
            d = dims_override[i]
        shape.append(d if isinstance(d, (int, str)) else None)
    return helper.make_tensor_value_info(name, onnx_dtype(value.dtype), shape)


def _dynamic_axes(dynamic_axes, name):
    """{axis: dim name} for one input or output from torch's dynamic_axes forms."""
    axes = (dynamic_axes or {}).get(name)
    if axes is None:
        return {}
    if isinstance(axes, dict):
        return {int(a): str(d) for a, d in axes.items()}
    return {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}


# ---- getting a graph ----------------------------------------------------------------------------
def _trace(fn, args, input_names, dynamic_axes):
    from ..jit import _control_flow_error, _flatten
    from ..nn.rnn import unrolled_time_loops
    from ..tracing import trace_call
    from ..nn.module import Module
    args = args if isinstance(args, tuple) else (args,)
    names = list(input_names or [])
    placeholders, symbolic = [], []
    for i, a in enumerate(args):
        if not isinstance(a, (Tensor, np.ndarray)):
            symbolic.append(a)  # a static argument, as graphc.jit treats it
            continue
        arr = a._data if isinstance(a, Tensor) else a
        name = names[len(placeholders)] if len(placeholders) < len(names) else \
            f"input_{len(placeholders)}"
        axes = _dynamic_axes(dynamic_axes, name)
        shape = tuple(axes.get(d, s) for d, s in enumerate(arr.shape))
        p = placeholder(shape, as_dtype(arr.dtype), name=name)
        placeholders.append(p)
        symbolic.append(p)
    training = isinstance(fn, Module) and fn.training
    if training:
        fn.eval()  # as torch.onnx.export: inference mode (dropout off, running statistics)
    try:
        with unrolled_time_loops():  # (no ONNX Scan mapping yet: RNNs export unrolled)
            result, _ = trace_call(fn, tuple(symbolic), {}, False, _control_flow_error)
    finally:
        if training:
            fn.train()
    leaves = []
    _flatten(result, leaves)
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, Value):
            raise UnsupportedError(f"graphc.onnx.export: output {i} is a {type(leaf).__name__}, "
                                   f"not computed from the inputs; return tensors computed "
                                   f"from them")
    return Graph.from_outputs(leaves, inputs=placeholders)


def _graph_of(model, args, input_names, dynamic_axes):
    if isinstance(model, Graph):
        return model
    if isinstance(getattr(model, "graph", None), Graph) and hasattr(model, "outputs"):
        return model.graph  # a compiled Executable: the graph it was compiled from
    if isinstance(model, Value):
        return Graph.from_outputs([model])
    if isinstance(model, (list, tuple)) and model and all(isinstance(v, Value) for v in model):
        return Graph.from_outputs(list(model))
    if callable(model):
        return _trace(model, args, input_names, dynamic_axes)
    raise TypeError(f"graphc.onnx.export expects a Module, a function, a Graph, symbolic outputs "
                    f"or an Executable, got {type(model).__name__}")


# ---- writing it ------------------------------------------------------------------------------------
def _to_model(graph, input_names, output_names, dynamic_axes, opset, export_params):
    from .. import __version__
    from .tables import EXPORTERS
    onnx = onnx_module()
    helper = onnx.helper
    users = graph.users()
    for v in graph.outputs:
        users.setdefault(v, []).append(None)
    e = _Emitter(opset, users)
    inputs, extra_inputs = [], []
    in_names = list(input_names or [])
    for i, p in enumerate(graph.inputs):
        name = e.fresh(in_names[i] if i < len(in_names) else (p.name or f"input_{i}"))
        e.names[p] = name
        axes = {d: s if isinstance(s, str) else f"{name}_dim{d}"
                for d, s in enumerate(p.shape) if not isinstance(s, int)}
        for d, dim_name in _dynamic_axes(dynamic_axes, name).items():
            if isinstance(p.shape[d], int):  # the graph was built for this size only
                raise ValueError(f"dynamic_axes: dim {d} of input {name!r} is {p.shape[d]} in "
                                 f"the graph; build the placeholder with a symbolic dim "
                                 f"(None or a name) to export it as dynamic")
            axes[d] = dim_name
        inputs.append(_value_info(helper, name, p, axes))
    for node in graph.nodes:
        op = node.op.name
        if op == "placeholder":
            if node.outputs[0] not in e.names:
                raise OnnxError(f"placeholder {node.outputs[0].name!r} is not an input of the "
                                f"exported graph")
            continue
        if op == "variable":
            v = node.outputs[0]
            data = node.attrs["storage"]._data
            if export_params:
                e.names[v] = e.initializer(data, node.attrs["name"] or "param")
            else:
                e.names[v] = e.fresh(node.attrs["name"] or "param")
                extra_inputs.append(_value_info(helper, e.names[v], v))
            continue
        if op == "constant":
            e.names[node.outputs[0]] = e.const(node.attrs["value"])
            continue
        export = EXPORTERS.get(op)
        if export is None:
            raise UnsupportedError(f"graphc.onnx.export: op {op!r} has no ONNX form "
                                   f"(node {node}{_at(node)}); see docs/onnx.md")
        try:
            outs = export(e, node)
        except UnsupportedError as err:
            raise UnsupportedError(f"graphc.onnx.export: {op} (node {node}{_at(node)}): "
                                   f"{err}") from None
        for v, name in zip(node.outputs, outs):
            if name is not None:
                e.names[v] = name
    outputs = _name_outputs(e, graph, output_names, dynamic_axes, helper)
    g = helper.make_graph(e.nodes, "graphc", inputs + extra_inputs, outputs,
                          initializer=e.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="graphc", producer_version=__version__)
    return model


def _at(node):
    return f" at {node.location}" if node.location is not None else ""


def _name_outputs(e, graph, output_names, dynamic_axes, helper):
    """Give graph outputs their names: rename the producing node's output, or add an
    Identity where the value is an input, an initializer or already an output."""
    produced = {o: node for node in e.nodes for o in node.output}
    out_names = list(output_names or [])
    infos, taken = [], set()
    for i, v in enumerate(graph.outputs):
        current = e.names[v]
        wanted = out_names[i] if i < len(out_names) else (v.name or f"output_{i}")
        if current in produced and current not in taken and (wanted == current or
                                                             wanted not in e._taken):
            if wanted != current:
                e._taken.add(wanted)
                _rename(e.nodes, current, wanted)
                produced[wanted] = produced.pop(current)
                for key, name in e.names.items():
                    if name == current:
                        e.names[key] = wanted
            name = wanted
        else:
            if wanted in e._taken and i < len(out_names):
                raise ValueError(f"output name {wanted!r} is already the name of an input, a "
                                 f"parameter or another output")
            name = wanted if wanted not in e._taken else e.fresh(wanted)
            e._taken.add(name)
            e.nodes.append(helper.make_node("Identity", [current], [name],
                                            name=e.fresh("Identity")))
        taken.add(name)
        infos.append(_value_info(helper, name, v, _dynamic_axes(dynamic_axes, name)))
    return infos


def _rename(nodes, old, new):
    for node in nodes:
        for i, n in enumerate(node.input):
            if n == old:
                node.input[i] = new
        for i, n in enumerate(node.output):
            if n == old:
                node.output[i] = new


def export(model, args=(), f=None, *, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, export_params=True, verbose=False, check=True):
    """Export to ONNX, following torch.onnx.export's signature.

    model: a graphc.nn.Module or a function (traced with `args`, in eval mode), a static
        Graph, symbolic outputs (a Value or a list), or a compiled Executable.
    args: the example inputs (a tensor/array or a tuple); ignored for graphs.
    f: a path or a binary file object to write to (None: only return the ModelProto).
    input_names, output_names: ONNX names of the graph's inputs and outputs.
    dynamic_axes: {name: {axis: "dim name"}} or {name: [axes]}: these dims stay symbolic
        (a batch size). Symbolic dims of a static graph's placeholders are dynamic already.
    opset_version: default 18 (13 to what the installed onnx knows).
    export_params: False makes parameters graph inputs instead of initializers.
    Returns the onnx.ModelProto. Raises UnsupportedError naming the op, node and line for
    ops with no ONNX form (gradient ops, inverse, dropout in training mode).
    """
    onnx = onnx_module()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not 13 <= opset <= newest:
        raise ValueError(f"opset_version {opset} is not supported: use 13 to {newest}")
    graph = _graph_of(model, args, input_names, dynamic_axes)
    proto = _to_model(graph, input_names, output_names, dynamic_axes, opset, export_params)
    known = {v.name for v in list(proto.graph.input) + list(proto.graph.output)}
    unknown = sorted(set(dynamic_axes or {}) - known)
    if unknown:
        raise ValueError(f"dynamic_axes names {unknown}, which are neither inputs nor outputs "
                         f"of the exported model ({sorted(known)})")
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
            raise OnnxError(f"graphc.onnx.export wrote a model that onnx.checker rejects: "
                            f"{err}") from None
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as fh:
                fh.write(data)
        elif isinstance(f, io.IOBase) or hasattr(f, "write"):
            f.write(data)
        else:
            raise TypeError(f"f must be a path or a binary file object, got {type(f).__name__}")
    return proto
