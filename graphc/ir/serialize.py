"""Graphs as JSON (format "graphc.graph", version 2). Loading never executes code.

Nodes are listed in topological order; a value is referred to as [node index, output index].
"inputs" and "outputs" list values; "updates" lists [variable, new value] pairs (a training
step's writes; version 2, absent from version-1 files, which still load); the optional
"gradients" lists [variable, gradient] pairs (values graphc.grad made: Value.grad_of). A
variable node carries its value when saved, so a loaded step starts from the saved state.
Attributes are JSON values, with tagged objects for what JSON lacks: {"$tuple": [...]},
{"$dtype": "float32"}, {"$type": {"shape": [...], "dtype": ...}}, {"$array": {"dtype", "shape",
"data" (base64 of little-endian bytes)}}, {"$float": "nan" | "inf" | "-inf"}. Loading re-applies
every op through the normal dispatcher, so each node's types are checked again.
"""
from __future__ import annotations

import base64
import json
import math
import os
import tempfile

import numpy as np

from ..autodiff import GradientLocation
from ..errors import GraphFormatError, SourceLocation
from ..ops import leaves
from ..types import DType, TensorType, as_dtype
from .graph import Graph, Value, tag_gradient

FORMAT = "graphc.graph"
VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: no "updates"
_MAX_ELEMENTS = 1 << 31


