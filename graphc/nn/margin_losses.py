"""Margin and embedding losses with PyTorch's formulas (ATen's Loss.cpp, step for step):
margin ranking, hinge embedding, soft margin, multi-label soft margin, multi-class margin,
cosine embedding and triplet margin, plus the distances they use.

Each takes PyTorch's arguments, including the legacy `size_average` / `reduce` pair.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as G
from .reduction import apply as _reduce, resolve as _legacy
from .constants import on_device_of


def _log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): finite for any x (PyTorch's form)."""
    return G.sub(G.minimum(x, 0), G.log1p(G.exp(G.neg(G.abs(x)))))


def vector_norm(x, p=2.0, dim=-1, keepdim=False):
    """||x||_p along dim: p = inf / -inf (max / min of |x|), 0 (count of non-zeros), else
    (sum |x|^p)^(1/p)."""
    a = G.abs(x)
    if p == math.inf:
        return G.amax(a, dim, keepdim)
    if p == -math.inf:
        return G.amin(a, dim, keepdim)
    if p == 0:
        return G.sum(G.cast(G.ne(x, 0), x.dtype), dim, keepdim)
    if p == 1:
        return G.sum(a, dim, keepdim)
    total = G.sum(G.square(x) if p == 2 else G.pow(a, float(p)), dim, keepdim)
    # a zero vector has norm 0 and, as in PyTorch, gradient 0 (not 0 * inf)
    nonzero = G.ne(total, 0)
    safe = G.where(nonzero, total, 1.0)
    root = G.sqrt(safe) if p == 2 else G.pow(safe, 1.0 / p)
    return G.where(nonzero, root, 0.0)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim (PyTorch adds eps before the norm)."""
    return vector_norm(G.add(G.sub(x1, x2), eps), p, -1, keepdim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 x2) / max(||x1|| ||x2||, eps) along dim (each norm clamped at eps, as
    PyTorch >= 1.12 does: x / max(||x||, eps) first, then the dot product)."""
    n1 = G.clamp(vector_norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = G.clamp(vector_norm(x2, 2, dim, keepdim=True), min=eps)
    return G.sum(G.mul(G.div(x1, n1), G.div(x2, n2)), dim)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -y (x1 - x2) + margin)."""
    reduction = _legacy(size_average, reduce, reduction)
    loss = G.relu(G.add(G.mul(G.neg(target), G.sub(input1, input2)), margin))
    return _reduce(loss, reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (ATen sums both masked terms)."""
    reduction = _legacy(size_average, reduce, reduction)
    margin_clamp = G.relu(G.sub(margin, input))
    loss = G.add(G.where(G.ne(target, 1), margin_clamp, 0.0),
                 G.where(G.ne(target, -1), input, 0.0))
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x))."""
    reduction = _legacy(size_average, reduce, reduction)
    loss = G.log1p(G.exp(G.neg(G.mul(input, target))))
    return _reduce(loss, reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), weighted, averaged over the classes
    (the last dim), then reduced over the samples."""
    reduction = _legacy(size_average, reduce, reduction)
    loss = G.neg(G.add(G.mul(target, _log_sigmoid(input)),
                       G.mul(G.sub(1, target), _log_sigmoid(G.neg(input)))))
    if weight is not None:
        loss = G.mul(loss, weight)
    classes = input.shape[-1]
    loss = G.div(G.sum(loss, -1), classes)
    return _reduce(loss, reduction, "multilabel_soft_margin_loss")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over i != y of max(0, margin - x[y] + x[i])^p (times weight[y]) / C."""
    reduction = _legacy(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 supported, got {p}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: expected 1-D or 2-D input, got shape "
                         f"{list(input.shape)}")
    if input.ndim == 1:
        input = G.unsqueeze(input, 0)
        target = G.reshape(target, (1,))
    classes = input.shape[1]
    one_hot = G.cast(G.eq(G.unsqueeze(target, 1),
                          on_device_of(input, np.arange(classes, dtype=np.int64))), input.dtype)
    x_y = G.sum(G.mul(input, one_hot), 1, keepdim=True)
    z = G.relu(G.add(G.sub(margin, x_y), input))
    h = z if p == 1 else G.square(z)
    if weight is not None:
        h = G.mul(h, G.sum(G.mul(one_hot, weight), 1, keepdim=True))
    loss = G.div(G.sum(G.mul(h, G.sub(1, one_hot)), 1), classes)
    return _reduce(loss, reduction, "multi_margin_loss")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """For each sample: sum over its target classes j (the entries of target before the first
    -1) and non-target classes i of max(0, 1 - (x[j] - x[i])), divided by C."""
    reduction = _legacy(size_average, reduce, reduction)
    if input.ndim == 1:
        out = multilabel_margin_loss(G.unsqueeze(input, 0), G.unsqueeze(target, 0),
                                     reduction=reduction)
        return G.squeeze(out, 0) if reduction == "none" else out
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"multilabel_margin_loss: input {list(input.shape)} and target "
                         f"{list(target.shape)} must have the same shape")
    classes = input.shape[1]
    # a target slot is valid while no -1 came at or before it (a cumulative count as a matmul)
    upper = on_device_of(input, np.triu(np.ones((classes, classes), input.dtype.np)))
    seen_end = G.matmul(G.cast(G.eq(target, -1), input.dtype), upper)
    valid = G.cast(G.eq(seen_end, 0), input.dtype)  # (N, J)
    pick = G.mul(G.cast(G.eq(G.unsqueeze(target, 2),
                             on_device_of(input, np.arange(classes, dtype=np.int64))),
                        input.dtype), G.unsqueeze(valid, 2))  # (N, J, C)
    is_target = G.cast(G.gt(G.sum(pick, 1), 0), input.dtype)  # (N, C)
    x_target = G.sum(G.mul(pick, G.unsqueeze(input, 1)), 2)  # (N, J)
    margins = G.relu(G.sub(1, G.sub(G.unsqueeze(x_target, 2), G.unsqueeze(input, 1))))
    margins = G.mul(G.mul(margins, G.unsqueeze(valid, 2)), G.unsqueeze(G.sub(1, is_target), 1))
    loss = G.div(G.sum(margins, (1, 2)), classes)
    return _reduce(loss, reduction, "multilabel_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; the cosine
    as ATen computes it: sum(x1 x2) / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))."""
    reduction = _legacy(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise ValueError(f"cosine_embedding_loss: inputs must be 1-D or 2-D of one shape, got "
                         f"{list(input1.shape)} and {list(input2.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = G.sum(G.mul(input1, input2), dim)
    mag1 = G.add(G.sum(G.square(input1), dim), eps)
    mag2 = G.add(G.sum(G.square(input2), dim), eps)
    cos = G.div(prod, G.sqrt(G.mul(mag1, mag2)))
    loss = G.add(G.where(G.eq(target, 1), G.sub(1, cos), 0.0),
                 G.where(G.eq(target, -1), G.relu(G.sub(cos, margin)), 0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)), d = pairwise_distance; swap uses
    min(d(a, n), d(p, n))."""
    reduction = _legacy(size_average, reduce, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must have the "
                         f"same number of dims, got shapes {list(anchor.shape)}, "
                         f"{list(positive.shape)}, {list(negative.shape)}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = G.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = G.relu(G.sub(G.add(d_pos, margin), d_neg))
    return _reduce(loss, reduction, "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    dist = distance_function or pairwise_distance
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = G.minimum(d_neg, dist(positive, negative))
    loss = G.relu(G.sub(G.add(d_pos, margin), d_neg))
    return _reduce(loss, reduction, "triplet_margin_with_distance_loss")


