"""graphc.nn.utils: gradient clipping, parameter/vector conversions (eager tensors), weight
normalization and (in .rnn) sequence padding and packing."""
from __future__ import annotations

import math

import numpy as np

from ...eager.tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale gradients in place so that their joint norm is at most max_norm; returns the
    norm before clipping."""
    grads = _grads(parameters)
    if not grads:
        return Tensor._wrap(np.asarray(0.0, np.float32))
    if norm_type == math.inf:
        total = max(float(np.abs(g._data).max()) for g in grads)
    else:
        total = float(sum(float((np.abs(g._data.astype(np.float64)) ** norm_type).sum())
                          for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                           f"non-finite, so it cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g._data *= np.asarray(coef, g._data.dtype)
    return Tensor._wrap(np.asarray(total, grads[0]._data.dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)


def parameters_to_vector(parameters):
    return Tensor._wrap(np.concatenate([p._data.reshape(-1) for p in parameters]))


def vector_to_parameters(vec, parameters):
    data, start = np.asarray(vec), 0
    for p in parameters:
        n = p._data.size
        p._assign(data[start:start + n].reshape(p.shape))
        start += n


from . import parametrizations, parametrize, rnn  # noqa: E402,F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: E402,F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: E402,F401
