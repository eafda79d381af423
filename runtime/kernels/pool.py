"""2-D pooling kernels (NCHW): max (values + flat argmax indices), average, adaptive average,
and their input gradients.

Calling convention: C-contiguous float32/float64 arrays, preallocated outputs (every element
written), int geometry: kernel (KH, KW), stride (sh, sw), padding (ph, pw), dilation (dh, dw).
Indices are int64 flat positions h * W + w within each input plane, as torch returns them.
"""
from __future__ import annotations

from ._jit import kernel


@kernel
def max_pool2d(x, out, indices, KH, KW, sh, sw, ph, pw, dh, dw):
    """max_pool2d(x[N,C,H,W], out[N,C,Ho,Wo], indices[N,C,Ho,Wo] int64, KH, KW, sh, sw, ph, pw, dh, dw); the first maximum of a window wins, NaN beats numbers"""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            plane = x[n, c]
            for i in range(Ho):
                for j in range(Wo):
                    best = plane[0, 0]
                    where = -1
                    for ki in range(KH):
                        h = i * sh - ph + ki * dh
                        if h < 0 or h >= H:
                            continue
                        for kj in range(KW):
                            w = j * sw - pw + kj * dw
                            if w < 0 or w >= W:
                                continue
                            v = plane[h, w]
                            if where < 0 or v > best or (v != v and best == best):
                                best = v
                                where = h * W + w
                    out[n, c, i, j] = best
                    indices[n, c, i, j] = where


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


@kernel
def adaptive_avg_pool2d(x, out):
    """adaptive_avg_pool2d(x[N,C,H,W], out[N,C,Ho,Wo]): windows [floor(i*H/Ho), ceil((i+1)*H/Ho))"""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
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
