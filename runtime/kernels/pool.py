"""2-D pooling kernels (NCHW): max (values + flat argmax indices), average, adaptive average,
and their input gradients.

Calling convention: C-contiguous float32/float64 arrays, preallocated outputs (every element
written), int geometry: kernel (KH, KW), stride (sh, sw), padding (ph, pw), dilation (dh, dw).
Indices are int64 flat positions h * W + w within each input plane, as torch returns them.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ._jit import kernel


@kernel
def _taps(count, step, offset, size):
    """[lo, hi): the taps k in [0, count) with 0 <= offset + k * step < size."""
    lo = 0 if offset >= 0 else (-offset + step - 1) // step
    hi = min(count, (size - offset + step - 1) // step) if offset < size else 0
    return lo, max(lo, hi)


@kernel
def _tap_ranges(count, size, kernel_size, stride, pad, dilation):
    """Per output position along one axis: the [lo, hi) of its taps that fall inside the input.

    Computed once per call: integer divisions in the per-window loop cost 10x the pooling."""
    lo = np.empty(count, np.int64)
    hi = np.empty(count, np.int64)
    for i in range(count):
        lo[i], hi[i] = _taps(kernel_size, dilation, i * stride - pad, size)
    return lo, hi


@register_jitable
def windows_inside(H, W, Ho, Wo, KH, KW, sh, sw, ph, pw, dh, dw):
    """Whether every pooling window lies inside the input (no padding, nothing to clip)."""
    return ph == 0 and pw == 0 and (Ho - 1) * sh + (KH - 1) * dh < H and \
        (Wo - 1) * sw + (KW - 1) * dw < W


@register_jitable
def windows_2x2(KH, KW, sh, sw, dh, dw):
    """Whether the windows are 2x2 with stride 2 (the unrolled kernel's geometry)."""
    return KH == 2 and KW == 2 and sh == 2 and sw == 2 and dh == 1 and dw == 1


def max_pool2d_variant(H, W, Ho, Wo, KH, KW, sh, sw, ph, pw, dh, dw):
    """(kernel name, its geometry arguments): the max pooling kernel that max_pool2d takes
    for this geometry, chosen before the call, so that a compiled program or an eager call
    compiles that one only (the three variants behind max_pool2d compile in ~2.5 s)."""
    if not windows_inside(H, W, Ho, Wo, KH, KW, sh, sw, ph, pw, dh, dw):
        return "max_pool2d_clipped", (KH, KW, sh, sw, ph, pw, dh, dw)
    if windows_2x2(KH, KW, sh, sw, dh, dw):
        return "max_pool2d_2x2", ()
    return "max_pool2d_inside", (KH, KW, sh, sw, dh, dw)


@kernel
def max_pool2d(x, out, indices, KH, KW, sh, sw, ph, pw, dh, dw):
    """max_pool2d(x[N,C,H,W], out[N,C,Ho,Wo], indices[N,C,Ho,Wo] int64, KH, KW, sh, sw, ph, pw, dh, dw); the first maximum of a window wins, NaN beats numbers"""
    H, W = x.shape[2], x.shape[3]
    Ho, Wo = out.shape[2], out.shape[3]
    if windows_inside(H, W, Ho, Wo, KH, KW, sh, sw, ph, pw, dh, dw):
        if windows_2x2(KH, KW, sh, sw, dh, dw):
            max_pool2d_2x2(x, out, indices)
        else:
            max_pool2d_inside(x, out, indices, KH, KW, sh, sw, dh, dw)
    else:
        max_pool2d_clipped(x, out, indices, KH, KW, sh, sw, ph, pw, dh, dw)


@kernel
def max_pool2d_2x2(x, out, indices):
    """max_pool2d_2x2(x, out, indices): max_pool2d with 2x2 windows, stride 2, every window inside the input"""
    max_pool2d_inside(x, out, indices, 2, 2, 2, 2, 1, 1)  # literals: unrolled, 3x faster


@kernel
def max_pool2d_inside(x, out, indices, KH, KW, sh, sw, dh, dw):
    """max_pool2d_inside(x, out, indices, KH, KW, sh, sw, dh, dw): max_pool2d when every window lies inside the input (no padding): no clipping in the hot loop"""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            plane, values, where = x[n, c], out[n, c], indices[n, c]
            for i in range(Ho):
                for j in range(Wo):
                    best = plane[i * sh, j * sw]
                    at = i * sh * W + j * sw
                    for ki in range(KH):
                        h = i * sh + ki * dh
                        for kj in range(KW):
                            v = plane[h, j * sw + kj * dw]
                            if not (v <= best) and best == best:  # greater, or a first NaN
                                best = v
                                at = h * W + j * sw + kj * dw
                    values[i, j] = best
                    where[i, j] = at


@kernel
def max_pool2d_clipped(x, out, indices, KH, KW, sh, sw, ph, pw, dh, dw):
    """max_pool2d_clipped(x, out, indices, KH, KW, sh, sw, ph, pw, dh, dw): max_pool2d for any geometry, windows clipped to the input"""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    ki_lo, ki_hi = _tap_ranges(Ho, H, KH, sh, ph, dh)
    kj_lo, kj_hi = _tap_ranges(Wo, W, KW, sw, pw, dw)
    for n in range(N):
        for c in range(C):
            plane, values, where = x[n, c], out[n, c], indices[n, c]
            for i in range(Ho):
                h0 = i * sh - ph
                for j in range(Wo):
                    w0 = j * sw - pw
                    best_h, best_w = h0 + ki_lo[i] * dh, w0 + kj_lo[j] * dw
                    best = plane[best_h, best_w]
                    for ki in range(ki_lo[i], ki_hi[i]):
                        row = plane[h0 + ki * dh]
                        for kj in range(kj_lo[j], kj_hi[j]):
                            v = row[w0 + kj * dw]
                            if not (v <= best) and best == best:  # greater, or a first NaN
                                best, best_h, best_w = v, h0 + ki * dh, w0 + kj * dw
                    values[i, j] = best
                    where[i, j] = best_h * W + best_w


@kernel
def max_pool2d_backward(g, indices, out):
    """max_pool2d_backward(g[N,C,Ho,Wo], indices[N,C,Ho,Wo] int64, out[N,C,H,W]): out = 0, then out.flat-per-plane[indices] += g"""
    N, C = g.shape[0], g.shape[1]
    P = g.shape[2] * g.shape[3]
    g2 = g.reshape(N * C, P)
    i2 = indices.reshape(N * C, P)
    o2 = out.reshape(N * C, out.shape[2] * out.shape[3])
    o2[:] = 0
    for r in range(N * C):
        dst, src, idx = o2[r], g2[r], i2[r]
        for p in range(P):
            dst[idx[p]] += src[p]


@kernel
def max_pool2d_gather(x, indices, out):
    """max_pool2d_gather(x[N,C,H,W], indices[N,C,Ho,Wo] int64, out[N,C,Ho,Wo]): out = x.flat-per-plane[indices]"""
    N, C = x.shape[0], x.shape[1]
    P = indices.shape[2] * indices.shape[3]
    x2 = x.reshape(N * C, x.shape[2] * x.shape[3])
    i2 = indices.reshape(N * C, P)
    o2 = out.reshape(N * C, P)
    for r in range(N * C):
        dst, src, idx = o2[r], x2[r], i2[r]
        for p in range(P):
            dst[p] = src[idx[p]]


@kernel
def _avg_divisor(i, size, kernel_size, stride, pad, count_include_pad):
    start = i * stride - pad
    end = min(start + kernel_size, size + pad)
    if count_include_pad:
        return end - start
    return min(end, size) - max(start, 0)


@kernel
def _window(i, stride, pad, kernel_size, size):
    start = i * stride - pad
    return max(start, 0), min(start + kernel_size, size)


@kernel
def _adaptive_window(i, size, out):
    return (i * size) // out, -((-(i + 1) * size) // out)


@kernel
def avg_pool2d(x, out, KH, KW, sh, sw, ph, pw, count_include_pad, divisor_override):
    """avg_pool2d(x[N,C,H,W], out[N,C,Ho,Wo], KH, KW, sh, sw, ph, pw, count_include_pad (bool), divisor_override (0: none))"""
    H, W = x.shape[2], x.shape[3]
    Ho, Wo = out.shape[2], out.shape[3]
    if ph == 0 and pw == 0 and (Ho - 1) * sh + KH <= H and (Wo - 1) * sw + KW <= W:
        div = divisor_override if divisor_override > 0 else KH * KW
        if KH == 2 and KW == 2 and sh == 2 and sw == 2:
            _avg_pool2d_inside(x, out, 2, 2, 2, 2, div)  # literals: unrolled
        else:
            _avg_pool2d_inside(x, out, KH, KW, sh, sw, div)
    else:
        _avg_pool2d(x, out, KH, KW, sh, sw, ph, pw, count_include_pad, divisor_override)


@kernel
def _avg_pool2d_inside(x, out, KH, KW, sh, sw, div):
    """avg_pool2d when every window lies inside the input (one divisor for all)."""
    N, C = x.shape[0], x.shape[1]
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            plane, dst = x[n, c], out[n, c]
            for i in range(Ho):
                for j in range(Wo):
                    acc = 0.0
                    for ki in range(KH):
                        for kj in range(KW):
                            acc += plane[i * sh + ki, j * sw + kj]
                    dst[i, j] = acc / div


@kernel
def _avg_pool2d(x, out, KH, KW, sh, sw, ph, pw, count_include_pad, divisor_override):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            plane, dst = x[n, c], out[n, c]
            for i in range(Ho):
                h0, h1 = _window(i, sh, ph, KH, H)
                dv_h = _avg_divisor(i, H, KH, sh, ph, count_include_pad)
                for j in range(Wo):
                    w0, w1 = _window(j, sw, pw, KW, W)
                    div = divisor_override if divisor_override > 0 else \
                        dv_h * _avg_divisor(j, W, KW, sw, pw, count_include_pad)
                    acc = 0.0
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            acc += plane[h, w]
                    dst[i, j] = acc / div


@kernel
def avg_pool2d_backward(g, out, KH, KW, sh, sw, ph, pw, count_include_pad, divisor_override):
    """avg_pool2d_backward(g[N,C,Ho,Wo], out[N,C,H,W], KH, KW, sh, sw, ph, pw, count_include_pad, divisor_override): the adjoint of avg_pool2d"""
    N, C, H, W = out.shape
    Ho, Wo = g.shape[2], g.shape[3]
    out[:] = 0
    for n in range(N):
        for c in range(C):
            src, plane = g[n, c], out[n, c]
            for i in range(Ho):
                h0, h1 = _window(i, sh, ph, KH, H)
                dv_h = _avg_divisor(i, H, KH, sh, ph, count_include_pad)
                for j in range(Wo):
                    w0, w1 = _window(j, sw, pw, KW, W)
                    div = divisor_override if divisor_override > 0 else \
                        dv_h * _avg_divisor(j, W, KW, sw, pw, count_include_pad)
                    share = src[i, j] / div
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            plane[h, w] += share


# The global average (output 1x1, ResNet's head) is a float64 running sum per plane, compiled
# with fastmath "reassoc" so that it vectorizes (a strict left-to-right sum cannot; measured
# 0.66 ms vs 0.06 for PyTorch on 64x16x32x32 before); its gradient is one fill per plane
# instead of a zeroing and an add.
@kernel(fastmath={"reassoc"})
def _plane_mean(row):
    """mean(row) of a flat plane, summed in float64."""
    total = 0.0
    for i in range(row.shape[0]):
        total += np.float64(row[i])
    return total / row.shape[0]


@kernel
def adaptive_avg_pool2d(x, out):
    """adaptive_avg_pool2d(x[N,C,H,W], out[N,C,Ho,Wo]): windows [floor(i*H/Ho), ceil((i+1)*H/Ho))"""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    if Ho == 1 and Wo == 1:
        x2 = x.reshape(N * C, H * W)
        o1 = out.reshape(N * C)
        for r in range(N * C):
            o1[r] = _plane_mean(x2[r])
        return
    for n in range(N):
        for c in range(C):
            plane, dst = x[n, c], out[n, c]
            for i in range(Ho):
                h0, h1 = _adaptive_window(i, H, Ho)
                for j in range(Wo):
                    w0, w1 = _adaptive_window(j, W, Wo)
                    acc = 0.0
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            acc += plane[h, w]
                    dst[i, j] = acc / ((h1 - h0) * (w1 - w0))


@kernel
def adaptive_avg_pool2d_backward(g, out):
    """adaptive_avg_pool2d_backward(g[N,C,Ho,Wo], out[N,C,H,W]): the adjoint of adaptive_avg_pool2d"""
    N, C, H, W = out.shape
    Ho, Wo = g.shape[2], g.shape[3]
    if Ho == 1 and Wo == 1:
        o2 = out.reshape(N * C, H * W)
        g1 = g.reshape(N * C)
        for r in range(N * C):
            row = o2[r]
            share = g1[r] / (H * W)
            for i in range(H * W):
                row[i] = share
        return
    out[:] = 0
    for n in range(N):
        for c in range(C):
            src, plane = g[n, c], out[n, c]
            for i in range(Ho):
                h0, h1 = _adaptive_window(i, H, Ho)
                for j in range(Wo):
                    w0, w1 = _adaptive_window(j, W, Wo)
                    share = src[i, j] / ((h1 - h0) * (w1 - w0))
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            plane[h, w] += share


__all__ = ["max_pool2d", "max_pool2d_backward", "max_pool2d_gather", "avg_pool2d",
           "avg_pool2d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"]
