"""NumPy references of the neural-network ops in `graphc.ops.nn`: their meaning.

Layout is NCHW. Attributes arrive normalized: stride/dilation/kernel pairs, padding as
(top, bottom, left, right). Each function loops over the (small) kernel window and does
whole-array work inside, so it is plain to read and not absurdly slow.
"""
from __future__ import annotations

import math

import numpy as np


def conv_out_size(size, pad_lo, pad_hi, kernel, stride, dilation, ceil_mode=False):
    """Output length of a sliding window (torch's formula, ceil_mode as in pooling)."""
    span = size + pad_lo + pad_hi - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_lo:  # the last window must start inside the input
        out -= 1
    return out


def transpose_out_size(size, pad_lo, pad_hi, kernel, stride, dilation, output_padding):
    return (size - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1) + output_padding + 1


def _taps(start, count, step):
    """The slice that picks `count` positions start, start+step, ..."""
    return slice(start, start + step * (count - 1) + 1, step)


def _padded(x, top, left, need_h, need_w, fill=0.0):
    """x with `top`/`left` rows/cols of fill before, and enough after to be need_h x need_w."""
    N, C, H, W = x.shape
    out = np.full((N, C, max(need_h, top + H), max(need_w, left + W)), fill, x.dtype)
    out[:, :, top:top + H, left:left + W] = x
    return out


