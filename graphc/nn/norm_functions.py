"""Group, instance, RMS and local-response normalization as functions (torch.nn.functional),
composed of graphc ops."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..ops import reduce as R


def _channel_shape(input):
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = G.mul(out, G.reshape(weight, shape))
    if bias is not None:
        out = G.add(out, G.reshape(bias, shape))
    return out


def _normalized(x, dims, eps):
    mean = G.mean(x, dims, keepdim=True)
    var = G.var(x, dims, keepdim=True, correction=0)
    return G.mul(G.sub(x, mean), G.rsqrt(G.add(var, eps)))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each group of C / num_groups channels over its channels and positions."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups do not divide the channels of an "
                         f"input of shape {list(input.shape)}")
    shape = [(-1 if not isinstance(d, int) else d) for d in input.shape]
    grouped = G.reshape(input, (shape[0], num_groups, -1))
    out = G.reshape(_normalized(grouped, 2, eps), tuple(shape))
    return _affine(out, weight, bias, _channel_shape(input))


def instance_stats(input, eps):
    """(normalized input, per-(N, C) mean, per-(N, C) unbiased var)."""
    dims = tuple(range(2, input.ndim))
    mean = G.mean(input, dims, keepdim=True)
    var = G.var(input, dims, keepdim=True, correction=0)
    out = G.mul(G.sub(input, mean), G.rsqrt(G.add(var, eps)))
    n = R.shape_prod(input, dims=dims, dtype=input.dtype)
    return out, mean, G.mul(var, G.div(n, G.sub(n, 1)))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) over its positions; with use_input_stats=False the
    running statistics are used instead. Given running statistics and use_input_stats, they
    are updated in place as PyTorch does (eagerly; on symbolic input use nn.InstanceNorm*d,
    whose updates compile)."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected at least 3-D input (N, C, ...), got shape "
                         f"{list(input.shape)}")
    if use_input_stats:
        out, mean, var = instance_stats(input, eps)
        if running_mean is not None or running_var is not None:
            _update_running_in_place(input, mean, var, running_mean, running_var, momentum)
    else:
        shape = _channel_shape(input)
        out = G.mul(G.sub(input, G.reshape(running_mean, shape)),
                    G.rsqrt(G.add(G.reshape(running_var, shape), eps)))
    return _affine(out, weight, bias, _channel_shape(input))


def _update_running_in_place(input, mean, var, running_mean, running_var, momentum):
    from ..errors import UnsupportedError
    from ..ir.graph import Value
    from .functional import write_state
    if isinstance(mean, Value):
        raise UnsupportedError("instance_norm: running statistics of a symbolic input cannot be "
                               "updated in place; use graphc.nn.InstanceNorm1d/2d/3d("
                               "track_running_stats=True) and its buffer_updates()")
    channels = input.shape[1]
    for stat, batch in ((running_mean, mean), (running_var, var)):
        if stat is not None:
            batch = G.mean(G.reshape(batch, (-1, channels)), 0)
            write_state(stat, G.add(G.mul(stat, 1 - momentum), G.mul(batch, momentum)))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the last len(normalized_shape) dims; eps defaults to
    the dtype's machine epsilon (PyTorch's choice)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    if eps is None:
        eps = float(np.finfo(input.dtype.np).eps)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    out = G.mul(input, G.rsqrt(G.add(G.mean(G.square(input), dims, keepdim=True), eps)))
    return out if weight is None else G.mul(out, weight)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels) ** beta, the
    window zero-padded as PyTorch's (size // 2 before, (size - 1) // 2 after)."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3-D or higher input, got shape "
                         f"{list(input.shape)}")
    sq = G.square(input)
    pads = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = G.pad(sq, tuple(pads))
    channels = input.shape[1]
    window = None
    for j in range(size):
        part = padded[:, j:j + channels]
        window = part if window is None else G.add(window, part)
    div = G.pow(G.add(G.mul(G.div(window, size), alpha), k), beta)
    return G.div(input, div)
