"""Convolution, pooling and dropout kernels (NCHW, contiguous), one thread per output element.

conv2d gathers its window directly (implicit GEMM without tiling); the transposed conv and
the weight gradient are gathers too (no atomics). Pooling backward adds with atomics since
windows may overlap. Geometry: stride (sh, sw), padding (top, bottom, left, right),
dilation (dh, dw).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import cuda, from_dtype, uint64

from . import launch
from ._jit import library_kernel
from .memory import flat


def _launch(kernel, n, *args):
    if n:
        blocks, threads = launch.grid_1d(n)
        kernel[blocks, threads](*args, n)


def _zero(dtype):
    """A typed zero: a bare 0 would make float32 arithmetic float64 on the GPU."""
    return np.dtype(dtype).type(0)


@library_kernel
def _conv2d(x, w, bias, has_bias, out, dims, geo, zero, n):
    N, C, H, W, O, Cg, KH, KW, Ho, Wo = dims
    sh, sw, pt, pl, dh, dw, groups = geo
    per_group = O // groups
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ox = i % Wo
        oy = (i // Wo) % Ho
        o = (i // (Wo * Ho)) % O
        b = i // (Wo * Ho * O)
        acc = bias[o] if has_bias else zero
        for c in range(Cg):
            xc = (b * C + (o // per_group) * Cg + c) * H
            wc = (o * Cg + c) * KH
            for kh in range(KH):
                iy = oy * sh - pt + kh * dh
                if 0 <= iy < H:
                    for kw in range(KW):
                        ix = ox * sw - pl + kw * dw
                        if 0 <= ix < W:
                            acc += x[(xc + iy) * W + ix] * w[(wc + kh) * KW + kw]
        out[i] = acc


@library_kernel
def _conv_transpose2d(x, w, bias, has_bias, out, dims, geo, zero, n):
    N, C, H, W, O, Og, KH, KW, Ho, Wo = dims  # x (N, C, H, W), w (C, Og, KH, KW)
    sh, sw, pt, pl, dh, dw, groups = geo
    Cg = C // groups
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ox = i % Wo
        oy = (i // Wo) % Ho
        o = (i // (Wo * Ho)) % O
        b = i // (Wo * Ho * O)
        g, ol = o // Og, o % Og
        acc = bias[o] if has_bias else zero
        for c in range(Cg):
            ci = g * Cg + c
            for kh in range(KH):
                ty = oy + pt - kh * dh
                if ty >= 0 and ty % sh == 0 and ty // sh < H:
                    for kw in range(KW):
                        tx = ox + pl - kw * dw
                        if tx >= 0 and tx % sw == 0 and tx // sw < W:
                            acc += (x[((b * C + ci) * H + ty // sh) * W + tx // sw]
                                    * w[((ci * Og + ol) * KH + kh) * KW + kw])
        out[i] = acc


@library_kernel
def _conv2d_weight_grad(x, gy, gw, dims, geo, zero, n):
    N, C, H, W, O, Cg, KH, KW, Ho, Wo = dims
    sh, sw, pt, pl, dh, dw, groups = geo
    per_group = O // groups
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        kw = i % KW
        kh = (i // KW) % KH
        c = (i // (KW * KH)) % Cg
        o = i // (KW * KH * Cg)
        ci = (o // per_group) * Cg + c
        acc = zero
        for b in range(N):
            for oy in range(Ho):
                iy = oy * sh - pt + kh * dh
                if 0 <= iy < H:
                    xrow = ((b * C + ci) * H + iy) * W
                    grow = ((b * O + o) * Ho + oy) * Wo
                    for ox in range(Wo):
                        ix = ox * sw - pl + kw * dw
                        if 0 <= ix < W:
                            acc += x[xrow + ix] * gy[grow + ox]
        gw[i] = acc


def _conv_args(x, w, bias, out, dims, geometry):
    has_bias = bias is not None
    return (flat(x), flat(w), flat(bias if has_bias else w), has_bias, flat(out),
            tuple(int(d) for d in dims), tuple(int(g) for g in geometry), _zero(x.dtype))


def conv2d(x, w, bias, out, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    dims = (N, C, H, W, O, Cg, KH, KW) + tuple(out.shape[2:])
    geo = (*stride, padding[0], padding[2], *dilation, groups)
    _launch(_conv2d, out.size, *_conv_args(x, w, bias, out, dims, geo))
    return out


def conv_transpose2d(x, w, bias, out, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    dims = (N, C, H, W, Og * groups, Og, KH, KW) + tuple(out.shape[2:])
    geo = (*stride, padding[0], padding[2], *dilation, groups)
    _launch(_conv_transpose2d, out.size, *_conv_args(x, w, bias, out, dims, geo))
    return out


def conv2d_weight_grad(x, gy, gw, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = gw.shape
    dims = (N, C, H, W, O, Cg, KH, KW) + tuple(gy.shape[2:])
    geo = (*stride, padding[0], padding[2], *dilation, groups)
    _launch(_conv2d_weight_grad, gw.size, flat(x), flat(gy), flat(gw), dims,
            tuple(int(g) for g in geo), _zero(x.dtype))
    return gw


# ---- pooling ---------------------------------------------------------------------------------
@library_kernel
def _max_pool2d(x, values, indices, dims, geo, zero, n):
    H, W, Ho, Wo = dims
    KH, KW, sh, sw, ph, pw, dh, dw = geo
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ox = i % Wo
        oy = (i // Wo) % Ho
        plane = i // (Wo * Ho)
        best = zero
        at = -1
        for kh in range(KH):
            iy = oy * sh - ph + kh * dh
            if 0 <= iy < H:
                for kw in range(KW):
                    ix = ox * sw - pw + kw * dw
                    if 0 <= ix < W:
                        v = x[(plane * H + iy) * W + ix]
                        # the first maximum wins; a NaN wins over numbers (as np.argmax)
                        if at < 0 or v > best or (v != v and best == best):
                            best = v
                            at = iy * W + ix
        values[i] = best
        indices[i] = at


@library_kernel
def _scatter_add_planes(g, indices, out, plane_in, plane_out, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        cuda.atomic.add(out, (i // plane_in) * plane_out + indices[i], g[i])


@library_kernel
def _gather_planes(x, indices, out, plane_in, plane_x, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = x[(i // plane_in) * plane_x + indices[i]]


def max_pool2d(x, values, indices, kernel_size, stride, padding, dilation):
    dims = tuple(x.shape[2:]) + tuple(values.shape[2:])
    geo = (*kernel_size, *stride, *padding, *dilation)
    _launch(_max_pool2d, values.size, flat(x), flat(values), flat(indices), dims, geo,
            _zero(x.dtype))


def max_pool2d_backward(g, indices, out):
    """out (zeroed here) += g at flat plane positions `indices`."""
    from .kernels_copy import fill
    fill(out, 0)
    _launch(_scatter_add_planes, g.size, flat(g), flat(indices), flat(out),
            g.shape[2] * g.shape[3], out.shape[2] * out.shape[3])
    return out


def max_pool2d_gather(x, indices, out):
    _launch(_gather_planes, out.size, flat(x), flat(indices), flat(out),
            indices.shape[2] * indices.shape[3], x.shape[2] * x.shape[3])
    return out


@library_kernel
def _avg_pool2d(x, divisors, out, dims, geo, zero, n):
    H, W, Ho, Wo = dims
    KH, KW, sh, sw, ph, pw = geo
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ox = i % Wo
        oy = (i // Wo) % Ho
        plane = i // (Wo * Ho)
        acc = zero
        for kh in range(KH):
            iy = oy * sh - ph + kh
            if 0 <= iy < H:
                for kw in range(KW):
                    ix = ox * sw - pw + kw
                    if 0 <= ix < W:
                        acc += x[(plane * H + iy) * W + ix]
        out[i] = acc / divisors[oy * Wo + ox]


@library_kernel
def _avg_pool2d_backward(g, divisors, out, dims, geo, n):
    H, W, Ho, Wo = dims
    KH, KW, sh, sw, ph, pw = geo
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ox = i % Wo
        oy = (i // Wo) % Ho
        plane = i // (Wo * Ho)
        share = g[i] / divisors[oy * Wo + ox]
        for kh in range(KH):
            iy = oy * sh - ph + kh
            if 0 <= iy < H:
                for kw in range(KW):
                    ix = ox * sw - pw + kw
                    if 0 <= ix < W:
                        cuda.atomic.add(out, (plane * H + iy) * W + ix, share)


def avg_pool2d(x, divisors, out, kernel_size, stride, padding):
    """divisors: (Ho * Wo,) device array of the count each window divides by."""
    dims = tuple(x.shape[2:]) + tuple(out.shape[2:])
    _launch(_avg_pool2d, out.size, flat(x), flat(divisors), flat(out), dims,
            (*kernel_size, *stride, *padding), _zero(x.dtype))
    return out


def avg_pool2d_backward(g, divisors, out, kernel_size, stride, padding):
    from .kernels_copy import fill
    fill(out, 0)
    dims = tuple(out.shape[2:]) + tuple(g.shape[2:])
    _launch(_avg_pool2d_backward, g.size, flat(g), flat(divisors), flat(out), dims,
            (*kernel_size, *stride, *padding))
    return out


@lru_cache(maxsize=None)
def _adaptive(dtype):
    dt = from_dtype(np.dtype(dtype))

    @cuda.jit
    def kernel(x, out, dims, backward, n):
        # windows [floor(i * H / Ho), ceil((i + 1) * H / Ho)), as torch; backward spreads g
        H, W, Ho, Wo = dims
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            ox = i % Wo
            oy = (i // Wo) % Ho
            plane = i // (Wo * Ho)
            h0, h1 = (oy * H) // Ho, ((oy + 1) * H + Ho - 1) // Ho
            w0, w1 = (ox * W) // Wo, ((ox + 1) * W + Wo - 1) // Wo
            count = dt((h1 - h0) * (w1 - w0))
            if backward:
                share = x[i] / count
                for iy in range(h0, h1):
                    for ix in range(w0, w1):
                        cuda.atomic.add(out, (plane * H + iy) * W + ix, share)
            else:
                acc = dt(0)
                for iy in range(h0, h1):
                    for ix in range(w0, w1):
                        acc += x[(plane * H + iy) * W + ix]
                out[i] = acc / count
    return kernel


def adaptive_avg_pool2d(x, out):
    dims = tuple(x.shape[2:]) + tuple(out.shape[2:])
    _launch(_adaptive(np.dtype(x.dtype)), out.size, flat(x), flat(out), dims, False)
    return out


def adaptive_avg_pool2d_backward(g, out):
    from .kernels_copy import fill
    fill(out, 0)
    dims = tuple(out.shape[2:]) + tuple(g.shape[2:])
    _launch(_adaptive(np.dtype(g.dtype)), g.size, flat(g), flat(out), dims, True)
    return out


# ---- dropout: splitmix64 of (key, element index), the same bits as the CPU --------------------
@library_kernel
def _dropout(x, out, key, consts, threshold, scale, zero, n):
    golden, m1, m2, s30, s27, s31, s40, one = consts
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        z = key + golden * (uint64(i) + one)
        z = (z ^ (z >> s30)) * m1
        z = (z ^ (z >> s27)) * m2
        z = z ^ (z >> s31)
        out[i] = x[i] * scale if (z >> s40) >= threshold else x[i] * zero  # NaN stays NaN


def dropout(x, out, key, threshold, scale):
    """key: dropout_key(seed, stream); keep element i when its 24 top hash bits >= threshold."""
    u = np.uint64
    consts = (u(0x9E3779B97F4A7C15), u(0xBF58476D1CE4E5B9), u(0x94D049BB133111EB), u(30),
              u(27), u(31), u(40), u(1))
    _launch(_dropout, out.size, flat(x), flat(out), u(key), consts, u(threshold),
            np.dtype(x.dtype).type(scale), _zero(x.dtype))
    return out
