"""graphc.onnx.load: an ONNX model becomes a graphc graph built with graphc's own functions.

Graph inputs become placeholders (a dim_param such as "batch" stays a symbolic dim),
floating-point initializers become trainable variables (so an imported model can be
fine-tuned), other initializers and Constant nodes become constants. Each ONNX node is
converted by its entry in `import_ops.CONVERTERS`, written with graphc functions: the result
differentiates and compiles on every target like any graph built by hand.

Values known at load time (constants, and everything computed only from them, such as
Shape -> Gather -> Concat chains) are kept as eager tensors: the same converters then
compute at once, which folds them. Ops that need such a value (Reshape's shape, Slice's
starts ...) read it with `ctx.static(i)`.
"""
from __future__ import annotations

import os

import numpy as np

from ..dispatch import constant as make_constant
from ..eager.tensor import Tensor
from ..errors import GraphcError, UnsupportedError
from ..ir.build import placeholder, variable
from ..ir.graph import Graph, Value
from ..ops import leaves
from .common import OnnxError, StaticInputNeeded, dtype_from_onnx, onnx_module, to_array


class NodeContext:
    """What a converter sees of one ONNX node: its inputs (graphc values, eager tensors for
    load-time constants, None for omitted optional inputs), attributes and the opset."""

    def __init__(self, importer, node):
        self._importer = importer
        self.node = node
        self.op_type = node.op_type
        self.opset = importer.opset
        self.num_outputs = len(node.output)
        onnx = onnx_module()
        self.attrs = {a.name: _attr_value(onnx, a) for a in node.attribute}

    @property
    def where(self):
        name = f" {self.node.name!r}" if self.node.name else ""
        return f"ONNX node{name} ({self.op_type}, opset {self.opset})"

    @property
    def num_inputs(self):
        return len(self.node.input)

    def has_input(self, i):
        return i < len(self.node.input) and self.node.input[i] != ""

    def input(self, i):
        return self._importer.env[self.node.input[i]] if self.has_input(i) else None

    def inputs(self):
        return [self.input(i) for i in range(self.num_inputs)]

    def output_used(self, i):
        return i < len(self.node.output) and self.node.output[i] != ""

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def maybe_static(self, i):
        """The input's value as a NumPy array if it is known at load time, else None."""
        if not self.has_input(i):
            return None
        return self._importer.static_value(self.node.input[i])

    def static(self, i, what=None):
        value = self.maybe_static(i)
        if value is None:
            name = self.node.input[i] if self.has_input(i) else f"#{i}"
            raise StaticInputNeeded(
                f"{self.where}: input {name!r}{f' ({what})' if what else ''} must be known when "
                f"the model is loaded (an initializer or a Constant); bind it with "
                f"graphc.onnx.load(..., constants={{{name!r}: array}})", name)
        return value

    def attr_or_input(self, name, i, default=None):
        """An attribute in older opsets that became input `i` in newer ones (axes, split ...)."""
        if name in self.attrs:
            return self.attrs[name]
        if self.has_input(i):
            return [int(v) for v in np.asarray(self.static(i, name)).reshape(-1)]
        return default

    def unsupported(self, what):
        return UnsupportedError(f"{self.where}: {what}")


