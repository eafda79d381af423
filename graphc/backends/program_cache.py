"""The cpu target's whole-program cache: a warm start skips the passes and code generation.

A compiled program is keyed by a hash of everything its generated code depends on: the
graph as the target receives it (ops and their scalar templates, attributes, constants'
values, names, how values connect, the variables' shapes and which nodes share a storage),
the shapes of the feeds, the code generation options and layout, graphc's and runtime's
source files (their names, sizes and modification times, as Python's own .pyc check) and
Python, NumPy, Numba, llvmlite and the CPU (runtime/cache.py). The user's source lines are
not part of it: editing a comment in a training script keeps its warm start.

The entry (`ProgramRecord`, JSON through runtime/cache.py `write_entry`, which checksums it)
holds what running the program needs: the program's and kernels' sources, the arena views,
the constants, the kernels' argument types, the error messages. What only people read (the
annotated source, the memory plan, the user's line of an error) is rebuilt by running the
passes again when asked for. A graph whose attributes or ops cannot be keyed safely (an op
defined outside graphc, an attribute of an unknown type, collectives) is not cached.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import numpy as np

from runtime import cache

from ..ir.graph import Graph
from ..ops import leaves
from ..ops.registry import REGISTRY
from ..types import DType, TensorType

FORMAT, VERSION = "graphc.cpu-program", 1

# dtypes a stored array or kernel argument may have
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"}
_MAX_ELEMENTS = 1 << 31


class Uncacheable(Exception):
    """The graph holds something the key cannot describe safely: compile it every time."""


# ---- the key ----------------------------------------------------------------------------------
_stamp = None


def source_stamp():
    """graphc's and runtime's .py files: names, sizes and modification times (what Python's
    .pyc check trusts), once per process."""
    global _stamp
    if _stamp is None:
        import runtime
        parts = []
        for package in (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        os.path.dirname(os.path.abspath(runtime.__file__))):
            if not os.path.isfile(os.path.join(package, "__init__.py")):
                raise Uncacheable("sources that are not files (a zip?): no stamp")
            for folder, dirs, files in os.walk(package):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    if name.endswith(".py"):
                        st = os.stat(os.path.join(folder, name))
                        parts.append(f"{folder[len(package):]}/{name}:{st.st_size}:"
                                     f"{st.st_mtime_ns}")
        _stamp = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _stamp


_op_ok = {}


def _op_name(op):
    """The op's registered name, if graphc defines what compiling it runs (its type rule;
    an op of the user's may change between runs under the same name, and its code is not
    part of the stamp)."""
    ok = _op_ok.get(id(op))
    if ok is None:
        ok = REGISTRY.get(op.name) is op and all(
            str(getattr(fn, "__module__", "")).startswith(("graphc.", "runtime."))
            for fn in (op.infer, op.normalize) if fn is not None)
        _op_ok[id(op)] = ok
    if not ok:
        raise Uncacheable(f"op {op.name!r}")
    return op.name


def _attr(v):
    """A value made of str/int/float/bool/None/tuples/lists whose repr says all of `v`."""
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if t is tuple:
        return tuple(_attr(x) for x in v)
    if t is list:
        return [_attr(x) for x in v]
    if t is dict:
        return ("dict", tuple((_attr(k), _attr(x)) for k, x in v.items()))
    if isinstance(v, DType):
        return ("dtype", v.name)
    if isinstance(v, TensorType):
        return ("type", tuple(_attr(d) for d in v.shape), v.dtype.name)
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            raise Uncacheable("an object array")
        data = np.ascontiguousarray(v)
        return ("array", data.dtype.str, data.shape, hashlib.sha256(data.view(np.uint8)
                                                                    .reshape(-1)).hexdigest())
    if isinstance(v, np.generic):
        return ("scalar", v.dtype.str, repr(v.item()))
    if t is slice:
        return ("slice", _attr(v.start), _attr(v.stop), _attr(v.step))
    if v is Ellipsis:
        return ("...",)
    if isinstance(v, Graph):  # a scan's body
        return ("graph", _graph_parts(_leading(v, ()), v.nodes, v.inputs, v.outputs, ()))
    raise Uncacheable(f"an attribute of type {t.__name__}")


def _graph_parts(leading, nodes, inputs, outputs, updates):
    """Nested tuples describing the graph (see the module docstring)."""
    index, parts, storages = {}, [], {}
    for i, n in enumerate(list(leading) + list(nodes)):
        for v in n.outputs:
            index[v] = (i, v.index)
        attrs = n.attrs
        if n.op is leaves.variable:
            storage = attrs["storage"]
            data = storage._data
            attrs = {**attrs, "storage": ("storage", data.shape, data.dtype.str,
                                          storages.setdefault(id(storage), len(storages)))}
        elif n.op.effects.collective:
            raise Uncacheable("collectives")
        parts.append((_op_name(n.op), n.op.scalar, tuple(index[v] for v in n.inputs),
                      tuple((k, _attr(a)) for k, a in attrs.items()),
                      tuple((v.name, tuple(_attr(d) for d in v.type.shape), v.dtype.name)
                            for v in n.outputs), n.scope))
    return (tuple(parts), tuple(index[v] for v in inputs), tuple(index[v] for v in outputs),
            tuple((index[a], index[b]) for a, b in updates))


def _leading(graph, updates):
    """Nodes of inputs and updated variables that no output reads, which the target keeps
    ahead of the graph's nodes (passes/specialize.py)."""
    present = {id(n) for n in graph.nodes}
    leading = []
    for v in list(graph.inputs) + [var for var, _ in updates]:
        if id(v.node) not in present:
            present.add(id(v.node))
            leading.append(v.node)
    return leading