# ---- encoding -----------------------------------------------------------------------------------
def _encode_array(arr):
    arr = np.asarray(arr, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    return {"$array": {"dtype": arr.dtype.name, "shape": list(arr.shape),
                       "data": base64.b64encode(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
                       .decode("ascii")}}


def _encode(v):
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return _encode(v.item())
    if isinstance(v, tuple):
        return {"$tuple": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, DType):
        return {"$dtype": v.name}
    if isinstance(v, TensorType):
        return {"$type": {"shape": list(v.shape), "dtype": v.dtype.name}}
    if isinstance(v, np.ndarray):
        return _encode_array(v)
    if isinstance(v, Graph):  # a scan's body: a closed graph of its own, nested
        return {"$graph": graph_to_json(v)}
    raise GraphFormatError(f"cannot serialize attribute value of type {type(v).__name__}")


def graph_to_json(graph: Graph) -> dict:
    index = {}
    nodes = []
    for i, n in enumerate(graph.nodes):
        for v in n.outputs:
            index[id(v)] = [i, v.index]
        attrs = dict(n.attrs)
        entry = {"op": n.op.name, "inputs": [index[id(v)] for v in n.inputs]}
        if n.op is leaves.variable:
            storage = attrs.pop("storage")
            attrs["value"] = np.asarray(storage)
            entry["requires_grad"] = bool(getattr(storage, "requires_grad", False))
        entry["attrs"] = {k: _encode(a) for k, a in attrs.items()}
        entry["outputs"] = [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype.name}
                            for v in n.outputs]
        if n.scope is not None:
            entry["scope"] = n.scope
        if n.location is not None:
            entry["location"] = n.location.to_json()
            if isinstance(n.location, GradientLocation):
                entry["gradient"] = True
        nodes.append(entry)
    doc = {"format": FORMAT, "version": VERSION, "nodes": nodes,
           "inputs": [index[id(v)] for v in graph.inputs],
           "outputs": [index[id(v)] for v in graph.outputs],
           "updates": [[index[id(var)], index[id(new)]] for var, new in graph.updates]}
    gradients = [[index[id(var)], index[id(v)]] for n in graph.nodes for v in n.outputs
                 for var in v.grad_of if id(var) in index]
    if gradients:  # (optional: readers that do not know it lose the tags, nothing else)
        doc["gradients"] = gradients
    return doc


# ---- decoding -----------------------------------------------------------------------------------
def _fail(where, msg):
    raise GraphFormatError(f"{where}: {msg}")


def _decode_array(spec, where):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        _fail(where, "malformed array")
    try:
        dtype = as_dtype(spec["dtype"])
    except TypeError:
        _fail(where, f"unsupported array dtype {spec['dtype']!r}")
    shape = spec["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        _fail(where, f"invalid array shape {shape!r}")
    n = math.prod(shape)  # exact: NumPy's int64 product wraps around for forged shapes
    if n > _MAX_ELEMENTS:
        _fail(where, f"array of shape {shape} is too large")
    if not isinstance(spec["data"], str):
        _fail(where, "array data must be a base64 string")
    try:
        raw = base64.b64decode(spec["data"].encode("ascii"), validate=True)
    except Exception:
        _fail(where, "array data is not valid base64")
    if len(raw) != n * dtype.itemsize:
        _fail(where, f"array data has {len(raw)} bytes, shape {shape} of {dtype.name} needs "
              f"{n * dtype.itemsize}")
    return np.frombuffer(raw, dtype.np.newbyteorder("<")).astype(dtype.np).reshape(shape)


def _decode(v, where):
    if isinstance(v, list):
        return [_decode(x, where) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) != 1:
        _fail(where, f"unknown attribute object {sorted(v)!r}")
    (tag, body), = v.items()
    if tag == "$tuple" and isinstance(body, list):
        return tuple(_decode(x, where) for x in body)
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$dtype":
        try:
            return as_dtype(body)
        except TypeError:
            _fail(where, f"unknown dtype {body!r}")
    if tag == "$type" and isinstance(body, dict):
        shape = body.get("shape")
        if not isinstance(shape, list) or not all(d is None or isinstance(d, (int, str))
                                                  for d in shape):
            _fail(where, f"invalid shape {shape!r}")
        try:
            return TensorType(shape, as_dtype(body.get("dtype")))
        except TypeError:
            _fail(where, f"unknown dtype {body.get('dtype')!r}")
    if tag == "$array":
        return _decode_array(body, where)
    if tag == "$graph" and isinstance(body, dict):
        return graph_from_json(body)
    _fail(where, f"unknown attribute tag {tag!r}")


def graph_from_json(doc) -> Graph:
    from .. import ops
    from ..dispatch import constant, variable_of
    from ..eager.creation import tensor
    from .build import placeholder

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GraphFormatError(f"not a graphc graph (expected format {FORMAT!r})")
    if doc.get("version") not in READABLE_VERSIONS:
        raise GraphFormatError(f"unsupported graph format version {doc.get('version')!r} "
                               f"(this graphc reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))})")
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        raise GraphFormatError("'nodes' must be a list")
    values: list[tuple[Value, ...]] = []

    def ref(r, where):
        if (not isinstance(r, list) or len(r) != 2 or not all(isinstance(i, int) for i in r)
                or not 0 <= r[0] < len(values) or not 0 <= r[1] < len(values[r[0]])):
            _fail(where, f"invalid value reference {r!r} (must point to an earlier node)")
        return values[r[0]][r[1]]

    for i, entry in enumerate(nodes):
        where = f"node {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("op"), str):
            _fail(where, "each node must be an object with an 'op' name")
        name = entry["op"]
        if name not in ops.REGISTRY:
            _fail(where, f"unknown op {name!r}")
        op = ops.REGISTRY[name]
        attrs = entry.get("attrs", {})
        if not isinstance(attrs, dict):
            _fail(where, "'attrs' must be an object")
        attrs = {str(k): _decode(a, where) for k, a in attrs.items()}
        inputs = [ref(r, where) for r in entry.get("inputs", [])]
        outs = entry.get("outputs", [])
        names = [o.get("name") if isinstance(o, dict) else None for o in outs]
        names = [n if isinstance(n, str) else None for n in names]
        try:
            if name == "placeholder":
                t = attrs.get("type")
                if not isinstance(t, TensorType):
                    _fail(where, "placeholder needs a 'type'")
                result = placeholder(t.shape, t.dtype, attrs.get("name"))
            elif name == "constant":
                if not isinstance(attrs.get("value"), np.ndarray):
                    _fail(where, "constant needs an array 'value'")
                result = constant(attrs["value"])
            elif name == "variable":
                if not isinstance(attrs.get("value"), np.ndarray):
                    _fail(where, "variable needs an array 'value'")
                t = tensor(attrs["value"])
                t.name = attrs.get("name") if isinstance(attrs.get("name"), str) else None
                t._persistent = True
                if entry.get("requires_grad") and t.dtype.is_floating_point:
                    t.requires_grad = True
                result = variable_of(t)
            else:
                result = op(*inputs, **attrs)
        except GraphFormatError:
            raise
        except Exception as e:
            _fail(where, f"{name}: {e}")
        outputs = (result,) if isinstance(result, Value) else tuple(result)
        if outs and len(outs) != len(outputs):
            _fail(where, f"{name} has {len(outputs)} outputs, the file lists {len(outs)}")
        node = outputs[0].node
        if isinstance(entry.get("scope"), str):
            node.scope = entry["scope"]
        loc = entry.get("location")
        if isinstance(loc, list) and len(loc) == 3 and isinstance(loc[1], int):
            kind = GradientLocation if entry.get("gradient") is True else SourceLocation
            node.location = kind(str(loc[0]), loc[1], str(loc[2]))
        for v, n in zip(outputs, names):
            v.name = n
        values.append(outputs)
    inputs = [ref(r, "inputs") for r in doc.get("inputs", [])]
    outputs = [ref(r, "outputs") for r in doc.get("outputs", [])]
    updates = doc.get("updates", [])
    if not isinstance(updates, list):
        _fail("updates", "must be a list of [variable, new value] pairs")
    pairs = []
    for k, pair in enumerate(updates):
        if not isinstance(pair, list) or len(pair) != 2:
            _fail(f"update {k}", "must be a [variable, new value] pair")
        var, new = ref(pair[0], f"update {k}"), ref(pair[1], f"update {k}")
        if var.node.op is not leaves.variable:
            _fail(f"update {k}", f"writes to a {var.node.op.name}, not a variable")
        if var.type != new.type:
            _fail(f"update {k}", f"variable {var.name!r} is {var.type}, its new value "
                  f"{new.type}")
        pairs.append((var, new))
    gradients = doc.get("gradients", [])
    if not isinstance(gradients, list):
        _fail("gradients", "must be a list of [variable, gradient] pairs")
    for k, pair in enumerate(gradients):
        if not isinstance(pair, list) or len(pair) != 2:
            _fail(f"gradient {k}", "must be a [variable, gradient] pair")
        var, g = ref(pair[0], f"gradient {k}"), ref(pair[1], f"gradient {k}")
        if var.node.op.name != "variable":
            _fail(f"gradient {k}", f"is the gradient of a {var.node.op.name}, not a variable")
        if var.type != g.type:
            _fail(f"gradient {k}", f"variable {var.name!r} is {var.type}, its gradient {g.type}")
        tag_gradient(g, var)
    graph = Graph.from_outputs(outputs + [new for _, new in pairs], inputs)
    graph.outputs, graph.updates = outputs, pairs
    return graph


# ---- files ----------------------------------------------------------------------------------------
def _as_graph(obj) -> Graph:
    if isinstance(obj, Graph):
        return obj
    if isinstance(obj, Value):
        return Graph.from_outputs([obj])
    if isinstance(obj, (list, tuple)) and all(isinstance(v, Value) for v in obj):
        return Graph.from_outputs(list(obj))
    if hasattr(obj, "graph") and isinstance(obj.graph, Graph):
        return obj.graph
    raise TypeError(f"expected a Graph, a value or a list of values, got {type(obj).__name__}")


def save_graph(obj, path):
    """Write a graph (or the graph of some outputs / an executable) as JSON, atomically."""
    doc = graph_to_json(_as_graph(obj))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".graphc-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_graph(path) -> Graph:
    """Read a graph saved by save_graph. Never executes code; malformed files raise
    GraphFormatError."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except UnicodeDecodeError:
        raise GraphFormatError(f"{path}: not a text (JSON) file") from None
    except json.JSONDecodeError as e:
        raise GraphFormatError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise GraphFormatError(f"{path}: JSON nested too deeply") from None
    return graph_from_json(doc)
