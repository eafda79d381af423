"""graphc.nn.functional: activations, layers and losses as functions (torch.nn.functional).

The activations live in activation_functions.py and the losses in their own modules; this
module re-exports them beside the layers' functions.

Every function is composed of graphc ops, so it runs eagerly on tensors and builds graph
nodes on symbolic values; gradients come from the ops' rules. Convolution, pooling and
dropout are primitive ops of graphc.ops.nn.
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..eager.grad_mode import no_grad
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.graph import Value
from ..ops import registry, shape as S
from ..ops.linalg import linear as _linear_op
from .constants import on_device_of
from .loss_functions import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                             cross_entropy, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
                             huber_loss)
from .distribution_losses import gaussian_nll_loss, kl_div, poisson_nll_loss  # noqa: F401
from .padding import pad  # noqa: F401
from .inplace_activations import (celu_, elu_, hardtanh_, leaky_relu_, relu_,  # noqa: F401
                                  rrelu_, selu_, threshold_, write_into)
from .activation_functions import (  # noqa: F401  (activations)
    celu, elu, flatten, gelu, glu, gumbel_softmax, hardshrink, hardsigmoid, hardswish,
    hardtanh, leaky_relu, log_softmax, logsigmoid, mish, normalize, prelu, relu, relu6, rrelu,
    selu, sigmoid, silu, softmax, softmin, softplus, softshrink, softsign, tanh, tanhshrink,
    threshold)
from .ctc import ctc_loss  # noqa: F401
from .sampling import affine_grid, grid_sample  # noqa: F401
from .resampling import (channel_shuffle, interpolate, pixel_shuffle,  # noqa: F401
                         pixel_unshuffle, upsample)
from .norm_functions import (group_norm, instance_norm, local_response_norm,  # noqa: F401
                             rms_norm)
from .margin_losses import (cosine_embedding_loss, cosine_similarity,  # noqa: F401
                            hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                            multilabel_margin_loss, multilabel_soft_margin_loss,
                            pairwise_distance, soft_margin_loss,
                            triplet_margin_loss, triplet_margin_with_distance_loss)

# ---- linear layers and embeddings ---------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    if type(input) is Tensor and Tensor._trace is None and isinstance(weight, Tensor):
        # the eager fast path (nn.Linear's call): what _fused_linear decides, read from the
        # arrays, and the op dispatched without Op.__call__ (~0.9 µs of a ~4 µs call)
        x, w = input._data, weight._data
        if type(x) is np.ndarray and x.dtype.kind == "f" and w.dtype is x.dtype and \
                w.ndim == 2 and (bias is None or isinstance(bias, Tensor)
                                 and bias._data.dtype is x.dtype):
            if x.shape[-1] != w.shape[-1]:
                _features_mismatch(input, weight)
            return registry.dispatch(_linear_op, (input, weight) if bias is None else
                                     (input, weight, bias), {})
    if input.shape[-1] != weight.shape[-1] and isinstance(input.shape[-1], int):
        _features_mismatch(input, weight)
    if _fused_linear(input, weight, bias):
        return _linear_op(input, weight) if bias is None else _linear_op(input, weight, bias)
    out = G.matmul(input, G.t(weight))
    return out if bias is None else G.add(out, bias)


def _features_mismatch(input, weight):
    raise ValueError(f"linear: input has {input.shape[-1]} features (shape "
                     f"{list(input.shape)}) but the weight expects {weight.shape[-1]} "
                     f"(weight shape {list(weight.shape)})")


def _fused_linear(input, weight, bias):
    """Whether eager `linear` runs as one op: CPU tensors of one floating dtype, outside
    graphc.jit (symbolic code keeps matmul + add, which the compilers fuse)."""
    if Tensor._trace is not None or not isinstance(input, Tensor):
        return False
    for t in (weight, bias):
        if t is not None and (not isinstance(t, Tensor) or t.dtype is not input.dtype):
            return False
    return type(input._data) is np.ndarray and input.dtype.is_floating_point and \
        weight.ndim == 2


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] (+ b[o]), for any leading dims."""
    n_out, n1, n2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1, x2 = G.reshape(input1, (-1, n1)), G.reshape(input2, (-1, n2))
    w = G.reshape(G.permute(weight, (1, 0, 2)), (n1, n_out * n2))    # [i, (o, j)]
    x1w = G.reshape(G.matmul(x1, w), (-1, n_out, n2))                  # [n, o, j]
    out = G.sum(G.mul(x1w, G.unsqueeze(x2, 1)), dim=2)                 # [n, o]
    out = out if bias is None else G.add(out, bias)
    return G.reshape(out, tuple(-1 if not isinstance(d, int) else d for d in lead) + (n_out,))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """weight[input]: rows of `weight` picked by integer indices of any shape. As in PyTorch,
    indices equal to padding_idx give that row's values but no gradient to it (nn.Embedding
    starts the padding row at zero). max_norm first rescales, in place, each looked-up row
    whose norm exceeds it (PyTorch's embedding_renorm_: row * max_norm / (norm + 1e-7)), so it
    needs concrete indices."""
    if not input.dtype.is_integer:
        raise TypeError(f"embedding: indices must be integers, got {input.dtype.name}")
    if scale_grad_by_freq:  # (sparse=True: the gradient stays dense, see nn.Embedding)
        raise UnsupportedError("embedding: scale_grad_by_freq is not supported")
    if max_norm is not None:
        _renorm_rows(input, weight, max_norm, norm_type)
    out = S.index(weight, input, axis=0)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        out = G.where(G.unsqueeze(G.ne(input, padding_idx), -1), out, G.detach(out))
    return out


