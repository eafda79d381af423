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
    defaults={"p": 0.5, "stream": 0}, normalize=_dropout_normalize, family="kernel",
    saves=("inputs",),
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


# Dropout's randomness is ONE stream for both modes: graphc's generator holds a counter (reset by
# graphc.manual_seed); every dropout call uses the counter's value as its seed and advances it by
# one. Eagerly that happens at the call. A graph reads the counter as a variable: each call site
# gets a provisional `stream` (> 0, in build order), and graphc.compile numbers the sites
# (`number_random_sites`): site j reads counter + j, and the step advances the counter by the
# number of sites. So eager and compiled runs draw the same masks for the same seed and calls.
_streams = itertools.count(1)
_counter = None


def dropout_seed():
    """The persistent 0-d int64 tensor (graphc's random counter) that dropout reads its seed
    from; graphc.manual_seed resets it."""
    global _counter
    if _counter is None:
        from ..eager.random import generator  # lazily: ops sit below the eager layer
        from ..eager.tensor import Tensor
        _counter = Tensor._wrap(generator().random_counter)  # shares its storage
        _counter._persistent = True
        _counter.name = "dropout_seed"
    return _counter


def dropout_seed_updates():
    """{seed: seed + 1}. Kept for older code: graphc.compile itself advances the seed by the
    number of dropout call sites of the step (replacing this value)."""
    from ..dispatch import variable_of
    seed = dropout_seed()
    return {seed: add(variable_of(seed), 1)}


def _is_random_site(node, counter):
    return "stream" in node.op.defaults and node.attrs.get("stream", 0) > 0 \
        and len(node.inputs) > 1 and node.inputs[1] is counter


def number_random_sites(graph, outputs, updates):
    """Give each random call site of a graph its seed from the shared counter, in build order.

    Returns (outputs, updates) over a copy of the graph in which site j (and the gradient nodes
    sharing its stream) reads `counter + j` with stream 0, as the j-th eager call of a step
    would, and the counter's update is `counter + number of sites`; unchanged when the graph
    has no unnumbered site (already numbered graphs, e.g. loaded from JSON, keep theirs).
    """
    from ..dispatch import constant, variable_node
    if _counter is None:
        return outputs, updates
    counter = variable_node(_counter)
    streams = sorted({n.attrs["stream"] for n in graph.nodes if _is_random_site(n, counter)})
    if not streams:
        return outputs, updates
    from ..ir.graph import clone_node
    import numpy as np
    offset = {s: j for j, s in enumerate(streams)}
    seeds, mapping = {}, {}
    for node in graph.nodes:
        ins = [mapping.get(v, v) for v in node.inputs]
        attrs = node.attrs
        if _is_random_site(node, counter):
            j = offset[attrs["stream"]]
            if j not in seeds:
                seeds[j] = counter if j == 0 else add(counter, constant(np.asarray(j, np.int64)))
            ins[1], attrs = seeds[j], {**attrs, "stream": 0}
        elif all(a is b for a, b in zip(ins, node.inputs)):
            continue
        copy = clone_node(node, ins, attrs, [v.type for v in node.outputs])
        mapping.update(zip(node.outputs, copy.outputs))
    new_counter = add(counter, constant(np.asarray(len(streams), np.int64)))
    updates = [(var, mapping.get(new, new)) for var, new in updates if var is not counter]
    return [mapping.get(v, v) for v in outputs], updates + [(counter, new_counter)]


def dropout(input, p=0.5, training=True, inplace=False, *, seed=None):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (when training).

    seed: a 0-d integer tensor or value to draw the mask from; default: the next value of
    graphc's random counter (`dropout_seed()`), the same stream eagerly and compiled.
    The result is always a new tensor: `inplace=True` is graphc.nn.functional.dropout's (which
    writes this result into its input); here it raises.
    """
    if inplace:
        from ..errors import UnsupportedError
        raise UnsupportedError("graphc.ops.nn.dropout: inplace=True is implemented by "
                               "graphc.nn.functional.dropout; this op-level form returns a new "
                               "tensor")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if getattr(input, "is_symbolic", False):
        if seed is not None:
            return dropout_op(input, seed, p=p, stream=0)
        from ..dispatch import variable_node  # the counter itself, even while jit traces
        return dropout_op(input, variable_node(dropout_seed()), p=p, stream=next(_streams))
    if seed is None:
        import numpy as np
        counter = dropout_seed()
        seed = np.array(counter._data)  # this call's seed (the gradient re-reads it) ...
        counter._data += 1              # ... and the next call's
    return dropout_op(input, seed, p=p, stream=0)


__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "dropout", "dropout_seed", "dropout_seed_updates", "number_random_sites"]
