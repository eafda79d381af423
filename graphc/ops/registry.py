"""The op contract: every primitive op is one `Op` object, declared once.

An op carries its signature (inputs, outputs, attribute defaults), its type rule, its NumPy
reference (the op's meaning), its gradient rule (a vector-Jacobian product written with
graphc ops, so static autodiff and eager backward share it) and a lowering hint for the
compilers. Calling an op goes through one dispatcher, installed by `graphc.dispatch`, that
builds a graph node for symbolic inputs or runs the op at once on eager tensors.
"""
from __future__ import annotations

from typing import Callable

from ..types import TensorType

REGISTRY: dict[str, "Op"] = {}

# Installed by graphc.dispatch; kept as a hook so that ops never import the modes above them.
dispatch: Callable = None  # type: ignore[assignment]


class Op:
    """A primitive operation.

    infer(in_types, **attrs) -> list[TensorType]: raises ValueError (shapes) or TypeError
        (dtypes) with a plain message; the dispatcher adds the op name and the user's line.
    reference(*arrays, **attrs) -> array or tuple of arrays: plain NumPy.
    vjp(ctx, *grads) -> one cotangent (or None) per input; ctx has .inputs, .outputs,
        .attrs and .needs_input_grad. Written with graphc ops, so it builds nodes in static
        mode and computes at once in eager mode.
    differentiable: False for ops whose outputs carry no gradient (comparisons, argmax,
        integer results): their outputs are constants to autodiff. A differentiable op
        without a vjp makes backward raise (never silently zero gradients), as in JAX; ops
        with no inputs (leaves) are never differentiated. A derivative that is zero almost
        everywhere (sign, floor) is a rule returning zeros, as in PyTorch.
    coerce(dtypes, weak) -> per input, the dtype to cast it to before the op (or None).
    normalize(in_types, attrs) -> attrs in canonical form (negative dims made positive, ...).
    lowering: how the compilers implement it: {"template": "..."} for fusable elementwise
        ops, {"kernel": "name"} for runtime kernels.
    saves: which of "inputs"/"outputs" the gradient rule reads the values of; an eager
        in-place write to one of those makes backward raise, as in PyTorch.
    eager: optional faster stand-in for `reference` in eager mode (same signature and result),
        e.g. a runtime kernel; None runs the reference.
    """

    eager = None
    # reads(needs_input_grad) -> (indices of the inputs the vjp reads, whether it reads the
    # outputs, or the indices of the outputs it reads): narrows `saves` for rules that read
    # an input only for another's gradient (mul) or one output only (max_pool2d's indices),
    # so that eager in-place writes raise only where PyTorch's do. None: `saves`.
    reads = None

    def __init__(self, name, *, infer, reference, vjp=None, num_inputs=1, num_outputs=1,
                 defaults=None, coerce=None, normalize=None, lowering=None, kind="other",
                 saves=("inputs", "outputs"), differentiable=True, doc=""):
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is defined twice")
        if vjp is not None and not differentiable:
            raise ValueError(f"op {name!r}: a gradient rule was given for an op declared "
                             f"non-differentiable")
        self.name = name
        self.infer = infer
        self.reference = reference
        self.vjp = vjp
        # gradients flow through it (by its rule, or backward raises for lack of one)
        self.differentiable = bool(differentiable) and num_inputs != 0
        self.num_inputs = num_inputs  # None: any number (cat)
        self.num_outputs = num_outputs
        self.defaults = dict(defaults or {})
        self.coerce = coerce
        self.normalize = normalize
        self.lowering = dict(lowering or {})
        self.kind = kind
        self.saves = saves  # what vjp reads besides shapes: eager in-place checks use it
        self.__doc__ = doc
        REGISTRY[name] = self

    def __call__(self, *inputs, **attrs):
        return dispatch(self, inputs, attrs)

    def __repr__(self):
        return f"<op {self.name}>"


class VJPContext:
    """What a gradient rule sees of one application of its op."""

    __slots__ = ("inputs", "outputs", "attrs", "needs_input_grad")

    def __init__(self, inputs, outputs, attrs, needs_input_grad):
        self.inputs, self.outputs, self.attrs = inputs, outputs, attrs
        self.needs_input_grad = needs_input_grad


def get_op(name: str) -> Op:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def same_type(in_types, **attrs):
    return [in_types[0]]


def normalize_dim(dim: int, ndim: int, op_name: str = "") -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % max(ndim, 1)


def normalize_dims(dims, ndim: int):
    """None -> all dims; an int or a sequence -> a sorted tuple of non-negative dims."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = tuple(sorted(normalize_dim(int(d), ndim) for d in dims))
    if len(set(out)) != len(out):
        raise ValueError(f"dim {tuple(dims)} repeats a dimension")
    return out


__all__ = ["Op", "REGISTRY", "VJPContext", "get_op", "TensorType", "same_type",
           "normalize_dim", "normalize_dims"]