def _renorm_rows(input, weight, max_norm, norm_type):
    if isinstance(input, Value) or isinstance(weight, Value):
        raise UnsupportedError("embedding: max_norm rewrites the weight rows an input looks up, "
                               "in place; that needs eager tensors (not symbolic values)")
    rows = np.unique(np.asarray(input.cpu()._data).reshape(-1))
    w = np.asarray(weight.cpu()._data)
    picked = w[rows]
    if norm_type == np.inf:
        norms = np.abs(picked).max(axis=1)
    else:
        norms = (np.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        updated = w.copy()
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        updated[rows[big]] = picked[big] * scale[:, None]
        write_state(weight, updated)


def pdist(input, p=2):
    """Distances between every pair of rows i < j of an (N, M) input, in row-major order."""
    if input.ndim != 2:
        raise ValueError(f"pdist only supports 2D tensors, got shape {list(input.shape)}")
    rows, cols = np.triu_indices(input.shape[0], 1)
    from .margin_losses import vector_norm
    return vector_norm(G.sub(S.index(input, rows, axis=0), S.index(input, cols, axis=0)), p,
                       -1)


def one_hot(tensor, num_classes=-1):
    if num_classes < 0:
        if isinstance(tensor, Value):
            raise ValueError("one_hot: give num_classes for symbolic indices")
        num_classes = int(np.asarray(tensor).max()) + 1
    classes = on_device_of(tensor, np.arange(num_classes, dtype=np.int64))
    return G.cast(G.eq(G.unsqueeze(tensor, -1), classes), "int64")


# ---- normalization -----------------------------------------------------------------------------------
def batch_norm_with_stats(input, running_mean, running_var, weight=None, bias=None,
                          training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over all dims but 1, one `batch_norm` op (graphc/ops/norm.py).
    Returns (output, new running mean, new running var); the new statistics are None when
    not training or not tracked."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expects at least 2-D input (N, C, ...), got shape "
                         f"{list(input.shape)}")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running statistics are needed in eval mode")
    from ..ops import norm as ops_norm
    tracked = running_mean is not None
    channels = input.shape[1]
    out, _, _, new_mean, new_var = ops_norm.batch_norm(
        input, _or_fill(weight, input, channels, 1.0), _or_fill(bias, input, channels, 0.0),
        _or_fill(running_mean, input, channels, 0.0), _or_fill(running_var, input, channels, 1.0),
        training=training, momentum=momentum if training and tracked else 0.0, eps=eps)
    if not (training and tracked):
        return out, None, None
    return out, new_mean, new_var


_FILLS: dict = {}  # (channels, dtype, value) -> a CPU tensor, shared by eager calls


def _or_fill(given, input, channels, value):
    """`given`, or a (channels,) constant of `value` (the weight, bias or statistics a call
    does not have) where `input` lives."""
    if given is not None:
        return given
    if not isinstance(channels, int):
        raise ValueError(f"batch_norm: without weight, bias or running statistics the channel "
                         f"count must be known, got input shape {list(input.shape)}")
    dtype = input.dtype.np if input.dtype.is_floating_point else np.float32
    if isinstance(input, Value) or getattr(input, "is_cuda", False) or Tensor._trace is not None:
        return on_device_of(input, np.full(channels, value, dtype))
    key = (channels, dtype, value)
    fill = _FILLS.get(key)
    if fill is None:
        fill = _FILLS[key] = Tensor._wrap(np.full(channels, value, dtype))
    return fill


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm; in training mode the running statistics are updated
    in place (eagerly; on symbolic input use nn.BatchNorm*d, whose updates compile)."""
    out, new_mean, new_var = batch_norm_with_stats(input, running_mean, running_var, weight,
                                                   bias, training, momentum, eps)
    if new_mean is not None:
        if isinstance(new_mean, Value):
            raise UnsupportedError("batch_norm: running statistics of a symbolic input cannot "
                                   "be updated in place; use graphc.nn.BatchNorm1d/2d and pass "
                                   "model.buffer_updates() to graphc.compile(updates=...)")
        write_state(running_mean, new_mean)
        write_state(running_var, new_var)
    return out


def write_state(target, value):
    """Eagerly overwrite a state tensor (running statistics) without recording gradients."""
    with no_grad():
        target._assign(value)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = G.mean(input, dims, keepdim=True)
    var = G.var(input, dims, keepdim=True, correction=0)
    out = G.mul(G.sub(input, mean), G.rsqrt(G.add(var, eps)))
    if weight is not None:
        out = G.mul(out, weight)
    return out if bias is None else G.add(out, bias)


# ---- convolution, pooling, dropout: primitive ops of graphc.ops.nn -------------------------------------
def _nn_ops():
    from ..ops import nn as ops_nn  # imported on first use: the layers above do not need it
    return ops_nn


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _nn_ops().conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _nn_ops().conv_transpose2d(input, weight, bias, stride, padding, output_padding,
                                      groups, dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _nn_ops().max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode,
                                return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _nn_ops().avg_pool2d(input, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)


def adaptive_avg_pool2d(input, output_size):
    return _nn_ops().adaptive_avg_pool2d(input, output_size)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def upsample_nearest(input, size=None, scale_factor=None):
    import warnings
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    import warnings
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- 1-D layers: the 2-D ops on a height-1 image ((N, C, L) -> (N, C, 1, L)) --------------------
def _one(v, name):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(v) != 1:
        raise ValueError(f"{name}: expected a single value for a 1-D layer, got {v}")
    return v[0]


def _as_2d(input, name):
    if input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{list(input.shape)}")
    return G.unsqueeze(input, -2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, _one(padding, "conv1d"))
    out = conv2d(_as_2d(input, "conv1d"), G.unsqueeze(weight, 2), bias,
                 (1, _one(stride, "conv1d")), pad2, (1, _one(dilation, "conv1d")), groups)
    return G.squeeze(out, -2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    name = "conv_transpose1d"
    out = conv_transpose2d(_as_2d(input, name), G.unsqueeze(weight, 2), bias,
                           (1, _one(stride, name)), (0, _one(padding, name)),
                           (0, _one(output_padding, name)), groups, (1, _one(dilation, name)))
    return G.squeeze(out, -2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    name = "max_pool1d"
    k = _one(kernel_size, name)
    s = k if stride is None or stride == () or stride == [] else _one(stride, name)
    out = max_pool2d(_as_2d(input, name), (1, k), (1, s), (0, _one(padding, name)),
                     (1, _one(dilation, name)), ceil_mode, return_indices)
    if return_indices:
        return G.squeeze(out[0], -2), G.squeeze(out[1], -2)
    return G.squeeze(out, -2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    name = "avg_pool1d"
    k = _one(kernel_size, name)
    s = k if stride is None or stride == () or stride == [] else _one(stride, name)
    out = avg_pool2d(_as_2d(input, name), (1, k), (1, s), (0, _one(padding, name)), ceil_mode,
                     count_include_pad)
    return G.squeeze(out, -2)


def adaptive_avg_pool1d(input, output_size):
    out = adaptive_avg_pool2d(_as_2d(input, "adaptive_avg_pool1d"),
                              (1, _one(output_size, "adaptive_avg_pool1d")))
    return G.squeeze(out, -2)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p, scale the rest by 1/(1-p). Eager and compiled calls
    draw their masks from one stream (graphc.manual_seed): the same seed and call sequence give
    the same masks in both modes; a compiled step advances the stream by itself.
    inplace=True writes the result into input (write_into), as PyTorch's dropout_."""
    if inplace and training and p != 0:
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        return write_into(input, _nn_ops().dropout, p, training)
    return _nn_ops().dropout(input, p, training)


__all__ = [
    "celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "rrelu_", "selu_", "threshold_",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "pdist", "upsample_bilinear",
    "upsample_nearest",
    "affine_grid", "grid_sample",
    "adaptive_avg_pool3d", "adaptive_max_pool3d", "conv_transpose3d", "max_unpool1d",
    "max_unpool2d",
    "feature_alpha_dropout", "multilabel_margin_loss",
    "avg_pool3d", "conv3d", "max_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices", "embedding_bag",
    "fold", "gumbel_softmax",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool3d_with_indices", "max_unpool3d", "rrelu",
    "unfold",
    "ctc_loss", "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
    "scaled_dot_product_attention",
    "alpha_dropout", "channel_shuffle", "dropout1d", "dropout2d", "dropout3d", "interpolate",
    "pixel_shuffle", "pixel_unshuffle", "upsample",
    "group_norm", "instance_norm", "local_response_norm", "rms_norm",
    "glu", "hardsigmoid", "hardswish",
    "conv1d", "conv_transpose1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d",
    "cosine_embedding_loss", "cosine_similarity", "gaussian_nll_loss", "hinge_embedding_loss",
    "kl_div", "margin_ranking_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
    "pairwise_distance", "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "bilinear", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "celu", "conv2d", "conv_transpose2d", "cross_entropy",
    "dropout", "elu", "embedding", "flatten", "gelu", "hardshrink", "hardtanh", "huber_loss",
    "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool2d",
    "mish", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "prelu", "relu", "relu6",
    "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softmin", "softplus", "softshrink",
    "softsign", "tanh", "tanhshrink", "threshold",
]


# Functions defined next to their modules in modules that import this one (pooling, volumetric,
# attention, dropout, embedding_bag): loaded on first use, so that no import cycle exists.
_DEFINED_WITH_THEIR_MODULES = {
    'adaptive_avg_pool3d': 'pooling',
    'adaptive_max_pool1d': 'indexed_pool',
    'adaptive_max_pool1d_with_indices': 'indexed_pool',
    'adaptive_max_pool2d': 'indexed_pool',
    'adaptive_max_pool2d_with_indices': 'indexed_pool',
    'adaptive_max_pool3d': 'indexed_pool',
    'adaptive_max_pool3d_with_indices': 'indexed_pool',
    'alpha_dropout': 'dropout',
    'avg_pool3d': 'volumetric',
    'conv3d': 'volumetric',
    'conv_transpose3d': 'volumetric',
    'dropout1d': 'dropout',
    'dropout2d': 'dropout',
    'dropout3d': 'dropout',
    'embedding_bag': 'embedding_bag',
    'feature_alpha_dropout': 'dropout',
    'fold': 'pooling',
    'fractional_max_pool2d': 'fractional_pool',
    'fractional_max_pool2d_with_indices': 'fractional_pool',
    'fractional_max_pool3d': 'fractional_pool',
    'fractional_max_pool3d_with_indices': 'fractional_pool',
    'lp_pool1d': 'pooling',
    'lp_pool2d': 'pooling',
    'lp_pool3d': 'pooling',
    'max_pool3d': 'volumetric',
    'max_pool3d_with_indices': 'volumetric',
    'max_unpool1d': 'pooling',
    'max_unpool2d': 'pooling',
    'max_unpool3d': 'pooling',
    'scaled_dot_product_attention': 'attention',
    'unfold': 'pooling',
}


def __getattr__(name):
    home = _DEFINED_WITH_THEIR_MODULES.get(name)
    if home is None:
        raise AttributeError(f"module 'graphc.nn.functional' has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f"{__package__}.{home}"), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
