"""The graph IR: SSA nodes in topological order, typed values, leaves as nodes.

There is no global "current graph": a graph is what the outputs reach. Building happens as
ops are applied to symbolic values; `Graph.from_outputs` collects the reachable nodes.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np

from ..ops import leaves
from ..tensor_methods import TensorMethods
from ..types import TensorType, format_shape

_ids = itertools.count()


# The scopes being built in (innermost last): graphc.nn modules push their qualified name
# while a symbolic forward runs, so that tools can group a module's nodes.
_scopes: list[str] = []


@contextlib.contextmanager
def name_scope(name: str):
    """Nodes made inside get `node.scope == name` (innermost scope wins)."""
    _scopes.append(name)
    try:
        yield
    finally:
        _scopes.pop()


def current_scope():
    return _scopes[-1] if _scopes else None


class Node:
    """One application of an op: inputs (values), static attributes, typed outputs."""

    __slots__ = ("op", "inputs", "attrs", "outputs", "location", "id", "scope")

    def __init__(self, op, inputs, attrs, out_types, location=None, names=None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.location = location
        self.scope = _scopes[-1] if _scopes else None
        self.id = next(_ids)
        names = names or [None] * len(out_types)
        self.outputs = tuple(Value(self, i, t, n) for i, (t, n) in enumerate(zip(out_types, names)))

    @property
    def is_leaf(self) -> bool:
        return self.op.is_leaf

    def __repr__(self):
        return f"<node {self.op.name} #{self.id}>"




# Set by graphc.jit while it traces a function (kept as a hook: ir never imports jit).
trace_backward = None


class _ValueType(TensorType):
    """A value's TensorType that is also PyTorch's `x.type(...)` method: x.type() gives the
    type string, x.type(dtype) a cast (so torch code runs on symbolic values)."""

    __slots__ = ("_value",)

    def __init__(self, type_, value):
        self.shape, self.dtype, self._value = type_.shape, type_.dtype, value

    def __call__(self, dtype=None, non_blocking=False, **kwargs):
        return TensorMethods.type(self._value, dtype, non_blocking, **kwargs)


class Value(TensorMethods):
    """A symbolic tensor: one output of a node. Supports the same operators as eager tensors."""

    # grad_of: the variables whose gradient this value is (set by graphc.grad), so that
    # graphc.compile(distributed=True) finds the parameter gradients to average; saved in
    # the JSON format's "gradients" (docs/ir.md)
    __slots__ = ("node", "index", "type", "name", "grad_of", "__weakref__")
    is_symbolic = True
    requires_grad = False

    def __init__(self, node, index, type_: TensorType, name=None):
        self.node, self.index, self.type, self.name = node, index, _ValueType(type_, self), name
        self.grad_of = ()

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def ndim(self):
        return len(self.type.shape)

    def __hash__(self):
        return id(self)

    def __bool__(self):
        from ..errors import ConcretizationError
        raise ConcretizationError(
            "the truth value of a symbolic value is unknown while the graph is built: Python "
            "control flow (if/while/and/or) cannot depend on it. Use graphc.where(cond, a, b) "
            "to select values, or compute the condition eagerly before building the graph.")

    def _concrete(self, what):
        from ..errors import ConcretizationError
        raise ConcretizationError(f"{what} needs a concrete value, but this value is symbolic "
                                  f"(its value exists only when the compiled graph runs)")

    def __float__(self): self._concrete("float()")
    def __int__(self): self._concrete("int()")
    def __index__(self): self._concrete("using a value as an index")
    def item(self): self._concrete(".item()")
    def numpy(self): self._concrete(".numpy()")
    def tolist(self): self._concrete(".tolist()")
    def __array__(self, dtype=None, copy=None): self._concrete("converting to a NumPy array")

    def register_hook(self, hook):
        from ..errors import UnsupportedError
        raise UnsupportedError("register_hook on a symbolic value (graphc.jit, static graphs): "
                               "gradient hooks run in eager backward only; transform the "
                               "gradient where graphc.grad returns it instead")

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Inside graphc.jit: symbolic gradients of this value for the parameters it reaches,
        set as their `.grad` (so an eager training step traces unchanged)."""
        if trace_backward is None:
            from ..errors import UnsupportedError
            raise UnsupportedError("Value.backward() works inside a function traced by "
                                   "graphc.jit; in a static graph use graphc.grad(loss, wrt)")
        trace_backward(self, gradient)

    def __repr__(self):
        label = f" {self.name!r}" if self.name else ""
        return f"<graphc.Value{label} {self.type} from {self.node.op.name}>"


def tag_gradient(g, variable):
    """Record that value g is the gradient of `variable` (Value.grad_of)."""
    if not any(v is variable for v in g.grad_of):
        g.grad_of = g.grad_of + (variable,)


def topological_order(outputs, boundary=None):
    """The nodes the outputs reach (not crossing a value for which boundary(value) is true),
    in topological order: depth-first, iterative."""
    order, seen = [], set()
    for root in outputs:
        if boundary is not None and boundary(root):
            continue
        stack = [(root.node, False)]
        while stack:
            node, expanded = stack.pop()
            if node.id in seen:
                continue
            if expanded:
                seen.add(node.id)
                order.append(node)
                continue
            stack.append((node, True))
            for v in reversed(node.inputs):
                if v.node.id not in seen and (boundary is None or not boundary(v)):
                    stack.append((v.node, False))
    return order


