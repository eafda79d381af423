"""Neural-network ops and their user-facing functions (torch.nn.functional signatures).

The conv and pooling ops live in `conv` and `pool`; dropout is defined here. Each op's NumPy
reference is in `nn_reference` and its fast CPU kernel in `runtime.kernels` (used by eager mode
through `op.eager`, called by name from compiled programs). graphc.nn.functional re-exports the
functions at the bottom of this file.
"""
from __future__ import annotations

import itertools

from . import nn_reference as ref
from .conv import _float_input, conv2d_op, conv2d_weight_grad, conv_transpose2d_op  # noqa: F401
from .elementwise import add
from .pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_op,  # noqa: F401
                   avg_pool2d_backward, avg_pool2d_op, max_pool2d_backward, max_pool2d_gather,
                   max_pool2d_op)
from .registry import Op
from .shape import squeeze, unsqueeze


# ---- dropout --------------------------------------------------------------------------------------
def _dropout_infer(in_types, p, stream):
    x, seed = in_types
    _float_input(x)
    if seed.ndim != 0 or not seed.dtype.is_integer:
        raise TypeError(f"the seed must be a 0-d integer tensor, got {seed}")
    return [x]


def _dropout_normalize(in_types, attrs):
    p = float(attrs["p"])
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return {"p": p, "stream": int(attrs["stream"])}


dropout_op = Op(
    "dropout", infer=_dropout_infer, reference=ref.dropout, num_inputs=2,
    vjp=lambda c, g: [dropout_op(g, c.inputs[1], **c.attrs), None],
    defaults={"p": 0.5, "stream": 0}, normalize=_dropout_normalize, kind="kernel",
    lowering={"kernel": "dropout"}, saves=("inputs",),
    doc="x * keep / (1 - p), keep drawn by a counter-based hash of (seed, stream, element index): "
        "the same mask in NumPy, in compiled code and again in the gradient.")


# =================================================================================================
# User-facing functions (torch.nn.functional signatures). graphc.nn.functional re-exports these.
# =================================================================================================
def _unbatched(fn, input):
    """Run fn on a 4-D input; a 3-D (C, H, W) input gets a batch dim for the call, as in torch."""
    if input.ndim != 3:
        return fn(input)
    result = fn(unsqueeze(input, dims=0))
    if isinstance(result, (tuple, list)):
        return tuple(squeeze(r, dims=0) for r in result)
    return squeeze(result, dims=0)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    args = (weight,) if bias is None else (weight, bias)
    return _unbatched(lambda x: conv2d_op(x, *args, stride=stride, padding=padding,
                                          dilation=dilation, groups=groups), input)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose2d: padding must be an int or a pair, got {padding!r}")
    args = (weight,) if bias is None else (weight, bias)
    return _unbatched(lambda x: conv_transpose2d_op(
        x, *args, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
        dilation=dilation), input)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    values, indices = _unbatched(lambda x: max_pool2d_op(
        x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
        ceil_mode=ceil_mode), input)
    return (values, indices) if return_indices else values


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _unbatched(lambda x: avg_pool2d_op(
        x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override), input)


def adaptive_avg_pool2d(input, output_size):
    return _unbatched(lambda x: adaptive_avg_pool2d_op(x, output_size=output_size), input)


# Dropout's randomness: eager calls draw a fresh seed from graphc's generator; a graph reads a
# persistent seed variable (the same one for every graph of the process), and each call site gets
# its own stream so that two dropouts in one graph draw different masks. A training step adds
# `dropout_seed_updates()` to its updates so that each call draws fresh masks.
_streams = itertools.count(1)
_static_seed = None


def dropout_seed():
    """The persistent 0-d int64 tensor that symbolic dropout reads its seed from."""
    global _static_seed
    if _static_seed is None:
        import numpy as np
        from ..eager.random import generator  # lazily: ops sit below the eager layer
        from ..eager.tensor import Tensor
        _static_seed = Tensor._wrap(np.asarray(generator().integers(0, 2 ** 62), np.int64))
        _static_seed._persistent = True
        _static_seed.name = "dropout_seed"
    return _static_seed


def dropout_seed_updates():
    """{seed: seed + 1}: merge into compile(updates=...) for fresh masks at every step."""
    from ..dispatch import variable_of
    seed = dropout_seed()
    return {seed: add(variable_of(seed), 1)}


def dropout(input, p=0.5, training=True, inplace=False, *, seed=None):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (when training).

    seed: a 0-d integer tensor or value to draw the mask from; default: a fresh one from graphc's
    generator (eager) or `dropout_seed()` (symbolic). `inplace` is accepted for torch's signature;
    the result is always a new tensor.
    """
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if getattr(input, "is_symbolic", False):
        return dropout_op(input, dropout_seed() if seed is None else seed, p=p,
                          stream=next(_streams))
    if seed is None:
        import numpy as np
        from ..eager.random import generator
        seed = np.asarray(generator().integers(0, 2 ** 62), np.int64)
    return dropout_op(input, seed, p=p, stream=0)


__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "dropout", "dropout_seed", "dropout_seed_updates"]
from . import nn_kernels  # noqa: E402,F401  (eager fast path: sets op.eager)
