"""The in-place activations of torch.nn.functional: relu_, elu_, leaky_relu_, hardtanh_,
threshold_, celu_, selu_, rrelu_; and `write_into`, which the `inplace=True` arguments of
activations and dropout use.

Each writes the out-of-place function's result into its input through the one in-place
mechanism tensors have (`Tensor._write`, eager/inplace.py): eagerly the input's storage is
overwritten and its version counter bumped, so autograd's checks (a leaf that requires grad,
a value saved for backward and changed since) behave as PyTorch's, and gradients flow through
the write; under graphc.jit the write is traced; on a symbolic value outside graphc.jit it
raises UnsupportedError, as graphc's other in-place methods do.
"""
from __future__ import annotations

from .. import functional as G


def write_into(input, fn, *args, **kwargs):
    """PyTorch's `inplace=True` argument: fn(input, *args) written into input. Eager tensors:
    as the `*_` functions below (storage overwritten, version bumped, autograd rebased).
    Symbolic values: a traced write under graphc.jit; in a graph built by hand, where values
    are never overwritten, the result is a new value (as `y += x` is there)."""
    return input._write(fn, *args, operator=True, **kwargs)


def _in_place(fn, name):
    def in_place(input, *args, **kwargs):
        return input._write(fn, *args, **kwargs)
    in_place.__name__ = in_place.__qualname__ = name
    in_place.__doc__ = f"In-place version of {name[:-1]}: input is overwritten and returned."
    return in_place


def _from_functional(name):
    from . import functional as F  # (functional imports this module)
    return getattr(F, name)


def _elu(input, alpha=1.0):
    return G.elu(input, alpha)


def _leaky_relu(input, negative_slope=0.01):
    return G.leaky_relu(input, negative_slope)


def _hardtanh(input, min_val=-1.0, max_val=1.0):
    return _from_functional("hardtanh")(input, min_val, max_val)


def _threshold(input, threshold, value):
    return _from_functional("threshold")(input, threshold, value)


def _celu(input, alpha=1.0):
    return _from_functional("celu")(input, alpha)


def _selu(input):
    return _from_functional("selu")(input)


def _rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _from_functional("rrelu")(input, lower, upper, training)


relu_ = _in_place(G.relu, "relu_")
elu_ = _in_place(_elu, "elu_")
leaky_relu_ = _in_place(_leaky_relu, "leaky_relu_")
hardtanh_ = _in_place(_hardtanh, "hardtanh_")
threshold_ = _in_place(_threshold, "threshold_")
celu_ = _in_place(_celu, "celu_")
selu_ = _in_place(_selu, "selu_")
rrelu_ = _in_place(_rrelu, "rrelu_")

INPLACE_ACTIVATIONS = ["relu_", "elu_", "leaky_relu_", "hardtanh_", "threshold_", "celu_",
                       "selu_", "rrelu_"]