def spec_nodes(spec):
    """The nodes a target specializes, in its order."""
    return _leading(spec.graph, spec.updates), spec.graph.nodes


def program_key(spec, shapes, flags):
    """The key of the program compiled for feeds of these shapes (`flags`: everything else
    the code depends on: options, layout, library hash), or None if it cannot be keyed."""
    leading, nodes = spec_nodes(spec)
    try:
        parts = _graph_parts(leading, nodes, spec.graph.inputs, spec.graph.outputs,
                             spec.updates)
        stamp = source_stamp()
    except Exception:  # (Uncacheable; anything else: a graph compiling will judge)
        return None
    digest = hashlib.sha256()
    for part in (FORMAT, str(VERSION), repr(parts), repr([tuple(s) for s in shapes]), flags,
                 stamp, cache.environment()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


def spec_variables(spec):
    """The variable values of the spec, in the key's order (ProgramRecord.variables indexes
    them)."""
    leading, nodes = spec_nodes(spec)
    return [n.outputs[0] for n in list(leading) + list(nodes) if n.op is leaves.variable]


# ---- the entry ------------------------------------------------------------------------------
class Damaged(Exception):
    """An entry that does not describe a program: rebuilt."""


class ProgramRecord:
    """A generated program as data (JSON): what CompiledProgram runs, for one program and,
    nested, the body programs of its scans."""

    def __init__(self, layout, source, kernels, views, signatures, arenas, errors, parallel,
                 runtime_kernels, calls, subprograms, outputs=(), variables=()):
        self.layout = layout                # "kernels" or "whole"
        self.source = source                # the program's source (without the user's lines)
        self.kernels = kernels              # kernel layout: each kernel's module source
        self.views = views                  # (arena index, start, stop, shape, transposed)
        self.signatures = signatures        # (kernel, argument dtypes) to compile up front
        self.arenas = arenas                # (kind, dtype, size or constant data)
        self.errors = errors                # code - 1 -> (op name, message)
        self.parallel = parallel
        self.runtime_kernels = runtime_kernels
        self.calls = calls
        self.subprograms = subprograms      # ProgramRecords of scan bodies
        self.outputs = outputs              # the step's program: (shape, dtype name) per output
        self.variables = variables          # ... index into spec_variables per variable arg

    @classmethod
    def of(cls, generated, variables=None):
        """The record of a GeneratedProgram; `variables`: spec_variables (the step's program)."""
        kernels = generated.kernels
        record = cls(generated.layout, generated.source,
                     list(kernels) if kernels is not None else None,
                     [tuple(v) for v in generated.views],
                     list(getattr(generated, "signatures", [])),
                     list(generated.arenas), [(n.op.name, m) for n, m in generated.errors],
                     bool(generated.parallel), list(generated.runtime_kernels),
                     getattr(generated, "calls", 0),
                     [cls.of(sub) for sub in generated.subprograms])
        if variables is not None:
            where = {}
            for i, v in enumerate(variables):
                where.setdefault(id(v.node.attrs["storage"]), i)
            record.outputs = [(tuple(v.type.shape), v.dtype.name) for v in generated.plan.outputs]
            record.variables = [where[id(v.node.attrs["storage"])] for v in generated.variables]
        return record

    def to_json(self):
        return {"layout": self.layout, "source": self.source, "kernels": self.kernels,
                "views": [[int(k), int(a), int(b), [int(d) for d in s] if s else None, bool(t)]
                          for k, a, b, s, t in self.views],
                "signatures": [[int(k), [str(t) for t in d]] for k, d in self.signatures],
                "arenas": [[kind, dt, _encode_array(data) if kind == "const" else int(data)]
                           for kind, dt, data in self.arenas],
                "errors": [list(e) for e in self.errors], "parallel": self.parallel,
                "runtime_kernels": list(self.runtime_kernels),
                "subprograms": [s.to_json() for s in self.subprograms],
                "outputs": [[[int(n) for n in s], d] for s, d in self.outputs],
                "variables": [int(i) for i in self.variables], "calls": int(self.calls)}

    @classmethod
    def from_json(cls, doc, depth=0):
        """The record of a stored document; Damaged if anything in it is off."""
        _check(isinstance(doc, dict) and depth < 32, "not a program")
        layout, kernels = doc.get("layout"), doc.get("kernels")
        _check(layout in ("kernels", "whole") and isinstance(doc.get("source"), str), "layout")
        _check(kernels is None if layout == "whole" else _strs(kernels), "kernels")
        views = [_view(v) for v in _list(doc.get("views"))]
        signatures = [_signature(s, len(kernels or ())) for s in _list(doc.get("signatures"))]
        arenas = [_arena(a) for a in _list(doc.get("arenas"))]
        errors = _list(doc.get("errors"))
        _check(all(_strs(e) and len(e) == 2 for e in errors), "errors")
        errors = [tuple(e) for e in errors]
        _check(isinstance(doc.get("parallel"), bool) and _strs(doc.get("runtime_kernels"))
               and _ints(doc.get("variables")) and _ints([doc.get("calls")]), "fields")
        _check(all(0 <= k < len(arenas) for k, *_ in views), "views")
        outputs = []
        for out in _list(doc.get("outputs")):
            _check(isinstance(out, list) and len(out) == 2 and _ints(out[0]) and
                   out[1] in _DTYPES, "outputs")
            outputs.append((tuple(out[0]), out[1]))
        return cls(layout, doc["source"], kernels, views, signatures, arenas, errors,
                   doc["parallel"], doc["runtime_kernels"], doc["calls"],
                   [cls.from_json(s, depth + 1) for s in _list(doc.get("subprograms"))],
                   outputs, doc["variables"])


def _check(ok, what):
    if not ok:
        raise Damaged(what)


def _list(v):
    _check(isinstance(v, list), "a list")
    return v


def _strs(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _ints(v):
    return isinstance(v, list) and all(type(x) is int and x >= 0 for x in v)


def _view(v):
    _check(isinstance(v, list) and len(v) == 5 and _ints(v[:3]) and
           (v[3] is None or _ints(v[3])) and isinstance(v[4], bool), "a view")
    return (v[0], v[1], v[2], tuple(v[3]) if v[3] else None, v[4])


def _signature(s, kernels):
    _check(isinstance(s, list) and len(s) == 2 and type(s[0]) is int and 0 <= s[0] < kernels
           and _strs(s[1]) and all(d in _DTYPES or d == "size" for d in s[1]), "a signature")
    return (s[0], tuple(s[1]))


def _arena(a):
    _check(isinstance(a, list) and len(a) == 3 and a[0] in ("const", "work", "shared") and
           a[1] in _DTYPES, "an arena")
    if a[0] != "const":
        _check(type(a[2]) is int and 0 <= a[2] <= _MAX_ELEMENTS, "an arena size")
        return tuple(a)
    return ("const", a[1], _decode_array(a[2]))


def _encode_array(data):
    data = np.ascontiguousarray(data).reshape(-1)
    return {"dtype": data.dtype.name, "data": base64.b64encode(
        data.astype(data.dtype.newbyteorder("<")).tobytes()).decode("ascii")}


def _decode_array(spec):
    _check(isinstance(spec, dict) and spec.get("dtype") in _DTYPES and
           isinstance(spec.get("data"), str), "constants")
    try:
        raw = base64.b64decode(spec["data"].encode("ascii"), validate=True)
        dtype = np.dtype(spec["dtype"]).newbyteorder("<")
        _check(len(raw) % dtype.itemsize == 0, "constants")
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))
    except (ValueError, TypeError):
        raise Damaged("constants") from None


