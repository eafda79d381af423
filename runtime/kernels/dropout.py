"""Dropout from a counter-based RNG: element i's keep bit is a pure function of (seed, stream, i).

bits(i) = mix(key + GOLDEN * (i + 1)), key = mix(seed + GOLDEN * (stream + 1)), mix = the
splitmix64 finalizer over wrapping uint64; element i is kept when bits(i) >> 40 (24 random
bits) >= threshold = ceil(p * 2**24). graphc's NumPy reference of the dropout op computes the
same function, so compiled, eager and reference runs draw identical masks, and a gradient
re-derives its mask from the seed instead of storing it.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@kernel
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@kernel
def _key(seed, stream):
    return _mix(np.uint64(seed) + GOLDEN * np.uint64(stream + 1))


@kernel
def dropout(x, out, seed, stream, threshold, scale):
    """dropout(x[n] flat, out[n] flat, seed int64, stream int64, threshold int (ceil(p * 2**24)), scale float (1/(1-p), 0 when p == 1)): out = keep ? x * scale : 0"""
    key = _key(seed, stream)
    limit = np.uint64(threshold)
    s = x.dtype.type(scale)
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        bits = _mix(key + GOLDEN * np.uint64(i + 1))
        out[i] = x[i] * s if (bits >> np.uint64(40)) >= limit else zero


@kernel
def dropout_mask(out, seed, stream, threshold):
    """dropout_mask(out[n] bool, seed int64, stream int64, threshold int): the keep mask alone"""
    key = _key(seed, stream)
    limit = np.uint64(threshold)
    for i in range(out.shape[0]):
        out[i] = (_mix(key + GOLDEN * np.uint64(i + 1)) >> np.uint64(40)) >= limit