class Graph:
    """Nodes in topological order, with the graph's inputs (placeholders) and outputs, and the
    variable updates of a training step ((variable value, new value) pairs; graphc.compile
    runs them after each call)."""

    def __init__(self, nodes, inputs, outputs, updates=()):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = list(updates)

    @classmethod
    def from_outputs(cls, outputs, inputs=None):
        """All nodes the outputs depend on, in topological order (depth-first, iterative)."""
        outputs = list(outputs)
        order = topological_order(outputs)
        if inputs is None:
            inputs = [n.outputs[0] for n in order if n.op is leaves.placeholder]
        return cls(order, inputs, outputs)

    @property
    def variables(self):
        return [n.outputs[0] for n in self.nodes if n.op is leaves.variable]

    @property
    def placeholders(self):
        return [n.outputs[0] for n in self.nodes if n.op is leaves.placeholder]

    def users(self):
        """Map value -> list of nodes that read it."""
        out = {}
        for n in self.nodes:
            for v in n.inputs:
                out.setdefault(v, []).append(n)
        return out

    def to_networkx(self):
        """A networkx.MultiDiGraph: one vertex per node id, one edge per value use."""
        import networkx as nx
        g = nx.MultiDiGraph()
        for n in self.nodes:
            g.add_node(n.id, op=n.op.name, attrs=n.attrs,
                       types=[repr(v.type) for v in n.outputs], node=n)
            for v in n.inputs:
                g.add_edge(v.node.id, n.id, index=v.index, type=repr(v.type))
        return g

    def format(self, locations=False):
        return format_graph(self, locations=locations)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"<graphc.Graph {len(self.nodes)} nodes, {len(self.inputs)} inputs, " \
               f"{len(self.outputs)} outputs" + \
               (f", {len(self.updates)} updates>" if self.updates else ">")


def clone_node(node, inputs, attrs, out_types):
    """A copy of `node` on other inputs, attributes or types: same op, user's line, names and
    scope (here, not among the passes, so that graphc.compile's numbering of random sites
    imports no pass)."""
    copy = Node(node.op, inputs, attrs, out_types, node.location, [v.name for v in node.outputs])
    copy.scope = node.scope
    return copy


def value_names(graph):
    """Readable, unique SSA names: user names where given, else %0, %1, ..."""
    names, used, counter = {}, set(), itertools.count()
    for n in graph.nodes:
        for v in n.outputs:
            base = v.name
            if base:
                name, k = base, 1
                while name in used:
                    name, k = f"{base}.{k}", k + 1
            else:
                name = str(next(counter))
                while name in used:
                    name = str(next(counter))
            used.add(name)
            names[v] = "%" + name
    return names


def _format_attr(v):
    if isinstance(v, Graph):  # a loop body: printed in full below its node
        return f"<graph {len(v.nodes)} nodes>"
    if isinstance(v, np.ndarray):
        if v.size == 1:
            return str(v.reshape(())[()])  # NumPy's shortest repr: 0.1 for float32 too
        return f"<{v.dtype} {format_shape(v.shape)}>"
    return repr(v)


def format_graph(graph, locations=False):
    names = value_names(graph)
    args = ", ".join(f"{names[v]}: {v.type}" for v in graph.inputs)
    lines = [f"graph({args}) {{"]
    for n in graph.nodes:
        if n.op is leaves.placeholder:
            continue
        outs = ", ".join(names[v] for v in n.outputs)
        types = ", ".join(repr(v.type) for v in n.outputs)
        ins = ", ".join(names[v] for v in n.inputs)
        attrs = ", ".join(f"{k}={_format_attr(a)}" for k, a in n.attrs.items()
                          if k != "storage" and a is not None)
        if n.op is leaves.constant:
            attrs = _format_attr(n.attrs["value"])
        elif n.op is leaves.variable:
            attrs = repr(n.attrs["name"]) if n.attrs["name"] else ""
        body = ", ".join(x for x in (ins, attrs) if x)
        line = f"  {outs} = {n.op.name}({body}) : {types}"
        if locations and n.location is not None:
            line = f"{line:<60}  # {n.location}"
        lines.append(line)
        for key, sub in n.attrs.items():
            if isinstance(sub, Graph):  # a scan's body, indented under its node
                lines.append(f"    {key}:")
                lines += ["    " + text for text in format_graph(sub, locations).split("\n")]
    lines.append("  return " + ", ".join(names[v] for v in graph.outputs))
    lines.append("}")
    if graph.updates:
        lines.append("updates {")
        lines += [f"  {names[var]} <- {names[new]}" for var, new in graph.updates]
        lines.append("}")
    gradients = _gradient_lines(graph, names)
    if gradients:
        lines += ["gradients {"] + gradients + ["}"]
    return "\n".join(lines)


def _gradient_lines(graph, names):
    """`  grad %w = %12` for each value graphc.grad tagged (Value.grad_of) whose variable
    is in this graph: what compile(distributed=True) averages across ranks."""
    name_of = {id(v): name for v, name in names.items()}  # ids: a Value's == builds a node
    return [f"  grad {name_of[id(var)]} = {name_of[id(v)]}"
            for n in graph.nodes for v in n.outputs for var in v.grad_of
            if id(var) in name_of]
