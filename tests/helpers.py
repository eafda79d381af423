"""Shared test helpers: running a case eagerly or statically, finite differences."""
from __future__ import annotations

import numpy as np

import graphc as gc


def eager_inputs(arrays, requires_grad=()):
    out = []
    for i, a in enumerate(arrays):
        t = gc.tensor(np.asarray(a))
        if i in requires_grad:
            t.requires_grad = True
        out.append(t)
    return out


def placeholders(arrays):
    return [gc.placeholder(np.shape(a), np.asarray(a).dtype, name=f"in{i}")
            for i, a in enumerate(arrays)]


def float_inputs(case):
    if case.grad_inputs is not None:
        return list(case.grad_inputs)
    return [i for i, a in enumerate(case.inputs) if np.asarray(a).dtype.kind == "f"]


def numeric_grad(f, arrays, wrt, eps=1e-6):
    """Central finite differences of the scalar f(*arrays) w.r.t. arrays[wrt]."""
    arrays = [np.array(a, dtype=np.float64) if i == wrt else a for i, a in enumerate(arrays)]
    x = arrays[wrt]
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = f(*arrays)
        flat[k] = old - eps
        lo = f(*arrays)
        flat[k] = old
        gflat[k] = (hi - lo) / (2 * eps)
    return g


def cotangent_like(shape, seed=7):
    return np.random.default_rng(seed).standard_normal(shape)
