"""Softmax cross-entropy over class indices, forward and backward, one pass over the logits each.

Rows are samples, columns classes. lse[i] = logsumexp(x[i]) is written by the forward kernel
and read by the backward one, which then needs no reduction over the classes:
    loss[i] = w[t] * (lse[i] - x[i, t]),   dx[i, c] = s[i] * (exp(x[i, c] - lse[i]) - [c == t])
with s[i] the incoming gradient of row i times w[t] (divided by the sum of the weights used
for 'mean'). A row whose target is ignore_index gives 0 and takes no gradient; any other
target outside [0, C) raises, as in PyTorch. Reductions: 0 'none' (out[n]), 1 'sum', 2 'mean'
(out[1]; 'mean' divides by the sum of w[t] over the rows not ignored, 0/0 = nan as in torch).
weight is an empty array for unweighted classes. Sums accumulate in float64.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def _row_weight(weight, t):
    return weight[t] if weight.shape[0] else 1.0


@kernel
def _weight_total(target, weight, ignore_index):
    total = 0.0
    for i in range(target.shape[0]):
        if target[i] != ignore_index:
            total += _row_weight(weight, target[i])
    return total


@kernel
def cross_entropy(x, target, weight, lse, out, ignore_index, reduction):
    """cross_entropy(x[n, c] float, target[n] int, weight[c] or [0], lse[n] out, out[n] (reduction 0) or [1] (1: sum, 2: mean) out, ignore_index int, reduction int)"""
    n, c = x.shape
    total, weights = 0.0, 0.0
    for i in range(n):
        top = x[i, 0]
        for j in range(1, c):
            v = x[i, j]
            if v > top or v != v:  # nan wins, and stays
                top = v
        s = 0.0
        for j in range(c):
            s += np.exp(x[i, j] - top)
        lse[i] = top + np.log(s)
        t = target[i]
        if t == ignore_index:
            loss = 0.0
        elif t < 0 or t >= c:
            raise ValueError("target out of bounds (cross_entropy): class indices must be in "
                             "[0, number of classes) or equal ignore_index")
        else:
            w = _row_weight(weight, t)
            loss = w * (np.log(s) - (x[i, t] - top))
            weights += w
        if reduction == 0:
            out[i] = loss
        total += loss
    if reduction == 1:
        out[0] = total
    elif reduction == 2:
        out[0] = total / weights


@kernel
def cross_entropy_backward(x, target, weight, lse, grad, dx, ignore_index, reduction):
    """cross_entropy_backward(x[n, c] float, target[n] int, weight[c] or [0], lse[n], grad[n] (reduction 0) or [1], dx[n, c] out, ignore_index int, reduction int)"""
    n, c = x.shape
    scale = 1.0
    if reduction == 2:
        scale = 1.0 / _weight_total(target, weight, ignore_index)
    zero = x.dtype.type(0)
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            for j in range(c):
                dx[i, j] = zero
            continue
        g = grad[i] if reduction == 0 else grad[0] * scale
        s = g * _row_weight(weight, t)
        for j in range(c):
            dx[i, j] = s * np.exp(x[i, j] - lse[i])
        dx[i, t] -= s
