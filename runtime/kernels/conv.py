"""2-D convolution kernels (NCHW): forward, transposed (= the input gradient) and weight gradient.

Calling convention (all kernels here): C-contiguous float32 or float64 arrays of one dtype,
preallocated outputs, int geometry: strides (sh, sw), the top/left padding (pt, pl; the bottom
and right padding are implied by the output size), dilations (dh, dw), groups. A kernel writes
every element of its output.

Each is im2col (or its adjoint col2im) + one BLAS GEMM per sample and group. Measured on the
MNIST CNN shapes (benchmarks/conv_kernels.py), this beat direct loops even for the first layer
(1 input channel, 3x3): 0.5 ms vs 12 ms for the forward pass of a batch of 64. For the second
layer (32->64) the GEMMs are ~75% of the time; a "wide" im2col variant (one copy per row, junk
columns computed and dropped) and batching samples into larger GEMMs were tried and not faster
(re-measured for W9's 16 channels at 32x32: 1-16 samples a GEMM, no gain). im2col reads a
zero-padded copy of each sample's image, so that its rows are plain copies without bounds
tests (1.7x faster than testing bounds per segment at 16 channels, 32x32).

These @njit kernels serve compiled programs. Eager mode runs the same im2col/col2im through
the drivers of conv_numpy.py, whose GEMMs use NumPy's BLAS (faster at these shapes than the
SciPy BLAS that Numba's np.dot calls) on one BLAS thread, splitting samples across threads.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def _valid_range(count, stride, offset, size):
    """[lo, hi): the j in [0, count) with 0 <= j * stride + offset < size."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = count
    if (count - 1) * stride + offset >= size:
        hi = (size - offset + stride - 1) // stride
        if hi < 0:
            hi = 0
    if lo > hi:
        lo = hi
    return lo, hi


# Explicit loops over 0-based views: Numba's array expressions (a[i] += b[i]) on rows cost
# ~1.5 ns per element here, the plain loops vectorize (measured: conv1 bias 2 ms -> 0.2 ms).
@kernel
def _add_rows(rows, values):
    """rows[r, :] += values[r]"""
    for r in range(rows.shape[0]):
        row, v = rows[r], values[r]
        for j in range(row.shape[0]):
            row[j] += v


@kernel
def _fill_rows(rows, values):
    """rows[r, :] = values[r]"""
    for r in range(rows.shape[0]):
        row, v = rows[r], values[r]
        for j in range(row.shape[0]):
            row[j] = v


@kernel
def _add_to(dst, src):
    """dst += src (2-D, same shape)"""
    for r in range(dst.shape[0]):
        d, s = dst[r], src[r]
        for j in range(d.shape[0]):
            d[j] += s[j]


@kernel
def padded_shape(Cg, KH, KW, Ho, Wo, sh, sw, dh, dw):
    """The zero-padded image buffer _im2col reads: every row and column a window touches."""
    return Cg, (Ho - 1) * sh + (KH - 1) * dh + 1, (Wo - 1) * sw + (KW - 1) * dw + 1


@kernel
def _pad_into(x, n, c0, pt, pl, xp):
    """xp[c, pt + r, pl + j] = x[n, c0 + c, r, j] where it fits; the rest of xp is left as is
    (zero: the caller zeroes xp once, and every call writes the same interior)."""
    H, W = x.shape[2], x.shape[3]
    rows, width = min(H, xp.shape[1] - pt), min(W, xp.shape[2] - pl)
    for c in range(xp.shape[0]):
        for r in range(rows):
            dst = xp[c, r + pt, pl:pl + width]
            src = x[n, c0 + c, r, :width]
            for j in range(width):
                dst[j] = src[j]


