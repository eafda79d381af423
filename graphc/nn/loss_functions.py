"""Loss functions with PyTorch's formulas and `reduction=` ('mean', 'sum', 'none').

Class-index targets are turned into one-hot masks (an `eq` against the class numbers) rather
than gathered, so the same code works for symbolic batch sizes and fuses with its neighbours.
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..ops import elementwise as E, loss as L, reduce as R
from .reduction import apply as _reduce, resolve as _legacy
from .constants import on_device_of


def _same_shape(input, target, name):
    if input.shape != target.shape and tuple(input.shape) != tuple(target.shape):
        known = all(isinstance(a, int) and isinstance(b, int)
                    for a, b in zip(input.shape, target.shape))
        if len(input.shape) != len(target.shape) or known:
            raise ValueError(f"{name}: input shape {list(input.shape)} and target shape "
                             f"{list(target.shape)} differ")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    _same_shape(input, target, "mse_loss")
    return _reduce(E.square(E.sub(input, target)), reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    _same_shape(input, target, "l1_loss")
    return _reduce(G.abs(G.sub(input, target)), reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    reduction = _legacy(size_average, reduce, reduction)
    _same_shape(input, target, "smooth_l1_loss")
    d = G.abs(G.sub(input, target))
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    loss = G.where(G.lt(d, beta), G.mul(G.square(d), 0.5 / beta), G.sub(d, 0.5 * beta))
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    _same_shape(input, target, "huber_loss")
    d = G.abs(G.sub(input, target))
    loss = G.where(G.lt(d, delta), G.mul(G.square(d), 0.5), G.mul(G.sub(d, 0.5 * delta), delta))
    return _reduce(loss, reduction, "huber_loss")


# ---- classification ------------------------------------------------------------------------------
def _class_shape(ndim, classes):
    """Shape that puts a per-class vector on dim 1 of an (N, C, d1, ...) tensor."""
    return (1, classes) + (1,) * (ndim - 2)


def _check_class_target(input, target, name):
    if not target.dtype.is_integer:
        raise TypeError(f"{name}: class-index targets must be integers, got "
                        f"{target.dtype.name}")
    expect = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if target.ndim != len(expect) or any(isinstance(a, int) and isinstance(b, int) and a != b
                                         for a, b in zip(target.shape, expect)):
        raise ValueError(f"{name}: input of shape {list(input.shape)} needs a target of shape "
                         f"{list(expect)}, got {list(target.shape)}")


def _one_hot_mask(input, target):
    """(N, C, ...) float mask: 1 where the class equals the target (none for ignored ones)."""
    classes = np.arange(input.shape[1], dtype=np.int64).reshape(_class_shape(input.ndim,
                                                                              input.shape[1]))
    return G.cast(G.eq(G.unsqueeze(target, 1), like_device(input, classes)), input.dtype)


like_device = on_device_of  # (the name this module used first)


def _target_weights(input, target, weight, ignore_index):
    """Per-element weight w[target] (0 where target == ignore_index), shape of target."""
    keep = G.cast(G.ne(target, ignore_index), input.dtype)
    if weight is None:
        return keep
    w = G.reshape(weight, _class_shape(input.ndim, input.shape[1]))
    return G.mul(G.sum(G.mul(_one_hot_mask(input, target), w), 1), keep)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-w[t] * input[t] per element; 'mean' divides by the sum of the weights used."""
    reduction = _legacy(size_average, reduce, reduction)
    if input.ndim == 1:  # a single sample (C,)
        return nll_loss(G.unsqueeze(input, 0), G.unsqueeze(target, 0), weight, None,
                        ignore_index, None, reduction if reduction != "none" else "sum")
    _check_class_target(input, target, "nll_loss")
    picked = G.sum(G.mul(input, _one_hot_mask(input, target)), 1)
    w = _target_weights(input, target, weight, ignore_index)
    loss = G.neg(G.mul(picked, w))
    if reduction == "mean":
        return G.div(G.sum(loss), G.sum(w))
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """log_softmax + NLL for class indices, or -sum(p * log_softmax) for class
    probabilities (a floating target shaped like the input); label smoothing as PyTorch."""
    reduction = _legacy(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if input.ndim == 1:
        input, target = G.unsqueeze(input, 0), G.unsqueeze(target, 0)
        reduction = "sum" if reduction == "none" else reduction
    if _fused(input, target, weight, label_smoothing):
        return L.cross_entropy(input, target, *([] if weight is None else [weight]),
                               ignore_index=ignore_index, reduction=reduction)[0]
    logp = G.log_softmax(input, 1)
    classes = input.shape[1]
    wshape = _class_shape(input.ndim, classes)
    if target.dtype.is_floating_point:
        _same_shape(input, target, "cross_entropy")
        if label_smoothing:
            target = G.add(G.mul(target, 1 - label_smoothing), label_smoothing / classes)
        terms = G.mul(logp, target)
        if weight is not None:
            terms = G.mul(terms, G.reshape(weight, wshape))
        loss = G.neg(G.sum(terms, 1))
        if reduction == "mean":
            return G.div(G.sum(loss), _count(loss))
        return _reduce(loss, reduction, "cross_entropy")
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if not label_smoothing:
        return nll
    # PyTorch: (1 - eps) * nll + eps / C * (-sum_c w_c logp_c), ignored targets masked
    keep = G.cast(G.ne(target, ignore_index), input.dtype)
    terms = logp if weight is None else G.mul(logp, G.reshape(weight, wshape))
    smooth = G.mul(G.neg(G.sum(terms, 1)), keep)
    if reduction == "mean":
        denom = _target_weights(input, target, weight, ignore_index)
        smooth = G.div(G.sum(smooth), G.sum(denom))
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return G.add(G.mul(nll, 1 - label_smoothing), G.mul(smooth, label_smoothing / classes))


def _fused(input, target, weight, label_smoothing):
    """Whether the one-op cross-entropy (graphc/ops/loss.py) computes this call: (N, C)
    logits, class indices, no label smoothing, class weights that take no gradient."""
    return (input.ndim == 2 and target.dtype.is_integer and not label_smoothing
            and (weight is None or not getattr(weight, "requires_grad", False)))


def _count(x):
    """Number of elements of x as a 0-d tensor (symbolic dims are known when it runs)."""
    return R.shape_prod(x, dims=None, dtype=x.dtype)


def _clamped_log(x):
    """max(log x, -100) as PyTorch's BCE; x is clamped first so that x = 0 gives a finite
    gradient instead of 0 * inf."""
    return G.clamp(G.log(G.clamp(x, min=1e-44)), min=-100.0)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch."""
    reduction = _legacy(size_average, reduce, reduction)
    _same_shape(input, target, "binary_cross_entropy")
    log_x, log_1mx = _clamped_log(input), _clamped_log(G.sub(1, input))
    loss = G.neg(G.add(G.mul(target, log_x), G.mul(G.sub(1, target), log_1mx)))
    if weight is not None:
        loss = G.mul(loss, weight)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + BCE in the stable form (1 - t) x + lw softplus(-x), lw = 1 + (pos_weight -
    1) t. softplus is one op (stable through logaddexp) so that the gradient is exactly
    sigmoid(x) - t, also at x = 0 where |x| and max(-x, 0) have kinks."""
    reduction = _legacy(size_average, reduce, reduction)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    softplus_neg = G.softplus(G.neg(input))
    if pos_weight is not None:
        softplus_neg = G.mul(softplus_neg, G.add(G.mul(G.sub(pos_weight, 1), target), 1))
    loss = G.add(G.mul(G.sub(1, target), input), softplus_neg)
    if weight is not None:
        loss = G.mul(loss, weight)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
