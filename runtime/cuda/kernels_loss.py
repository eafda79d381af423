"""Softmax cross-entropy over class indices on the GPU (the meaning of runtime/kernels/loss.py).

Forward: one thread per row writes lse[i], the row's loss and the weight it counts with; one
thread then adds the rows up for 'sum' / 'mean' (N is a batch size: a short loop). Backward:
one thread computes the scale of 'mean' (1 / the weight total), then one thread per element
writes dx. A target outside [0, C) (and not ignore_index) sets a flag that the caller reads
back and raises on, as the CPU kernel does.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from . import launch
from ._jit import library_kernel
from .memory import empty, flat, to_host

REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}


def _launch(kernel, n, *args):
    if n:
        blocks, threads = launch.grid_1d(n)
        kernel[blocks, threads](*args, n)


@library_kernel
def _rows(x, target, weight, weighted, ignore_index, lse, loss, used, bad, c, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        top = x[i * c]
        for j in range(1, c):
            v = x[i * c + j]
            if v > top or v != v:
                top = v
        s = 0.0
        for j in range(c):
            s += math.exp(x[i * c + j] - top)
        lse[i] = top + math.log(s)
        t = target[i]
        loss[i] = 0
        used[i] = 0
        if t == ignore_index:
            continue
        if t < 0 or t >= c:
            bad[0] = 1
            continue
        w = weight[t] if weighted else 1.0
        loss[i] = w * (math.log(s) - (x[i * c + t] - top))
        used[i] = w


@library_kernel
def _total(loss, used, out, mean, n):
    if cuda.grid(1) == 0:
        total, weights = 0.0, 0.0
        for i in range(n):
            total += loss[i]
            weights += used[i]
        out[0] = total / weights if mean else total


@library_kernel
def _scale(target, weight, weighted, ignore_index, grad, reduction, scale, n):
    if cuda.grid(1) == 0:
        if reduction == 2:
            total = 0.0
            for i in range(n):
                if target[i] != ignore_index:
                    total += weight[target[i]] if weighted else 1.0
            scale[0] = grad[0] / total
        else:
            scale[0] = grad[0]


@library_kernel
def _grad(x, target, weight, weighted, ignore_index, lse, grad, per_row, scale, dx, c, n):
    for k in range(cuda.grid(1), n, cuda.gridsize(1)):
        i, j = k // c, k % c
        t = target[i]
        if t == ignore_index:
            dx[k] = 0
            continue
        s = (grad[i] if per_row else scale[0]) * (weight[t] if weighted else 1.0)
        dx[k] = s * (math.exp(x[k] - lse[i]) - (1.0 if j == t else 0.0))


def _weight(weight, x):
    return (flat(weight), True) if weight is not None else (empty((1,), x.dtype), False)


def cross_entropy(x, target, weight, loss, lse, ignore_index, reduction):
    """x (N, C), target (N,), weight (C,) or None -> loss ((N,) or 0-d) and lse (N,)."""
    n, c = x.shape
    w, weighted = _weight(weight, x)
    rows = loss if reduction == "none" else empty((n,), x.dtype)
    used, bad = empty((n,), x.dtype), cuda.to_device(np.zeros(1, np.int32))
    _launch(_rows, n, flat(x), flat(target), w, weighted, ignore_index, flat(lse), flat(rows),
            used, bad, c)
    if int(to_host(bad)[0]):
        raise ValueError("target out of bounds (cross_entropy): class indices must be in "
                         "[0, number of classes) or equal ignore_index")
    if reduction != "none":
        _total[1, 1](flat(rows), used, flat(loss), reduction == "mean", n)
    return loss, lse


def cross_entropy_backward(x, target, lse, grad, weight, dx, ignore_index, reduction):
    n, c = x.shape
    w, weighted = _weight(weight, x)
    scale = empty((1,), np.float64)
    if reduction != "none":
        _scale[1, 1](flat(target), w, weighted, ignore_index, flat(grad),
                     REDUCTIONS[reduction], scale, n)
    _launch(_grad, n * c, flat(x), flat(target), w, weighted, ignore_index, flat(lse),
            flat(grad), reduction == "none", scale, flat(dx), c)
    return dx
