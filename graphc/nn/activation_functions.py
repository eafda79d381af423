"""The activation functions of graphc.nn.functional (torch.nn.functional's names and
arguments), composed of graphc ops; graphc.nn.functional re-exports them."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..errors import UnsupportedError
from ..ir.graph import Value
from .constants import on_device_of
from .inplace_activations import write_into

# ---- activations ------------------------------------------------------------------------------------
# `inplace=True` writes the result into the input (write_into: PyTorch's in-place semantics
# for eager tensors, a traced write under graphc.jit, a new value in a hand-built graph)
sigmoid, tanh, gelu, softplus = G.sigmoid, G.tanh, G.gelu, G.softplus
softmax, log_softmax = G.softmax, G.log_softmax
flatten = G.flatten

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def relu(input, inplace=False):
    return write_into(input, G.relu) if inplace else G.relu(input)


def elu(input, alpha=1.0, inplace=False):
    return write_into(input, G.elu, alpha) if inplace else G.elu(input, alpha)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return write_into(input, G.leaky_relu, negative_slope)
    return G.leaky_relu(input, negative_slope)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    if inplace:
        return write_into(input, G.clamp, min_val, max_val)
    return G.clamp(input, min_val, max_val)


def selu(input, inplace=False):
    if inplace:
        return write_into(input, selu)
    return G.mul(G.elu(input, _SELU_ALPHA), _SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    if inplace:
        return write_into(input, celu, alpha)
    return G.mul(G.elu(G.div(input, alpha), 1.0), alpha)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x); a weight of C values applies per channel (dim 1)."""
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, got shape {list(weight.shape)}")
    if weight.shape[0] != 1:
        if input.ndim < 2 or input.shape[1] != weight.shape[0]:
            raise ValueError(f"prelu: {weight.shape[0]} weights for an input of shape "
                             f"{list(input.shape)} (dim 1 must match)")
        weight = G.reshape(weight, (weight.shape[0],) + (1,) * (input.ndim - 2))
    return G.where(G.gt(input, 0), input, G.mul(weight, input))


def logsigmoid(input):
    """min(x, 0) - log1p(exp(-|x|)): PyTorch's stable form."""
    return G.sub(G.minimum(input, 0), G.log1p(G.exp(G.neg(G.abs(input)))))


def hardshrink(input, lambd=0.5):
    return G.where(G.gt(G.abs(input), lambd), input, 0.0)


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be non-negative, got {lambd}")
    shrunk = G.sub(input, G.mul(G.sign(input), lambd))
    return G.where(G.gt(G.abs(input), lambd), shrunk, 0.0)


def softsign(input):
    return G.div(input, G.add(G.abs(input), 1))


def tanhshrink(input):
    return G.sub(input, G.tanh(input))


def threshold(input, threshold, value, inplace=False):
    if inplace:
        return write_into(input, _threshold, threshold, value)
    return _threshold(input, threshold, value)


def _threshold(input, threshold, value):
    return G.where(G.gt(input, threshold), input, value)


def softmin(input, dim=None, dtype=None):
    return G.softmax(G.neg(input), _dim(input, dim, "softmin"), dtype)


def _dim(input, dim, name):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def hardsigmoid(input, inplace=False):
    """0 below -3, 1 above 3, x / 6 + 1/2 between."""
    if inplace:
        return write_into(input, hardsigmoid)
    return G.clamp(G.add(G.div(input, 6.0), 0.5), 0.0, 1.0)


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    if inplace:
        return write_into(input, hardswish)
    return G.mul(input, hardsigmoid(input))


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the two halves of input along dim."""
    if input.shape[dim] % 2:
        raise ValueError(f"glu: halving dimension {dim} of shape {list(input.shape)} needs an "
                         f"even size")
    a, b = G.chunk(input, 2, dim)
    return G.mul(a, G.sigmoid(b))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slope (lower + upper) / 2 in eval mode; in training a slope drawn
    uniformly from [lower, upper) for each element (eager only: graphs have no such draw)."""
    if inplace:
        return write_into(input, rrelu, lower, upper, training)
    if not training:
        return G.leaky_relu(input, (lower + upper) / 2)
    if isinstance(input, Value):
        raise UnsupportedError("rrelu: random slopes in training mode need eager tensors; call "
                               "model.eval() or use leaky_relu in compiled graphs")
    from ..eager.creation import rand_like
    slope = G.add(G.mul(rand_like(input), upper - lower), lower)
    return G.where(G.ge(input, 0), input, G.mul(input, slope))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); hard=True returns one-hot samples whose
    gradient is the soft sample's (straight-through). Eager only (the noise is drawn now)."""
    if isinstance(logits, Value):
        raise UnsupportedError("gumbel_softmax: the noise is drawn eagerly; graphs have no "
                               "random draw other than dropout")
    from ..eager.creation import rand_like
    exponential = G.neg(G.log(G.sub(1.0, rand_like(logits))))  # in (0, inf): no log(0)
    y_soft = G.softmax(G.div(G.sub(logits, G.log(exponential)), tau), dim)
    if not hard:
        return y_soft
    classes = np.arange(logits.shape[dim]).reshape(
        [-1 if d == dim % logits.ndim else 1 for d in range(logits.ndim)])
    y_hard = G.cast(G.eq(G.argmax(y_soft, dim, keepdim=True), on_device_of(logits, classes)),
                    y_soft.dtype)
    return G.add(G.sub(y_hard, y_soft.detach()), y_soft)


def silu(input, inplace=False):
    if inplace:
        return write_into(input, silu)
    return G.mul(input, G.sigmoid(input))


def mish(input, inplace=False):
    if inplace:
        return write_into(input, mish)
    return G.mul(input, G.tanh(G.softplus(input)))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along dim."""
    if out is not None:
        raise UnsupportedError("normalize: out= is not supported; use the result")
    from .margin_losses import vector_norm
    return G.div(input, G.clamp(vector_norm(input, p, dim, keepdim=True), min=eps))
