"""Eager mode's fast path for the nn ops: each op's `eager` function runs its runtime kernel.

Same signature and results as the op's NumPy reference (tests check both against each other);
inputs the kernels do not take (other dtypes, empty arrays) fall back to the reference. The
kernels are imported on first use, so `import graphc` does not pay for starting Numba.
"""
from __future__ import annotations

import numpy as np

from runtime.kernels import buffer_cache

from . import conv, elementwise, loss, nn, nn_reference as ref, norm, pool

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Results (activations, their gradients) come from the cache of large buffers, whose pages
# stay mapped between steps (runtime/kernels/buffer_cache.py: ~6,500 page faults and 12-17 ms
# of a 75 ms ResNet-block step). Weight gradients do not: they usually become a parameter's
# .grad, which adopts only arrays that own their memory.
_empty, _empty_like = buffer_cache.empty, buffer_cache.empty_like


def _kernels():
    # conv: the drivers that run the GEMMs with NumPy's BLAS (faster here than the one
    # compiled code reaches through Numba; runtime/kernels/conv_numpy.py)
    from runtime.kernels import (conv_numpy as k_conv, dropout as k_dropout, loss as k_loss,
                                 norm as k_norm, pool as k_pool)
    return k_conv, k_pool, k_dropout, k_loss, k_norm


# From this many elements the kernel call wins (1,024 float32: 1.8 µs against 2.6 µs for
# relu's reference, where(x < 0, 0, x)); below it a small program (an XOR MLP) never starts
# Numba for them.
ACTIVATION_KERNEL_MIN = 2048


def _activation_kernels(*arrays):
    """runtime/kernels/activation.py, if these arrays are worth a kernel call (large, one
    float dtype, contiguous), else None."""
    a = arrays[0]
    if a.size < ACTIVATION_KERNEL_MIN or a.dtype not in _FLOATS or not all(
            b.dtype == a.dtype and b.shape == a.shape and b.flags.c_contiguous for b in arrays):
        return None
    from runtime.kernels import activation
    return activation


