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


def _host(t):
    return np.asarray(t.detach().cpu().numpy())


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the tensors' norms (of all their elements together)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not tensors:
        return Tensor._wrap(np.asarray(0.0, np.float32))
    arrays = [_host(t).astype(np.float64) for t in tensors]
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays)
    elif norm_type == -math.inf:
        total = min(float(np.abs(a).min()) for a in arrays if a.size)
    elif norm_type == 0:
        total = float(sum(np.count_nonzero(a) for a in arrays))
    else:
        total = float(sum(float((np.abs(a) ** norm_type).sum()) for a in arrays)
                      ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm "
                           f"anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(np.asarray(total, _host(tensors[0]).dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)), in place."""
    coef = float(max_norm) / (float(np.asarray(_host(total_norm) if isinstance(
        total_norm, Tensor) else total_norm)) + 1e-6)
    if coef < 1:
        for g in _grads(parameters):
            g._assign((_host(g) * coef).astype(_host(g).dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale gradients in place so that their joint norm is at most max_norm; returns the
    norm before clipping."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated name of clip_grad_norm_ (PyTorch warns)."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        g._assign(np.clip(_host(g), -clip_value, clip_value))


def skip_init(module_cls, *args, **kwargs):
    """PyTorch builds the module without initializing its parameters (their values are
    unspecified); graphc initializes them as usual, which is one valid outcome."""
    return module_cls(*args, **kwargs)


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
