"""Pictures and text of an eager tensor's tape: its grad_fn chain, like torchviz's make_dot.

Boxes are tape entries named like PyTorch's grad_fn (MulBackward0 ...), leaves that require
grad (blue, like AccumulateGrad) and the tensors drawn from (green). Arrows follow the
forward direction: from the entries that made an input to the entry that used it.
"""
from __future__ import annotations

from ..errors import GraphcError
from ..eager import tape
from ..types import TensorType, format_shape
from .picture import Arrow, Box, Picture


def tape_entries(tensors):
    """Tape entries reachable from the tensors' grad_fn, inputs before users."""
    return tape.tape_entries(
        [t.grad_fn for t in tensors],
        lambda entry: GraphcError(
            f"the tape behind {entry.name()} was freed by backward(): draw the tensor "
            f"before calling backward(), or call backward(retain_graph=True)"))


def _check(tensors):
    for t in tensors:
        if not t.requires_grad:
            raise GraphcError(
                f"this tensor ({t.dtype.name}{format_shape(t.shape)}) has no tape to draw: it "
                f"does not require grad. Make a leaf with requires_grad=True before computing "
                f"it (outside graphc.no_grad())")


def _leaf_label(t, params):
    shape = format_shape(t.shape)
    name = params.get(id(t)) or t.name
    return f"{name}\n{shape}" if name else shape


def tape_picture(tensors, params=None) -> Picture:
    """params: {name: tensor} naming leaves, e.g. dict(model.named_parameters())."""
    _check(tensors)
    params = {id(t): name for name, t in (params or {}).items()}
    pic = Picture("eager tape")
    entries = tape_entries(tensors)
    for entry in entries:
        for e in entry.edges:  # an edge: (entry that made the input, i), a leaf, or None
            if e is not None and type(e) is not tuple and f"t{id(e)}" not in pic.boxes:
                pic.add(Box(f"t{id(e)}", _leaf_label(e, params), "tape_leaf"))
        pic.add(Box(f"e{id(entry)}", entry.name(), "tape_op"))
        for e in entry.edges:
            if type(e) is tuple:
                pic.arrows.append(Arrow(f"e{id(e[0])}", f"e{id(entry)}"))
            elif e is not None:
                pic.arrows.append(Arrow(f"t{id(e)}", f"e{id(entry)}"))
    for i, t in enumerate(tensors):
        label = f"{t.name or 'output'}\n{format_shape(t.shape)}"
        if t.grad_fn is None:  # a leaf drawn on its own
            pic.add(Box(f"t{id(t)}", _leaf_label(t, params), "tape_leaf", output=True))
            continue
        pic.add(Box(f"r{i}", label, "tape_root", output=True))
        pic.arrows.append(Arrow(f"e{id(t.grad_fn)}", f"r{i}"))
    return pic


def _type(t):
    return repr(TensorType(tuple(t.shape), t.dtype))


def format_tape(tensors) -> str:
    """The tape as text: one recorded op a line, in the order the ops ran."""
    _check(tensors)
    entries = tape_entries(tensors)
    # values are named by their edge (the entry that made them), so that the versions of a
    # tensor written in place get names of their own
    names, leaves = {}, []

    def key(t, edge):
        return tape.edge_key(edge) if edge is not None else ("const", id(t))
    for entry in entries:
        for t, e in zip(entry.inputs, entry.edges):
            if type(e) is not tuple and key(t, e) not in names:
                names[key(t, e)] = f"%{t.name}" if t.name else f"%in{len(leaves)}"
                leaves.append((t, names[key(t, e)]))
        for k in entry.keys()[0]:
            names[k] = f"%{len(names) - len(leaves)}"
    args = ", ".join(f"{name}: {_type(t)}{' (requires grad)' if t.requires_grad else ''}"
                     for t, name in leaves)
    lines = [f"tape({args}) {{"]
    for entry in entries:
        ins = ", ".join(names[key(t, e)] for t, e in zip(entry.inputs, entry.edges))
        outs = ", ".join(names[k] for k in entry.keys()[0])
        types = ", ".join(_type(o) for o in entry.outputs)
        lines.append(f"  {f'{outs} = {entry.op.name}({ins}) : {types}':<56}  # {entry.name()}")
    lines.append("  return " + ", ".join(names.get(key(t, tape.edge_of(t)), "?")
                                         for t in tensors))
    lines.append("}")
    return "\n".join(lines)
