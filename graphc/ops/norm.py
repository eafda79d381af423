"""Batch normalization as two primitives: `batch_norm` (forward, training or eval) and
`batch_norm_backward` (grad_input, grad_weight, grad_bias at once), PyTorch's
native_batch_norm and native_batch_norm_backward.

A primitive and not a composite of mean/var/elementwise ops because the composite was
measurably slow: ~20 passes over the activations per layer and ~25 eager ops with their tape
entries, ~40% of an eager ResNet block step (W9). The kernels (runtime/kernels/norm.py) make
3 passes forward and 2 backward. The forward also returns what backward reads (the mean and
1/sqrt(var + eps) it normalized with) and the new running statistics, so that eager modules
and compiled steps update them alike. The second derivative (batch_norm_backward's own
rule) is PyTorch's batchnorm_double_backward written with graphc ops.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..types import TensorType, is_static_dim
from . import elementwise as E, reduce as R, shape as S
from .conv import _float_input
from .elementwise import _coerce_to
from .registry import Op


# ---- NumPy references ------------------------------------------------------------------------
def _layout(x):
    """(dims reduced over, shape of a per-channel array broadcast against x, count)."""
    dims = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1] if x.shape[1] else 0
    return dims, (1, x.shape[1]) + (1,) * (x.ndim - 2), count


def batch_norm_reference(x, weight, bias, running_mean, running_var, *, training, momentum,
                         eps):
    """(out, mean, invstd, new running mean, new running var); statistics in float64."""
    dims, col, count = _layout(x)
    dt = x.dtype
    xd = x.astype(np.float64)
    if training and count:
        mean = xd.mean(axis=dims)
        var = np.square(xd - mean.reshape(col)).mean(axis=dims)
        unbiased = var * count / (count - 1) if count > 1 else np.full_like(var, np.nan)
        new_mean = (1 - momentum) * running_mean.astype(np.float64) + momentum * mean
        new_var = (1 - momentum) * running_var.astype(np.float64) + momentum * unbiased
    else:  # eval, or an empty batch (PyTorch leaves the running statistics alone then)
        mean = running_mean.astype(np.float64) if not training else np.zeros(x.shape[1])
        var = running_var.astype(np.float64) if not training else np.ones(x.shape[1]) - eps
        new_mean, new_var = running_mean, running_var
    invstd = 1 / np.sqrt(var + eps)
    out = (xd - mean.reshape(col)) * (invstd * weight).reshape(col) + bias.reshape(col)
    # (copies: in eval mode the new running statistics are new arrays, not the inputs)
    return tuple(np.array(a, dt) for a in (out, mean, invstd, new_mean, new_var))


def batch_norm_backward_reference(g, x, weight, mean, invstd, *, training):
    """(grad_input, grad_weight, grad_bias); sums in float64."""
    dims, col, count = _layout(x)
    gd = g.astype(np.float64)
    xhat = (x.astype(np.float64) - mean.reshape(col)) * invstd.reshape(col)
    gbias = gd.sum(axis=dims)
    gweight = (gd * xhat).sum(axis=dims)
    scale = (weight.astype(np.float64) * invstd).reshape(col)
    if training and count:
        gx = scale * (gd - (gbias / count).reshape(col) - xhat * (gweight / count).reshape(col))
    else:
        gx = gd * scale
    return tuple(np.asarray(a, x.dtype) for a in (gx, gweight, gbias))


# ---- type rules ----------------------------------------------------------------------------------
def _channels(x):
    if x.ndim < 2:
        raise ValueError(f"expects at least 2-D input (N, C, ...), got shape {list(x.shape)}")
    _float_input(x)
    return x.shape[1]


def _check_per_channel(types, names, channels):
    for t, name in zip(types, names):
        if t.ndim != 1 or (is_static_dim(t.shape[0]) and is_static_dim(channels)
                           and t.shape[0] != channels):
            raise ValueError(f"{name} must have shape [{channels}], got {list(t.shape)}")


def _values_per_channel(x):
    count = 1
    for d in (x.shape[0],) + tuple(x.shape[2:]):
        if not is_static_dim(d):
            return None
        count *= d
    return count


def _batch_norm_infer(in_types, training, momentum, eps):
    x = in_types[0]
    channels = _channels(x)
    _check_per_channel(in_types[1:], ("weight", "bias", "running_mean", "running_var"),
                       channels)
    if training and _values_per_channel(x) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {list(x.shape)}")
    stat = TensorType((channels,), x.dtype)
    return [x, stat, stat, stat, stat]


def _batch_norm_normalize(in_types, attrs):
    return {"training": bool(attrs["training"]), "momentum": float(attrs["momentum"]),
            "eps": float(attrs["eps"])}


def _backward_infer(in_types, training):
    g, x = in_types[:2]
    channels = _channels(x)
    if g.dtype is not x.dtype or len(g.shape) != len(x.shape) or any(
            is_static_dim(a) and is_static_dim(b) and a != b for a, b in zip(g.shape, x.shape)):
        raise ValueError(f"the output gradient {g} does not match the input {x}")
    _check_per_channel(in_types[2:], ("weight", "mean", "invstd"), channels)
    stat = TensorType((channels,), x.dtype)
    return [x, stat, stat]


# ---- gradient rules ------------------------------------------------------------------------------
def _batch_norm_vjp(c, gy, g_mean=None, g_invstd=None, g_new_mean=None, g_new_var=None):
    if gy is None or any(g is not None for g in (g_mean, g_invstd, g_new_mean, g_new_var)):
        raise UnsupportedError("batch_norm: gradients flow from the normalized output only, "
                               "not from the batch or running statistics it returns")
    if c.needs_input_grad[3] or c.needs_input_grad[4]:
        raise UnsupportedError("batch_norm: the running statistics are not differentiable "
                               "(as in PyTorch)")
    x, weight = c.inputs[:2]
    _, mean, invstd = c.outputs[:3]
    gx, gweight, gbias = batch_norm_backward(gy, x, weight, mean, invstd,
                                             training=c.attrs["training"])
    need = c.needs_input_grad
    return [gx if need[0] else None, gweight if need[1] else None, gbias if need[2] else None,
            None, None]


def _double_backward(c, ggx=None, ggw=None, ggb=None):
    """PyTorch's batchnorm_double_backward: the cotangents of (g, x, weight) from those of
    (grad_input, grad_weight, grad_bias). The x term is the total derivative (through the
    batch statistics too), so mean and invstd get none."""
    g, x, weight, mean, invstd = c.inputs
    training = c.attrs["training"]
    dims = (0,) + tuple(range(2, x.ndim))
    col_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)

    def col(v):
        return S.reshape(v, shape=col_shape)

    def total(v):
        return R.sum(v, dims=dims, keepdim=True)

    M = R.shape_prod(x, dims=dims, dtype=x.dtype)
    xmu, sig, w = E.sub(x, col(mean)), col(invstd), col(weight)
    sig2 = E.mul(sig, sig)
    sig3 = E.mul(sig2, sig)
    g_sum = total(g) if training else None
    g_xmu_sum = total(E.mul(g, xmu)) if training else None

    def first_backward(go, gamma):  # grad_input of the first backward, for output gradient go
        inner = E.sub(E.sub(E.mul(go, M), total(go)), E.mul(E.mul(xmu, sig2),
                                                          total(E.mul(go, xmu))))
        return E.mul(E.div(E.mul(gamma, sig), M), inner)

    need_g, need_x, need_w = c.needs_input_grad[:3]
    gg_w = col(ggw) if ggw is not None else None
    g_x = g_g = g_w = None
    if need_x:
        if ggx is not None and training:
            ggx_sum, ggx_xmu_sum = total(ggx), total(E.mul(ggx, xmu))
            all_sub = E.add(E.sub(E.div(E.mul(ggx_sum, g_sum), M), total(E.mul(g, ggx))),
                            E.mul(E.mul(E.mul(sig2, g_xmu_sum), ggx_xmu_sum), E.div(3.0, M)))
            t0 = E.div(E.mul(E.mul(xmu, sig3), all_sub), M)
            t1 = E.mul(E.div(E.mul(ggx_xmu_sum, sig3), M), E.sub(E.div(g_sum, M), g))
            t2 = E.mul(E.div(E.mul(g_xmu_sum, sig3), M), E.sub(E.div(ggx_sum, M), ggx))
            g_x = E.mul(w, E.add(E.add(t0, t1), t2))
        if gg_w is not None:
            if training:
                term = E.sub(E.sub(E.mul(g, sig), E.div(E.mul(sig, g_sum), M)),
                             E.div(E.mul(E.mul(xmu, sig3), g_xmu_sum), M))
            else:
                term = E.mul(g, sig)
            term = E.mul(gg_w, term)
            g_x = term if g_x is None else E.add(g_x, term)
    if need_w and ggx is not None:
        per_element = first_backward(g, 1.0) if training else E.mul(g, sig)
        g_w = R.sum(E.mul(ggx, per_element), dims=dims)
    if need_g:
        if ggx is not None:
            g_g = first_backward(ggx, w) if training else E.mul(E.mul(ggx, sig), w)
        if gg_w is not None:
            term = E.mul(E.mul(gg_w, xmu), sig)
            g_g = term if g_g is None else E.add(g_g, term)
        if ggb is not None:
            term = col(ggb)
            g_g = S.expand_like(term, g) if g_g is None else E.add(g_g, term)
    return [g_g, g_x, g_w, None, None]


# ---- the ops -------------------------------------------------------------------------------------
batch_norm = Op(
    "batch_norm", infer=_batch_norm_infer, reference=batch_norm_reference,
    vjp=_batch_norm_vjp, num_inputs=5, num_outputs=5,
    defaults={"training": True, "momentum": 0.1, "eps": 1e-5},
    coerce=_coerce_to("float", "batch_norm"), normalize=_batch_norm_normalize, family="kernel",
    doc="(x, weight, bias, running_mean, running_var) -> (out, mean, invstd, new running "
        "mean, new running var), normalizing over all dims but 1. Training: batch "
        "statistics, running ones moved by `momentum` (the unbiased variance, as in torch); "
        "eval: the running statistics, returned unchanged.")
batch_norm.reads = lambda needs: ([0, 1], (1, 2))  # x, weight, mean and invstd: not out, the stats
batch_norm.takes_none = True  # gradients come for `out` alone: no zeros for the statistics

batch_norm_backward = Op(
    "batch_norm_backward", infer=_backward_infer, reference=batch_norm_backward_reference,
    vjp=_double_backward, num_inputs=5, num_outputs=3, defaults={"training": True},
    normalize=lambda in_types, attrs: {"training": bool(attrs["training"])},
    family="kernel", saves=("inputs",),
    doc="(g, x, weight, mean, invstd) -> (grad_input, grad_weight, grad_bias) of batch_norm, "
        "two passes over (g, x).")
batch_norm_backward.takes_none = True  # no zero arrays for unused second-order cotangents

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_reference",
           "batch_norm_backward_reference"]