# ---- convolution ------------------------------------------------------------------------------
def conv2d(x, w, b=None, *, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    Ho = conv_out_size(H, pt, pb, KH, sh, dh)
    Wo = conv_out_size(W, pl, pr, KW, sw, dw)
    xp = _padded(x, pt, pl, (Ho - 1) * sh + (KH - 1) * dh + 1, (Wo - 1) * sw + (KW - 1) * dw + 1)
    xg = xp.reshape(N, groups, Cg, xp.shape[2], xp.shape[3])
    wg = w.reshape(groups, O // groups, Cg, KH, KW)
    out = np.zeros((N, groups, O // groups, Ho, Wo), np.result_type(x, w))
    for i in range(KH):
        for j in range(KW):
            patch = xg[:, :, :, _taps(i * dh, Ho, sh), _taps(j * dw, Wo, sw)]
            out += np.einsum("ngchw,goc->ngohw", patch, wg[:, :, :, i, j], optimize=True)
    out = out.reshape(N, O, Ho, Wo)
    if b is not None:
        out += b.reshape(1, O, 1, 1)
    return out


def conv_transpose2d(x, w, b=None, *, stride, padding, output_padding, dilation, groups):
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    Ho = transpose_out_size(H, pt, pb, KH, sh, dh, output_padding[0])
    Wo = transpose_out_size(W, pl, pr, KW, sw, dw, output_padding[1])
    # Scatter into an uncropped buffer whose origin is at (-pt, -pl) of the output.
    full = np.zeros((N, groups, Og, max((H - 1) * sh + (KH - 1) * dh + 1, pt + Ho),
                     max((W - 1) * sw + (KW - 1) * dw + 1, pl + Wo)), np.result_type(x, w))
    xg = x.reshape(N, groups, C // groups, H, W)
    wg = w.reshape(groups, C // groups, Og, KH, KW)
    for i in range(KH):
        for j in range(KW):
            full[:, :, :, _taps(i * dh, H, sh), _taps(j * dw, W, sw)] += np.einsum(
                "ngchw,gco->ngohw", xg, wg[:, :, :, i, j], optimize=True)
    out = full[:, :, :, pt:pt + Ho, pl:pl + Wo].reshape(N, groups * Og, Ho, Wo)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out)


def conv2d_weight_grad(x, gy, *, kernel_size, stride, padding, dilation, groups):
    """gw[o, c, i, j] = sum gy[n, o, h, w] * x[n, g*Cg + c, h*sh - pt + i*dh, w*sw - pl + j*dw]."""
    N, C, H, W = x.shape
    _, O, Ho, Wo = gy.shape
    (KH, KW), (sh, sw), (pt, _, pl, _), (dh, dw) = kernel_size, stride, padding, dilation
    Cg = C // groups
    xp = _padded(x, pt, pl, (Ho - 1) * sh + (KH - 1) * dh + 1, (Wo - 1) * sw + (KW - 1) * dw + 1)
    xg = xp.reshape(N, groups, Cg, xp.shape[2], xp.shape[3])
    gg = gy.reshape(N, groups, O // groups, Ho, Wo)
    out = np.zeros((groups, O // groups, Cg, KH, KW), np.result_type(x, gy))
    for i in range(KH):
        for j in range(KW):
            patch = xg[:, :, :, _taps(i * dh, Ho, sh), _taps(j * dw, Wo, sw)]
            out[:, :, :, i, j] = np.einsum("ngchw,ngohw->goc", patch, gg, optimize=True)
    return out.reshape(O, Cg, KH, KW)


# ---- pooling ----------------------------------------------------------------------------------
def _pool_geometry(shape, kernel_size, stride, padding, dilation, ceil_mode):
    H, W = shape[2:]
    (KH, KW), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    return (conv_out_size(H, ph, ph, KH, sh, dh, ceil_mode),
            conv_out_size(W, pw, pw, KW, sw, dw, ceil_mode))


def max_pool2d(x, *, kernel_size, stride, padding, dilation, ceil_mode):
    """(values, indices): indices are flat h * W + w positions in each input plane."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    Ho, Wo = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    xp = _padded(x, ph, pw, (Ho - 1) * sh + (KH - 1) * dh + 1, (Wo - 1) * sw + (KW - 1) * dw + 1,
                 fill=-np.inf)
    rows = np.arange(Ho).reshape(Ho, 1) * sh - ph
    cols = np.arange(Wo).reshape(1, Wo) * sw - pw
    # a window of -inf points at its first tap inside the input, as in torch
    first_h = rows + dh * (-(rows.clip(max=0) // dh))
    first_w = cols + dw * (-(cols.clip(max=0) // dw))
    best = np.full((N, C, Ho, Wo), -np.inf, x.dtype)
    index = np.broadcast_to(first_h * W + first_w, best.shape).astype(np.int64)
    for i in range(KH):
        for j in range(KW):
            v = xp[:, :, _taps(i * dh, Ho, sh), _taps(j * dw, Wo, sw)]
            # the first maximum wins; a NaN wins over numbers (as np.argmax)
            take = (v > best) | (np.isnan(v) & ~np.isnan(best))
            best = np.where(take, v, best)
            index = np.where(take, (rows + i * dh) * W + (cols + j * dw), index)
    return best, index


def max_pool2d_backward(g, indices, *, input_hw):
    """Add each g into the input position its window's maximum came from."""
    N, C = g.shape[:2]
    H, W = input_hw
    out = np.zeros((N * C, H * W), g.dtype)
    rows = np.repeat(np.arange(N * C), g.shape[2] * g.shape[3])
    np.add.at(out, (rows, indices.reshape(-1)), g.reshape(-1))
    return out.reshape(N, C, H, W)


def max_pool2d_gather(x, indices):
    """out[n, c, i, j] = x[n, c].flat[indices[n, c, i, j]] (the adjoint of max_pool2d_backward)."""
    N, C = x.shape[:2]
    flat = x.reshape(N * C, -1)
    return np.take_along_axis(flat, indices.reshape(N * C, -1), axis=1).reshape(indices.shape)


def avg_pool_divisors(size, out, kernel, stride, pad, count_include_pad):
    """Per output position along one axis: the number of positions its window averages."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    whole = end - start
    valid = np.minimum(end, size) - np.maximum(start, 0)
    return whole if count_include_pad else valid


def _avg_divisor(shape, Ho, Wo, kernel_size, stride, padding, count_include_pad, divisor_override):
    if divisor_override:
        return np.full((Ho, Wo), divisor_override)
    dv_h = avg_pool_divisors(shape[2], Ho, kernel_size[0], stride[0], padding[0], count_include_pad)
    dv_w = avg_pool_divisors(shape[3], Wo, kernel_size[1], stride[1], padding[1], count_include_pad)
    return np.outer(dv_h, dv_w)


def avg_pool2d(x, *, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override):
    (KH, KW), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Ho, Wo = _pool_geometry(x.shape, kernel_size, stride, padding, (1, 1), ceil_mode)
    xp = _padded(x, ph, pw, (Ho - 1) * sh + KH, (Wo - 1) * sw + KW)
    total = np.zeros(x.shape[:2] + (Ho, Wo), x.dtype)
    for i in range(KH):
        for j in range(KW):
            total += xp[:, :, _taps(i, Ho, sh), _taps(j, Wo, sw)]
    div = _avg_divisor(x.shape, Ho, Wo, kernel_size, stride, padding, count_include_pad,
                       divisor_override)
    return (total / div.astype(x.dtype)).astype(x.dtype)


def avg_pool2d_backward(g, *, input_hw, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    (KH, KW), (sh, sw), (ph, pw) = kernel_size, stride, padding
    N, C, Ho, Wo = g.shape
    H, W = input_hw
    div = _avg_divisor((N, C, H, W), Ho, Wo, kernel_size, stride, padding, count_include_pad,
                       divisor_override)
    share = g / div.astype(g.dtype)
    full = np.zeros((N, C, max((Ho - 1) * sh + KH, ph + H), max((Wo - 1) * sw + KW, pw + W)),
                    g.dtype)
    for i in range(KH):
        for j in range(KW):
            full[:, :, _taps(i, Ho, sh), _taps(j, Wo, sw)] += share
    return np.ascontiguousarray(full[:, :, ph:ph + H, pw:pw + W])


def adaptive_windows(size, out):
    """torch's adaptive pooling windows along one axis: [floor(i*n/m), ceil((i+1)*n/m))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool2d(x, *, output_size):
    N, C, H, W = x.shape
    Ho, Wo = output_size
    out = np.empty((N, C, Ho, Wo), x.dtype)
    for i, (h0, h1) in enumerate(adaptive_windows(H, Ho)):
        for j, (w0, w1) in enumerate(adaptive_windows(W, Wo)):
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3), dtype=x.dtype)
    return out


def adaptive_avg_pool2d_backward(g, *, input_hw):
    N, C, Ho, Wo = g.shape
    H, W = input_hw
    out = np.zeros((N, C, H, W), g.dtype)
    for i, (h0, h1) in enumerate(adaptive_windows(H, Ho)):
        for j, (w0, w1) in enumerate(adaptive_windows(W, Wo)):
            out[:, :, h0:h1, w0:w1] += (g[:, :, i:i + 1, j:j + 1]
                                        / g.dtype.type((h1 - h0) * (w1 - w0)))
    return out


# ---- dropout: a counter-based RNG, identical in every implementation ----------------------------
# bits(i) = mix(key + GOLDEN * (i + 1)), key = mix(seed + GOLDEN * (stream + 1)), with mix the
# splitmix64 finalizer over uint64 (wrapping). Element i is kept when its top 24 bits, read as
# an integer, are >= ceil(p * 2**24). runtime.kernels.dropout implements the same function.
GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _mix_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def dropout_key(seed, stream):
    return _mix_int((int(seed) + GOLDEN * (int(stream) + 1)) & _MASK64)


def dropout_threshold(p):
    return min(int(math.ceil(p * (1 << 24))), 1 << 24)


def dropout_keep(seed, stream, n, p):
    """Boolean keep-mask of n elements (C order) for the given seed, stream and p."""
    z = np.uint64(dropout_key(seed, stream)) + np.uint64(GOLDEN) * np.arange(1, n + 1,
                                                                               dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)) >= np.uint64(dropout_threshold(p))


def dropout_scale(p):
    return 0.0 if p >= 1 else 1.0 / (1.0 - p)


def dropout(x, seed, *, p, stream):
    keep = dropout_keep(int(seed), stream, x.size, p).reshape(x.shape)
    return np.where(keep, x * x.dtype.type(dropout_scale(p)), x.dtype.type(0))
