"""The op contract: every primitive op is one `Op` object, declared once.

An op carries its signature (inputs, outputs, attribute defaults), its type rule, its NumPy
reference (the op's meaning), its gradient rule (a vector-Jacobian product written with
graphc ops, so static autodiff and eager backward share it) and typed traits that the passes
and the targets read instead of its name: a scalar function (fusable elementwise ops), a view
trait, a single-pass reduction (identity and combine), its effects and the inputs it reads
only for their shape. How a target implements an op is that target's business: each target
registers its rule per `Op` object in its own `TargetRules` table (graphc/ops/rules.py).
Calling an op goes through one dispatcher, installed by `graphc.dispatch`, that builds a
graph node for symbolic inputs or runs the op at once on eager tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..types import TensorType

REGISTRY: dict[str, "Op"] = {}

# Installed by graphc.dispatch; kept as a hook so that ops never import the modes above them.
dispatch: Callable = None  # type: ignore[assignment]


@dataclass(frozen=True)
class View:
    """The op's output may be a view of its first input's buffer (eager mode returns one
    when NumPy does). writable: an eager in-place write to the view goes through to its
    base (graphc/eager/inplace.py); layout: the compiler reads it through strides, with no
    copy, whenever graphc/passes/layout.py's rule for the op finds a layout."""
    writable: bool = False
    layout: bool = False


@dataclass(frozen=True)
class Reduction:
    """A single-pass reduction over `dims`: acc = identity; acc = combine(acc, x) for each
    element; mean divides by the count. combine is "add", "max" or "min" (max/min propagate
    NaN); the identity follows from it (0, the lowest or the highest value of the dtype).
    The targets render both (graphc/ops/scalar.py), and fusion feeds it a prologue."""
    combine: str
    mean: bool = False

    def __post_init__(self):
        if self.combine not in ("add", "max", "min"):
            raise ValueError(f"unknown reduction combine {self.combine!r}")


@dataclass(frozen=True)
class Effects:
    """What an application does besides computing its outputs from its inputs.
    random: two applications with the same inputs differ (never merged, folded or put in a
    scan body); collective: it communicates with the other ranks of a process group."""
    random: bool = False
    collective: bool = False


PURE = Effects()


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
    scalar: the scalar template of an elementwise op ("({0} + {1})"): the op is fusable,
        and every target renders it through graphc/ops/scalar.py.
    view: a View trait, or None. reduction: a Reduction trait (single-pass), or None.
    effects: an Effects trait (PURE by default).
    shape_only_inputs: indices of the inputs whose values the op never reads, only their
        shape (passes drop the dependency; an op reading only shapes is a constant once
        shapes are known).
    family: the section of docs/ops.md the op is listed in; no code dispatches on it.
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
    # hook_order: a permutation of the inputs, the order in which leaves read by one
    # application get their final gradient (post-accumulate-grad hooks) where PyTorch's
    # differs from the input order (linear: bias first, as AddmmBackward0). None: inputs'.
    hook_order = None

    def __init__(self, name, *, infer, reference, vjp=None, num_inputs=1, num_outputs=1,
                 defaults=None, coerce=None, normalize=None, scalar=None, view=None,
                 reduction=None, effects=PURE, shape_only_inputs=(), family="other",
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
        self.scalar = scalar
        self.view = view
        self.reduction = reduction
        self.effects = effects
        self.shape_only_inputs = tuple(shape_only_inputs)
        self.family = family
        self.saves = saves  # what vjp reads besides shapes: eager in-place checks use it
        self.__doc__ = doc
        REGISTRY[name] = self

    @property
    def is_leaf(self):
        """placeholder, constant, variable: no inputs, values bound outside the graph."""
        return self.num_inputs == 0

    @property
    def reads_only_shapes(self):
        """Every input is read for its shape only (shape_prod): a constant once shapes
        are known."""
        return bool(self.num_inputs) and \
            set(self.shape_only_inputs) == set(range(self.num_inputs))

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


__all__ = ["Op", "View", "Reduction", "Effects", "PURE", "REGISTRY", "VJPContext", "get_op",
           "TensorType", "same_type",
           "normalize_dim", "normalize_dims"]
