"""graphc.scan: a loop in the IR, with jax.lax.scan's meaning.

    scan(f, init, xs, length=None, reverse=False) -> (final carry, stacked ys)

`f(carry, x) -> (carry, y)`; carry, x and y are each a tensor, a tuple/list of tensors
(nested freely) or None. On eager tensors scan is a plain Python loop of graphc ops (the tape
records every step, so eager mode is unchanged). On symbolic values it is ONE `scan` node:
`f` is traced once on placeholders of the per-step types into a closed body graph, and the
outer values it reads (parameters, any symbolic value built outside `f`) become explicit
inputs of the node. A compiler then compiles the body once and runs it T times, so compile
time does not grow with the sequence length.

The node: inputs = carries, xs (time-major), captured values; outputs = final carries,
stacked ys, and the carry entering each step (stacked, time-major). That last group is what
the gradient rule reads (a reverse scan over the vjp of the body); `scan` does not return it.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .eager.tensor import Tensor
from .errors import ShapeError, UnsupportedError, op_error
from .ir import graph as ir
from .ir.graph import Graph, Node, Value
from .ops import leaves
from .ops import elementwise as E
from .ops.registry import Op
from .types import TensorType, format_shape


# ---- trees: a leaf, None, or tuples/lists of trees -------------------------------------------
def _flatten(tree):
    if tree is None:
        return [], None
    if isinstance(tree, (tuple, list)):
        leaves_, defs = [], []
        for item in tree:
            sub, d = _flatten(item)
            leaves_ += sub
            defs.append((len(sub), d))
        return leaves_, (type(tree), defs)
    return [tree], "leaf"


def _unflatten(treedef, items):
    items = list(items)
    if treedef is None:
        return None
    if treedef == "leaf":
        return items[0]
    kind, defs = treedef
    out, k = [], 0
    for n, d in defs:
        out.append(_unflatten(d, items[k:k + n]))
        k += n
    return kind(out)


def _is_symbolic(leaves_):
    return Tensor._trace is not None or any(isinstance(x, Value) for x in leaves_)


# ---- the public function ---------------------------------------------------------------------
def scan(f, init, xs=None, length=None, reverse=False):
    """Loop `f` over the leading (time) axis of `xs`, threading a carry (jax.lax.scan).

    Returns (final carry, ys) where ys stacks the per-step `y`s on a new leading axis, in
    time order (also when reverse=True, which walks the steps from last to first). `length`
    is the number of steps; it must equal every x's leading dim, and is required when
    xs is None. Differentiable with respect to init, xs and every value `f` reads.
    """
    carry_leaves, carry_def = _flatten(init)
    x_leaves, x_def = _flatten(xs)
    x_leaves = [x if hasattr(x, "shape") else np.asarray(x) for x in x_leaves]
    steps = _length(x_leaves, length)
    if not _is_symbolic(carry_leaves + x_leaves):
        from .dispatch import _as_tensor
        init = _unflatten(carry_def, [_as_tensor(c, None) for c in carry_leaves])
        x_leaves = [_as_tensor(x, None) for x in x_leaves]
        return _eager_scan(f, init, x_leaves, x_def, steps, reverse)
    from .dispatch import _as_value
    carry_leaves = [_as_value(c, None) for c in carry_leaves]
    x_leaves = [_as_value(x, None) for x in x_leaves]
    body, y_def, captured = trace_body(f, carry_def, [c.type for c in carry_leaves], x_def,
                                       [_step_type(x.type) for x in x_leaves])
    outs = scan_op(*carry_leaves, *x_leaves, *captured, body=body,
                   num_carry=len(carry_leaves), num_xs=len(x_leaves), length=steps,
                   reverse=bool(reverse))
    outs = list(outs)
    nc, ny = len(carry_leaves), len(body.outputs) - len(carry_leaves)
    return _unflatten(carry_def, outs[:nc]), _unflatten(y_def, outs[nc:nc + ny])


def _length(x_leaves, length):
    dims = {x.shape[0] for x in x_leaves if len(x.shape) > 0}
    if any(len(x.shape) == 0 for x in x_leaves):
        raise op_error(ShapeError, "scan", "every x must have a leading (time) axis, got a "
                       "0-dim value")
    if length is not None:
        length = int(length)
        if length < 0:
            raise op_error(ValueError, "scan", f"length must be >= 0, got {length}")
    known = {d for d in dims if isinstance(d, (int, np.integer))}
    if len(known) > 1 or (length is not None and known and known != {length}):
        shapes = ", ".join(format_shape(x.shape) for x in x_leaves)
        raise op_error(ShapeError, "scan", f"the xs disagree on the number of steps (leading "
                       f"dims of {shapes}" + (f", length={length}" if length is not None
                                              else "") + ")")
    if length is None:
        if not x_leaves:
            raise op_error(ValueError, "scan", "length is required when xs is None")
        if not known:
            raise op_error(UnsupportedError, "scan", "the number of steps (the xs' leading "
                           "dim) must be known when the graph is built; pass length=")
        length = int(known.pop())
    return length


def _step_type(t):
    return TensorType(t.shape[1:], t.dtype)


def _eager_scan(f, init, x_leaves, x_def, steps, reverse):
    if steps == 0:
        raise op_error(UnsupportedError, "scan", "zero steps on eager tensors: the ys' shapes "
                       "are unknown without running f (use length >= 1)")
    carry, ys = init, []
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        x = _unflatten(x_def, [leaf[t] for leaf in x_leaves])
        before = _flatten(carry)[0]
        carry, y = _call(f, carry, x)
        _check_carry(before, _flatten(carry)[0])
        ys.append(y)
    if reverse:
        ys.reverse()
    y_leaves = [_flatten(y)[0] for y in ys]
    y_def = _flatten(ys[0])[1]
    stacked = [F.stack([y[k] for y in y_leaves], 0) for k in range(len(y_leaves[0]))]
    return carry, _unflatten(y_def, stacked)


def _call(f, carry, x):
    out = f(carry, x)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise op_error(TypeError, "scan", "f(carry, x) must return a pair (new carry, y), got "
                       f"{type(out).__name__}")
    return out


def _check_carry(before, after):
    if len(before) != len(after):
        raise op_error(ShapeError, "scan", f"f returned a carry of {len(after)} tensors for a "
                       f"carry of {len(before)}: the carry's structure must not change")
    for k, (a, b) in enumerate(zip(before, after)):
        ta = (tuple(a.shape), a.dtype)
        tb = (tuple(b.shape), b.dtype)
        if ta != tb:
            raise op_error(ShapeError, "scan", f"carry {k} enters f as "
                           f"{format_shape(a.shape)} {a.dtype.name} and leaves it as "
                           f"{format_shape(b.shape)} {b.dtype.name}: a carry must keep its "
                           f"shape and dtype (cast or reshape it inside f)")


# ---- tracing the body ------------------------------------------------------------------------
def trace_body(f, carry_def, carry_types, x_def, x_types):
    """Trace f once on placeholders: (closed body graph, ys' tree, captured outer values).

    Body inputs: carries, xs (one step each), then one placeholder per captured value; body
    outputs: new carries, then ys. Values made before tracing began (node ids are increasing),
    variables and outer placeholders are captured; constants are copied into the body.
    """
    from .ir.build import placeholder
    first_id = next(ir._ids)
    c_in = [placeholder(t.shape, t.dtype, name=f"carry{k}") for k, t in enumerate(carry_types)]
    x_in = [placeholder(t.shape, t.dtype, name=f"x{k}") for k, t in enumerate(x_types)]
    own = {id(v) for v in c_in + x_in}
    carry, y = _call(f, _unflatten(carry_def, c_in), _unflatten(x_def, x_in))
    c_out, out_def = _flatten(carry)
    if _skeleton(out_def) != _skeleton(carry_def) and not (carry_def == "leaf"
                                                           and len(c_out) == 1):
        raise op_error(ShapeError, "scan", f"f changed the carry's structure: it got "
                       f"{_describe(carry_def)} and returned {_describe(out_def)}")
    y_out, y_def = _flatten(y)
    c_out, y_out = [_symbolic(v) for v in c_out], [_symbolic(v) for v in y_out]
    _check_carry(c_in, c_out)

    # the body: nodes between our placeholders and the outputs, cut at outer values
    mapping, captured, nodes = {}, [], []
    for v in c_in + x_in:
        mapping[v] = v
        nodes.append(v.node)

    def boundary(v):
        n = v.node
        if id(v) in own:
            return False
        return n.op is leaves.variable or n.op is leaves.placeholder or (
            n.id < first_id and n.op is not leaves.constant)

    order = _topological(c_out + y_out, boundary)
    for n in order:
        for v in n.inputs:
            if v not in mapping and boundary(v):
                ph = Node(leaves.placeholder, (), {"name": f"captured{len(captured)}",
                                                   "type": v.type}, [v.type], n.location,
                          [f"captured{len(captured)}"]).outputs[0]
                mapping[v] = ph
                captured.append(v)
                nodes.append(ph.node)
        if n.op.effects.random:
            raise op_error(UnsupportedError, "scan", f"{n.op.name} inside a scan body is not "
                           f"supported (random ops draw per call site, not per step)",
                           n.location)
        if id(n.outputs[0]) in own:
            continue
        new = Node(n.op, [mapping[v] for v in n.inputs], n.attrs, [v.type for v in n.outputs],
                   n.location, [v.name for v in n.outputs])
        new.scope = n.scope
        for old, v in zip(n.outputs, new.outputs):
            mapping[old] = v
        nodes.append(new)
    outputs = []
    for v in c_out + y_out:
        if v not in mapping:  # the body returns an outer value itself
            mapping[v] = Node(leaves.placeholder, (), {"name": f"captured{len(captured)}",
                                                       "type": v.type}, [v.type], None,
                              [f"captured{len(captured)}"]).outputs[0]
            captured.append(v)
            nodes.append(mapping[v].node)
        outputs.append(mapping[v])
    ph_nodes = [n for n in nodes if n.op is leaves.placeholder]
    rest = [n for n in nodes if n.op is not leaves.placeholder]
    inputs = c_in + x_in + [mapping[v] for v in captured]
    body = Graph(ph_nodes + rest, inputs, outputs)
    return body, y_def, captured


def _skeleton(treedef):
    """A tree's nesting without its container types (a list may stand for a tuple)."""
    if treedef is None or treedef == "leaf":
        return treedef
    return tuple((n, _skeleton(d)) for n, d in treedef[1])


def _describe(treedef):
    if treedef is None:
        return "None"
    if treedef == "leaf":
        return "a tensor"
    kind, defs = treedef
    return f"a {kind.__name__} of {len(defs)}"


def _symbolic(v):
    if isinstance(v, Value):
        return v
    from .dispatch import _as_value
    return _as_value(v, None)


def _topological(outputs, boundary):
    """Nodes the outputs reach without crossing a boundary value, in topological order."""
    from .ir.graph import topological_order
    return topological_order(outputs, boundary)


def inline(body, args):
    """Apply the body graph's ops to `args` (values or tensors): its outputs, as a list."""
    env = {id(p): a for p, a in zip(body.inputs, args)}
    for n in body.nodes:
        if n.op is leaves.placeholder:
            continue
        if n.op.is_leaf:
            env[id(n.outputs[0])] = n.outputs[0]
            continue
        attrs = {k: a for k, a in n.attrs.items()}
        result = n.op(*[env[id(v)] for v in n.inputs], **attrs)
        results = result if isinstance(result, (tuple, list)) else (result,)
        for old, new in zip(n.outputs, results):
            env[id(old)] = new
    return [env[id(v)] for v in body.outputs]


# ---- the op ----------------------------------------------------------------------------------
def _split(seq, attrs):
    nc, nx = attrs["num_carry"], attrs["num_xs"]
    return list(seq[:nc]), list(seq[nc:nc + nx]), list(seq[nc + nx:])


def _normalize(in_types, attrs):
    """Specialize the body to the per-step types of the inputs (a symbolic batch dim of the
    outer graph becomes the concrete size of this call)."""
    body, steps = attrs["body"], attrs["length"]
    carries, xs, consts = _split(in_types, attrs)
    want = carries + [_step_type(t) for t in xs] + consts
    if len(want) != len(body.inputs):
        raise ValueError(f"the body has {len(body.inputs)} inputs, the node {len(want)}")
    for t in xs:
        if isinstance(t.shape[0], int) and t.shape[0] != steps:
            raise ValueError(f"an x has {t.shape[0]} steps, the scan {steps}")
    if all(a == p.type for a, p in zip(want, body.inputs)):
        return attrs
    for a, p in zip(want, body.inputs):
        if a.dtype is not p.dtype or len(a.shape) != len(p.shape) or any(
                isinstance(d, int) and isinstance(e, int) and d != e
                for d, e in zip(a.shape, p.shape)):
            raise ValueError(f"body input {p.name} is {p.type}, the node gives {a}")
    from .passes.specialize import specialize
    new = specialize(body, {p: a for p, a in zip(body.inputs, want)})
    return {**attrs, "body": Graph(new.nodes, new.inputs, new.outputs)}


def _infer(in_types, body, num_carry, num_xs, length, reverse):
    outs = [v.type for v in body.outputs]
    if len(outs) < num_carry or len(in_types) < num_carry + num_xs:
        raise ValueError(f"the body returns {len(outs)} values for {num_carry} carries")
    carries = outs[:num_carry]
    stacked = [TensorType((length,) + tuple(t.shape), t.dtype) for t in outs[num_carry:]]
    saved = [TensorType((length,) + tuple(t.shape), t.dtype) for t in carries]
    for a, b in zip(in_types[:num_carry], carries):
        if tuple(a.shape) != tuple(b.shape) or a.dtype is not b.dtype:
            raise ValueError(f"the body turns a carry of {a} into {b}")
    return carries + stacked + saved


def run_reference(graph, feeds):
    """Outputs of a closed graph on NumPy arrays, node by node (the reference target)."""
    from types import SimpleNamespace

    from .backends.reference import ReferenceRunner
    spec = SimpleNamespace(graph=graph, outputs=graph.outputs, update_values=[])
    return ReferenceRunner(spec)(list(feeds))[0]


def _reference(*arrays, body, num_carry, num_xs, length, reverse):
    carries, xs, consts = _split(arrays, {"num_carry": num_carry, "num_xs": num_xs})
    carries = [np.array(c) for c in carries]
    ys = [None] * length
    saved = [np.empty((length,) + c.shape, c.dtype) for c in carries]
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        for s, c in zip(saved, carries):
            s[t] = c
        outs = run_reference(body, carries + [x[t] for x in xs] + consts)
        carries = [np.array(o) for o in outs[:num_carry]]
        ys[t] = outs[num_carry:]
    if length:
        stacked = [np.stack([y[k] for y in ys]) for k in range(len(body.outputs) - num_carry)]
    else:  # no step ran: the ys' per-step shapes are the body's (concrete after specialize)
        stacked = [np.empty((0,) + tuple(d if isinstance(d, int) else 0 for d in v.type.shape),
                            v.dtype.np) for v in body.outputs[num_carry:]]
    return tuple(carries + stacked + saved)


def _vjp(ctx, *grads):
    """Reverse scan over the body's vjp, fed with the saved carries; captured values'
    cotangents are summed over the steps in the backward carry."""
    a = ctx.attrs
    body, nc = a["body"], a["num_carry"]
    init, xs, consts = _split(ctx.inputs, a)
    ny = len(body.outputs) - nc
    saved = list(ctx.outputs[nc + ny:])
    if len(grads) < nc + ny or any(not v.dtype.is_floating_point for v in ctx.outputs):
        raise op_error(UnsupportedError, "scan", "differentiating a scan with integer carries "
                       "or ys is not supported")
    g_carry, g_ys = list(grads[:nc]), list(grads[nc:nc + ny])
    # the saved carries reach the loss only through a gradient of this scan (second order):
    # their cotangents join the carry's at each step
    g_saved = [None if _is_zero_fill(g) else g for g in grads[nc + ny:nc + ny + nc]]
    extra = [k for k, g in enumerate(g_saved) if g is not None]
    wrt_consts = [k for k, c in enumerate(consts) if c.dtype.is_floating_point]
    wrt_xs = [k for k, x in enumerate(xs) if x.dtype.is_floating_point]
    backward = _body_vjp(body, nc, len(xs), wrt_xs, wrt_consts)

    def step(carry, x):
        gc, acc = list(carry[:nc]), list(carry[nc:])
        x = list(x)
        c_t, x_t = x[:nc], x[nc:nc + len(xs)]
        gy_t, gs_t = x[nc + len(xs):nc + len(xs) + ny], x[nc + len(xs) + ny:]
        gs = inline(backward, c_t + x_t + consts + gc + gy_t)
        g_prev = list(gs[:nc])
        for k, g in zip(extra, gs_t):
            g_prev[k] = F.add(g_prev[k], g)
        g_x = gs[nc:nc + len(wrt_xs)]
        acc = [F.add(s, g) for s, g in zip(acc, gs[nc + len(wrt_xs):])]
        return tuple(g_prev + acc), tuple(g_x)

    init_b = tuple(g_carry + [F.zeros_like(consts[k]) for k in wrt_consts])
    xs_b = tuple(saved + xs + g_ys + [g_saved[k] for k in extra])
    final, g_xs = scan(step, init_b, xs_b, length=a["length"], reverse=not a["reverse"])
    g_xs_all = [None] * len(xs)
    for k, g in zip(wrt_xs, g_xs):
        g_xs_all[k] = g
    g_consts = [None] * len(consts)
    for k, g in zip(wrt_consts, final[nc:]):
        g_consts[k] = g
    return list(final[:nc]) + g_xs_all + g_consts


def _is_zero_fill(g):
    """A cotangent autodiff filled in for an unused output (zeros_like)."""
    return g is None or (isinstance(g, Value) and g.node.op is E.full_like
                         and np.all(np.asarray(g.node.attrs.get("value")) == 0))


def _body_vjp(body, nc, nx, wrt_xs, wrt_consts):
    """The body's vjp as a closed graph: (carries, xs, captured, carry cotangents, y
    cotangents) -> (carry cotangents, cotangents of the float xs and captured values)."""
    from .static_grad import grad
    from .ir.build import placeholder
    ins = [placeholder(v.type.shape, v.dtype, name=v.name) for v in body.inputs]
    g_outs = [placeholder(v.type.shape, v.dtype, name=f"g_{v.name or k}")
              for k, v in enumerate(body.outputs)]
    outs = inline(body, ins)
    consts = ins[nc + nx:]
    wrt = ins[:nc] + [ins[nc + k] for k in wrt_xs] + [consts[k] for k in wrt_consts]
    gs = grad(outs, wrt, grad_outputs=g_outs)
    return Graph.from_outputs(gs, inputs=ins + g_outs)


scan_op = Op("scan", num_inputs=None, num_outputs=None, infer=_infer, reference=_reference,
             vjp=_vjp, normalize=_normalize, family="control", saves=("inputs", "outputs"),
             defaults={"body": None, "num_carry": 0, "num_xs": 0, "length": 0,
                       "reverse": False},
             doc="A loop: runs the body graph once per step of the leading axis of its xs, "
                 "threading the carries (graphc.scan).")


def is_scan(node):
    return node.op is scan_op


__all__ = ["scan", "scan_op", "trace_body", "inline", "run_reference", "is_scan"]