def _attr_value(onnx, a):
    value = onnx.helper.get_attribute_value(a)
    if a.type == onnx.AttributeProto.TENSOR:
        return to_array(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    return value


class _Importer:
    def __init__(self, model, constants, trainable):
        onnx = onnx_module()
        self.model = model
        self.opset = _default_opset(model)
        self.env = {}             # ONNX value name -> Value | Tensor (load-time constant)
        self.initial = {}         # id(variable Value) -> its initial array (static reads)
        self.placeholders = []
        graph = model.graph
        inits = {t.name: t for t in graph.initializer}
        constants = dict(constants or {})
        for tp in graph.input:
            if tp.name in inits or tp.name in constants:
                continue  # an initializer listed as an input (IR < 4) is not fed
            self.placeholders.append(self._placeholder(onnx, tp))
        for name, t in inits.items():
            arr = to_array(t)
            dtype_from_onnx(t.data_type, f"initializer {name!r}")
            if trainable and arr.dtype.kind == "f":
                v = variable(arr, name=name)
                self.initial[id(v)] = arr
                self.env[name] = v
            else:
                self.env[name] = Tensor._wrap(np.array(arr))
        for name, arr in constants.items():
            self.env[name] = Tensor._wrap(np.array(arr))

    def _placeholder(self, onnx, tp):
        kind = tp.type.WhichOneof("value")
        if kind != "tensor_type":
            raise UnsupportedError(f"graph input {tp.name!r} is a {kind}: graphc loads tensors "
                                   f"only")
        tt = tp.type.tensor_type
        dtype = dtype_from_onnx(tt.elem_type, f"graph input {tp.name!r}")
        if not tt.HasField("shape"):
            raise UnsupportedError(f"graph input {tp.name!r} has no shape: graphc needs its "
                                   f"rank")
        shape = []
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            else:  # a named dim stays named; an anonymous one gets a name of its own
                shape.append(d.dim_param or f"{tp.name}_dim{i}")
        p = placeholder(tuple(shape), dtype, name=tp.name)
        self.env[tp.name] = p
        return p

    def static_value(self, name):
        v = self.env.get(name)
        if isinstance(v, Tensor):
            return v._data
        if isinstance(v, Value):
            arr = self.initial.get(id(v))
            if arr is not None:
                return arr
            if v.node.op is leaves.constant:
                return v.node.attrs["value"]
        return None

    def run(self):
        from .tables import CONVERTERS
        for node in self.model.graph.node:
            ctx = NodeContext(self, node)
            if node.domain not in ("", "ai.onnx"):
                raise ctx.unsupported(f"operators of domain {node.domain!r} are not supported")
            convert = CONVERTERS.get(node.op_type)
            if convert is None:
                raise ctx.unsupported(f"graphc.onnx has no converter for {node.op_type} (see "
                                      f"graphc.onnx.supported_onnx_ops())")
            try:
                outputs = convert(ctx)
            except (StaticInputNeeded, UnsupportedError, OnnxError):
                raise
            except (GraphcError, ValueError, TypeError, IndexError) as e:
                raise OnnxError(f"{ctx.where}: {type(e).__name__}: {e}") from e
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            for name, value in zip(node.output, outputs):
                if name:
                    self.env[name] = value
        outputs = []
        for out in self.model.graph.output:
            v = self.env[out.name]
            if isinstance(v, Tensor):
                v = make_constant(v._data, name=out.name)
            elif v.name is None:
                v.name = out.name
            outputs.append(v)
        return Graph.from_outputs(outputs, inputs=self.placeholders)


def _default_opset(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1


def load(model, *, constants=None, trainable=True) -> Graph:
    """Load an ONNX model (a path, bytes or a ModelProto) as a graphc Graph.

    Returns a Graph whose `inputs` are placeholders in the ONNX input order and whose
    `outputs` are in the ONNX output order; compile it with
    `graphc.compile(graph.outputs, graph.inputs, target=...)`. Floating-point initializers
    become variables (`graph.variables`): differentiate and update them to fine-tune.
    `constants` binds graph inputs to fixed arrays (needed when an op such as Reshape takes
    its shape from a graph input); `trainable=False` makes every initializer a constant.
    Ops without a converter raise UnsupportedError naming the op, the node and the opset.
    """
    onnx = onnx_module()
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise OnnxError(f"no such file: {model}")
        try:
            model = onnx.load(os.fspath(model))
        except Exception as e:  # a damaged file: say which
            raise OnnxError(f"{model} is not a readable ONNX model: {e}") from None
    elif isinstance(model, bytes):
        model = onnx.load_from_string(model)
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(f"graphc.onnx.load expects a path, bytes or an onnx.ModelProto, got "
                        f"{type(model).__name__}")
    return _Importer(model, constants, trainable).run()


def supported_onnx_ops():
    """The ONNX op types graphc.onnx.load converts (default domain)."""
    from .tables import CONVERTERS
    return sorted(CONVERTERS)