def relu(x):
    """Eager relu: relu's reference (np.maximum(x, 0)) in one vectorized pass when large."""
    kernels = _activation_kernels(x)
    if kernels is None:
        return elementwise.relu.reference(x)
    out = _empty_like(x)
    kernels.relu(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(g, x):
    """relu's gradient rule, where(x > 0, g, 0), in one pass when large; None when the
    arrays do not fit the kernel (the caller runs the rule)."""
    kernels = _activation_kernels(g, x)
    if kernels is None:
        return None
    out = _empty_like(g)
    kernels.relu_backward(g.reshape(-1), x.reshape(-1), out.reshape(-1))
    return out


def _fits(*arrays):
    """Whether the kernels take these arrays (one float dtype, nothing empty)."""
    dtype = arrays[0].dtype
    return dtype in _FLOATS and all(a.dtype == dtype and a.size for a in arrays)


def _c(a):
    return np.ascontiguousarray(a)


def _bias(b, dtype):
    return np.zeros(0, dtype) if b is None else _c(b)


def with_fallback(reference, fast, arrays_of):
    """An eager function: `fast` when the kernels take the arrays, else the reference."""
    def run(*args, **attrs):
        if _fits(*arrays_of(args)):
            return fast(*args, **attrs)
        return reference(*args, **attrs)
    run.__name__ = f"eager_{fast.__name__.lstrip('_')}"
    return run


def _conv2d(x, w, b=None, *, stride, padding, dilation, groups):
    Ho = ref.conv_out_size(x.shape[2], padding[0], padding[1], w.shape[2], stride[0], dilation[0])
    Wo = ref.conv_out_size(x.shape[3], padding[2], padding[3], w.shape[3], stride[1], dilation[1])
    out = _empty((x.shape[0], w.shape[0], Ho, Wo), x.dtype)
    _kernels()[0].conv2d(_c(x), _c(w), _bias(b, x.dtype), out, *stride, padding[0], padding[2],
                         *dilation, groups)
    return out


def _conv_transpose2d(x, w, b=None, *, stride, padding, output_padding, dilation, groups):
    sizes = [ref.transpose_out_size(x.shape[2 + a], padding[2 * a], padding[2 * a + 1],
                                    w.shape[2 + a], stride[a], dilation[a], output_padding[a])
             for a in (0, 1)]
    out = _empty((x.shape[0], w.shape[1] * groups, *sizes), x.dtype)
    _kernels()[0].conv_transpose2d(_c(x), _c(w), _bias(b, x.dtype), out, *stride, padding[0],
                                   padding[2], *dilation, groups)
    return out


def _conv2d_weight_grad(x, gy, *, kernel_size, stride, padding, dilation, groups):
    gw = np.empty((gy.shape[1], x.shape[1] // groups, *kernel_size), x.dtype)
    _kernels()[0].conv2d_weight_grad(_c(x), _c(gy), gw, *stride, padding[0], padding[2],
                                     *dilation, groups)
    return gw


def _pool_out(x, kernel_size, stride, padding, dilation, ceil_mode):
    return x.shape[:2] + tuple(ref.conv_out_size(x.shape[2 + a], padding[a], padding[a],
                                                 kernel_size[a], stride[a], dilation[a], ceil_mode)
                               for a in (0, 1))


def _max_pool2d(x, *, kernel_size, stride, padding, dilation, ceil_mode):
    shape = _pool_out(x, kernel_size, stride, padding, dilation, ceil_mode)
    out, indices = _empty(shape, x.dtype), _empty(shape, np.int64)
    pool_kernels = _kernels()[1]
    name, geometry = pool_kernels.max_pool2d_variant(*x.shape[2:], *shape[2:], *kernel_size,
                                                     *stride, *padding, *dilation)
    getattr(pool_kernels, name)(_c(x), out, indices, *geometry)  # (only this one compiles)
    return out, indices


def _max_pool2d_backward(g, indices, *, input_hw):
    out = _empty(g.shape[:2] + tuple(input_hw), g.dtype)
    _kernels()[1].max_pool2d_backward(_c(g), _c(indices.astype(np.int64, copy=False)), out)
    return out


def _max_pool2d_gather(x, indices):
    out = _empty(indices.shape, x.dtype)
    _kernels()[1].max_pool2d_gather(_c(x), _c(indices.astype(np.int64, copy=False)), out)
    return out


def _avg_args(kernel_size, stride, padding, count_include_pad, divisor_override):
    return (*kernel_size, *stride, *padding, bool(count_include_pad), int(divisor_override or 0))


def _avg_pool2d(x, *, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    out = _empty(_pool_out(x, kernel_size, stride, padding, (1, 1), ceil_mode), x.dtype)
    _kernels()[1].avg_pool2d(_c(x), out, *_avg_args(kernel_size, stride, padding,
                                                    count_include_pad, divisor_override))
    return out


def _avg_pool2d_backward(g, *, input_hw, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override):
    out = _empty(g.shape[:2] + tuple(input_hw), g.dtype)
    _kernels()[1].avg_pool2d_backward(_c(g), out, *_avg_args(kernel_size, stride, padding,
                                                             count_include_pad, divisor_override))
    return out


def _adaptive_avg_pool2d(x, *, output_size):
    out = _empty(x.shape[:2] + tuple(output_size), x.dtype)
    _kernels()[1].adaptive_avg_pool2d(_c(x), out)
    return out


def _adaptive_avg_pool2d_backward(g, *, input_hw):
    out = _empty(g.shape[:2] + tuple(input_hw), g.dtype)
    _kernels()[1].adaptive_avg_pool2d_backward(_c(g), out)
    return out


def _dropout(x, seed, *, p, stream):
    out = _empty(x.shape, x.dtype)
    _kernels()[2].dropout(_c(x).reshape(-1), out.reshape(-1), int(seed), int(stream),
                          ref.dropout_threshold(p), ref.dropout_scale(p))
    return out


def _weights(weight, dtype):
    return np.zeros(0, dtype) if weight is None else _c(weight)


def _cross_entropy(x, target, weight=None, *, ignore_index, reduction):
    lse = np.empty(x.shape[0], x.dtype)
    out = np.empty(x.shape[0] if reduction == "none" else 1, x.dtype)
    _kernels()[3].cross_entropy(_c(x), _c(target), _weights(weight, x.dtype), lse, out,
                                ignore_index, loss.REDUCTIONS[reduction])
    return (out if reduction == "none" else out.reshape(())), lse


def _cross_entropy_backward(x, target, lse, grad, weight=None, *, ignore_index, reduction):
    dx = _empty(x.shape, x.dtype)
    _kernels()[3].cross_entropy_backward(
        _c(x), _c(target), _weights(weight, x.dtype), _c(lse), _c(grad).reshape(-1), dx,
        ignore_index, loss.REDUCTIONS[reduction])
    return dx


def _channels_view(a):
    """a contiguous (N, C, ...) array as (N, C, S), the kernels' layout."""
    return _c(a).reshape(a.shape[0], a.shape[1], -1)


def _batch_norm(x, weight, bias, running_mean, running_var, *, training, momentum, eps):
    out = _empty(x.shape, x.dtype)
    stats = [np.empty(x.shape[1], x.dtype) for _ in range(4)]
    _kernels()[4].batch_norm(_channels_view(x), _c(weight), _c(bias), _c(running_mean),
                             _c(running_var), _channels_view(out), *stats, training, momentum,
                             eps)
    return (out, *stats)


def _batch_norm_backward(g, x, weight, mean, invstd, *, training):
    gx = _empty(x.shape, x.dtype)
    gweight, gbias = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    _kernels()[4].batch_norm_backward(_channels_view(g), _channels_view(x), _c(weight),
                                      _c(mean), _c(invstd), _channels_view(gx), gweight, gbias,
                                      training)
    return gx, gweight, gbias


def _all(args):
    return args


def _first(args):
    return args[:1]


def _first_two(args):
    return args[:2]


def _floats_with_bias(args):
    return [a for a in args if a is not None]


def _logits_and_weight(args):
    return [args[0]] + list(args[2:3])


def _logits_lse_grad_and_weight(args):
    return [args[0]] + list(args[2:5])


for op, fast, arrays_of in [
        (conv.conv2d_op, _conv2d, _floats_with_bias),
        (conv.conv_transpose2d_op, _conv_transpose2d, _floats_with_bias),
        (conv.conv2d_weight_grad, _conv2d_weight_grad, _first_two),
        (pool.max_pool2d_op, _max_pool2d, _first),
        (pool.max_pool2d_backward, _max_pool2d_backward, _first),
        (pool.max_pool2d_gather, _max_pool2d_gather, _first),
        (pool.avg_pool2d_op, _avg_pool2d, _first),
        (pool.avg_pool2d_backward, _avg_pool2d_backward, _first),
        (pool.adaptive_avg_pool2d_op, _adaptive_avg_pool2d, _first),
        (pool.adaptive_avg_pool2d_backward, _adaptive_avg_pool2d_backward, _first),
        (nn.dropout_op, _dropout, _first),
        (loss.cross_entropy, _cross_entropy, _logits_and_weight),
        (loss.cross_entropy_backward, _cross_entropy_backward, _logits_lse_grad_and_weight),
        (norm.batch_norm, _batch_norm, _all),
        (norm.batch_norm_backward, _batch_norm_backward, _all)]:
    op.eager = with_fallback(op.reference, fast, arrays_of)
elementwise.relu.eager = relu