def load(key, spec, feeds):
    """The stored record of `key` if it fits this spec (inputs, outputs, variables), else
    None (missing, or damaged: then it is rebuilt and overwritten)."""
    payload = cache.read_entry(key)
    if payload is None:
        return None
    try:
        doc = json.loads(payload.decode("utf-8"))
        _check(isinstance(doc, dict) and doc.get("format") == FORMAT and
               doc.get("version") == VERSION and doc.get("key") == key, "header")
        _check(doc.get("inputs") == len(feeds), "inputs")
        record = ProgramRecord.from_json(doc.get("program"))
        variables = len(spec_variables(spec))
        _check(len(record.outputs) == len(spec.graph.outputs) and
               all(dtype == v.dtype.name for (_, dtype), v in
                   zip(record.outputs, spec.graph.outputs)) and
               all(i < variables for i in record.variables), "outputs or variables")
        return record
    except Exception:  # (Damaged, JSON, anything malformed: compiled from the graph)
        return None


def store(key, record, feeds):
    """Save the record under `key` (nothing is saved if it cannot be: the cache is an
    optimization, never a reason for a compile to fail)."""
    try:
        doc = {"format": FORMAT, "version": VERSION, "key": key, "inputs": len(feeds),
               "program": record.to_json()}
        payload = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return
    cache.write_entry(key, payload)
