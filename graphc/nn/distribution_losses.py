"""Losses between distributions and likelihoods, with PyTorch's formulas: KL divergence,
Poisson and Gaussian negative log-likelihood. Legacy `size_average` / `reduce` honoured."""
from __future__ import annotations

import math
import warnings

from .. import functional as G
from ..ir.graph import Value
from .reduction import apply as _reduce, check as _check, resolve as _legacy


def _xlogy_self(t):
    """t * log(t) with 0 where t == 0 (torch.xlogy(t, t)); nan for t < 0 as PyTorch."""
    zero = G.eq(t, 0)
    return G.where(zero, 0.0, G.mul(t, G.log(G.where(zero, 1.0, t))))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL(target || exp(input)): target (log target - input). 'batchmean' divides
    the sum by the batch size (input.size(0)); 'mean' divides by every element, which PyTorch
    warns about."""
    asked = reduction
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    _check(reduction, "kl_div", ("batchmean",))
    if log_target:
        loss = G.mul(G.exp(target), G.sub(target, input))
    else:
        loss = G.sub(_xlogy_self(target), G.mul(target, input))
    reduced = _reduce(loss, "sum" if reduction == "batchmean" else reduction, "kl_div")
    if asked == "batchmean" and input.ndim != 0:  # (also after a legacy reduction, as PyTorch)
        reduced = G.div(reduced, input.shape[0])
    return reduced


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - t x (log_input) or x - t log(x + eps); full adds Stirling's approximation
    t log t - t + 0.5 log(2 pi t) where t > 1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check(reduction, "poisson_nll_loss")
    if log_input:
        loss = G.sub(G.exp(input), G.mul(target, input))
    else:
        loss = G.sub(input, G.mul(target, G.log(G.add(input, eps))))
    if full:
        big = G.gt(target, 1)
        safe = G.where(big, target, 1.0)
        stirling = G.add(G.sub(G.mul(safe, G.log(safe)), safe),
                         G.mul(G.log(G.mul(safe, 2 * math.pi)), 0.5))
        loss = G.add(loss, G.where(big, stirling, 0.0))
    return _reduce(loss, reduction, "poisson_nll_loss")


def _detached(x):
    return x.detach() if hasattr(x, "detach") else x


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log max(var, eps) + (input - target)^2 / max(var, eps)) (+ 0.5 log 2 pi if full).

    var may have input's shape, input's shape without the last dim, or that with a last dim
    of 1 (one variance for all features). PyTorch clamps var under no_grad, so its gradient
    passes the clamp unchanged: var + detach(max(var, eps) - var) does the same on eager
    tensors and symbolic values (the `detach` op stops the gradient in graphs)."""
    _check(reduction, "gaussian_nll_loss")
    if isinstance(var, (int, float)):
        var = G.full_like(input, float(var))
    in_shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape != in_shape:
        if in_shape[:-1] == var_shape:
            var = G.unsqueeze(var, -1)
        elif not (in_shape[:-1] == var_shape[:-1] and var_shape[-1:] == (1,)):
            raise ValueError(f"gaussian_nll_loss: var of shape {list(var_shape)} does not fit "
                             f"input of shape {list(in_shape)}")
    if not isinstance(var, Value) and bool((_detached(var).numpy() < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    # value clamped, gradient passed straight through (PyTorch's no_grad clamp_)
    var = G.add(var, _detached(G.sub(G.clamp(var, min=eps), var)))
    loss = G.mul(G.add(G.log(var), G.div(G.square(G.sub(input, target)), var)), 0.5)
    if full:
        loss = G.add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction, "gaussian_nll_loss")