@kernel
def _im2col(x, n, c0, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw, cols):
    """cols[(c * KH + ki) * KW + kj, i * Wo + j] = x[n, c0 + c, i*sh - pt + ki*dh, j*sw - pl + kj*dw]
    (0 in the padding), through the padded copy xp (padded_shape, zeroed by the caller): each
    row of cols is then Ho plain copies, without bounds tests (measured 1.7x faster than
    testing bounds per segment at 16 channels, 32x32)."""
    _pad_into(x, n, c0, pt, pl, xp)
    if sw == 1 and dw == 1:  # literal 1s: the copies vectorize
        _im2col_padded(xp, KH, KW, Ho, Wo, sh, 1, dh, 1, cols)
    else:
        _im2col_padded(xp, KH, KW, Ho, Wo, sh, sw, dh, dw, cols)


@kernel
def _im2col_padded(xp, KH, KW, Ho, Wo, sh, sw, dh, dw, cols):
    for c in range(xp.shape[0]):
        for ki in range(KH):
            for kj in range(KW):
                row = cols[(c * KH + ki) * KW + kj]
                for i in range(Ho):
                    src = xp[c, i * sh + ki * dh, kj * dw:]
                    dst = row[i * Wo:(i + 1) * Wo]
                    for j in range(Wo):
                        dst[j] = src[j * sw]


@kernel
def _col2im_add(cols, out, n, c0, Cg, KH, KW, H, W, sh, sw, pt, pl, dh, dw):
    if sh == 1 and sw == 1 and dh == 1 and dw == 1:
        _col2im_add_strided(cols, out, n, c0, Cg, KH, KW, H, W, 1, 1, pt, pl, 1, 1)
    else:
        _col2im_add_strided(cols, out, n, c0, Cg, KH, KW, H, W, sh, sw, pt, pl, dh, dw)


@kernel
def _col2im_add_strided(cols, out, n, c0, Cg, KH, KW, H, W, sh, sw, pt, pl, dh, dw):
    """The adjoint of _im2col: out[n, c0 + c, i*sh - pt + ki*dh, ...] += cols[..., i * W + j]."""
    Ho, Wo = out.shape[2], out.shape[3]
    for c in range(Cg):
        for ki in range(KH):
            i0, i1 = _valid_range(H, sh, ki * dh - pt, Ho)
            for kj in range(KW):
                j0, j1 = _valid_range(W, sw, kj * dw - pl, Wo)
                row = cols[(c * KH + ki) * KW + kj]
                off = kj * dw - pl
                for i in range(i0, i1):
                    dst = out[n, c0 + c, i * sh - pt + ki * dh]
                    base = i * W
                    if sw == 1:
                        d = dst[j0 + off:j1 + off]
                        r = row[base + j0:base + j1]
                        for j in range(j1 - j0):
                            d[j] += r[j]
                    else:
                        for j in range(j0, j1):
                            dst[j * sw + off] += row[base + j]


@kernel
def conv2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv2d(x[N,C,H,W], w[O,C/groups,KH,KW], b[O] or b[0] (no bias), out[N,O,Ho,Wo], sh, sw, pt, pl, dh, dw, groups)"""
    N = x.shape[0]
    O, Cg, KH, KW = w.shape
    Ho, Wo = out.shape[2], out.shape[3]
    Og = O // groups
    K = Cg * KH * KW
    cols = np.empty((K, Ho * Wo), x.dtype)
    xp = np.zeros(padded_shape(Cg, KH, KW, Ho, Wo, sh, sw, dh, dw), x.dtype)
    w2 = w.reshape(O, K)
    for n in range(N):
        o2 = out[n].reshape(O, Ho * Wo)
        for g in range(groups):
            _im2col(x, n, g * Cg, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw, cols)
            if groups == 1:
                np.dot(w2, cols, o2)
            else:
                o2[g * Og:(g + 1) * Og] = np.dot(np.ascontiguousarray(w2[g * Og:(g + 1) * Og]),
                                                 cols)
        if b.shape[0]:
            _add_rows(o2, b)


@kernel
def conv_transpose2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv_transpose2d(x[N,Cin,H,W], w[Cin,Og,KH,KW], b[Og*groups] or b[0], out[N,Og*groups,Ho,Wo], sh, sw, pt, pl, dh, dw, groups); also conv2d's input gradient (x = dy, w = the conv weight)"""
    N, Cin, H, W = x.shape
    _, Og, KH, KW = w.shape
    Ho, Wo = out.shape[2], out.shape[3]
    Cg = Cin // groups
    K = Og * KH * KW
    out2 = out.reshape(N, Og * groups, Ho * Wo)
    for n in range(N):
        if b.shape[0]:
            _fill_rows(out2[n], b)
        else:
            _fill_rows(out2[n], np.zeros(Og * groups, out.dtype))
    cols = np.empty((K, H * W), x.dtype)
    w2 = w.reshape(Cin, K)
    for n in range(N):
        x2 = x[n].reshape(Cin, H * W)
        for g in range(groups):
            wg = np.ascontiguousarray(w2[g * Cg:(g + 1) * Cg]) if groups > 1 else w2
            xg = np.ascontiguousarray(x2[g * Cg:(g + 1) * Cg]) if groups > 1 else x2
            np.dot(wg.T, xg, cols)
            _col2im_add(cols, out, n, g * Og, Og, KH, KW, H, W, sh, sw, pt, pl, dh, dw)


@kernel
def conv2d_weight_grad(x, gy, gw, sh, sw, pt, pl, dh, dw, groups):
    """conv2d_weight_grad(x[N,C,H,W], gy[N,O,Ho,Wo], gw[O,C/groups,KH,KW], sh, sw, pt, pl, dh, dw, groups)"""
    N = x.shape[0]
    O, Ho, Wo = gy.shape[1], gy.shape[2], gy.shape[3]
    _, Cg, KH, KW = gw.shape
    Og = O // groups
    K = Cg * KH * KW
    # Accumulate the transpose, gw^T = sum cols @ gy^T: that GEMM shape is ~10% faster here.
    acc = np.zeros((groups, K, Og), x.dtype)
    cols = np.empty((K, Ho * Wo), x.dtype)
    xp = np.zeros(padded_shape(Cg, KH, KW, Ho, Wo, sh, sw, dh, dw), x.dtype)
    part = np.empty((K, Og), x.dtype)
    for n in range(N):
        gy2 = gy[n].reshape(O, Ho * Wo)
        for g in range(groups):
            _im2col(x, n, g * Cg, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw, cols)
            gyg = np.ascontiguousarray(gy2[g * Og:(g + 1) * Og]) if groups > 1 else gy2
            np.dot(cols, gyg.T, part)
            _add_to(acc[g], part)
    gw2 = gw.reshape(O, K)
    for g in range(groups):
        for o in range(Og):
            row, src = gw2[g * Og + o], acc[g]
            for k in range(K):
                row[k] = src[k, o]


# ---- pieces for drivers outside Numba (runtime/kernels/conv_numpy.py) ---------------------------
@kernel
def im2col_batch(x, n0, c0, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw, cols):
    """cols[b] = the im2col matrix of sample n0 + b, channels c0 ... (cols: [B, K, Ho*Wo])"""
    for b in range(cols.shape[0]):
        _im2col(x, n0 + b, c0, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw, cols[b])


@kernel
def col2im_add_batch(cols, out, n0, c0, Og, KH, KW, H, W, sh, sw, pt, pl, dh, dw):
    """out[n0 + b, c0 ...] += col2im(cols[b]) (cols: [B, Og*KH*KW, H*W])"""
    for b in range(cols.shape[0]):
        _col2im_add(cols[b], out, n0 + b, c0, Og, KH, KW, H, W, sh, sw, pt, pl, dh, dw)


@kernel
def add_channel_bias(out, b):
    """out[n, c, :] += b[c] (out: [N, C, P])"""
    for n in range(out.shape[0]):
        _add_rows(out[n], b)
