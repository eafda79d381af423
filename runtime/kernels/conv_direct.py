"""Direct 3x3 convolution kernels (stride 1, dilation 1, any padding and groups), NCHW, for
the eager drivers of conv_numpy.py: forward (also the input gradient, as the conv of dy with
the flipped weight) and weight gradient.

Why not im2col + GEMM here: the NumPy/SciPy OpenBLAS that graphc can call runs AVX2 kernels
on this machine class, while the loops below, compiled by LLVM for the host CPU, use its
AVX-512 registers; and im2col writes and re-reads 9 copies of the input. Measured (batch 64,
one thread, medians of alternating runs on the shared machine, kernels loaded from Numba's
cache), forward / input gradient: W9's 16 -> 16 channels on 32x32 2.2-2.4 / 2.4 ms against
im2col + GEMM's 5.0 / 4.9 ms and PyTorch's ~2.7; MNIST's 32 -> 64 on 26x26 9.2-9.8 / 11.1 ms
against 14.9 / 15.4 and PyTorch's 9.0 / 9.7. The forward loops run at 160-175 GFLOP/s. With
one input channel im2col is as fast: conv_numpy.py chooses (_direct_forward_pays).

The "wide" layout: each sample's input is copied once into a zero-padded buffer xp whose
planes are flat rows of Hp*Wp (Hp = Ho + 2, Wp = Wo + 2) values. Output position (i, j) then
reads xp[c, (i + ki) * Wp + j + kj] = plane[p + ki*Wp + kj] with p = i*Wp + j: every tap is
the same flat array shifted by a constant, so one loop over p (Ho*Wp positions, of which the
Wp - Wo at each row end are junk, computed and dropped) vectorizes over the whole image
instead of over rows of Wo. The loop length is rounded up to whole vectors (VECTOR) so that no
scalar remainder loop runs; planes carry the zero rows that this reads past their end.

Stack alignment: the forward pass keeps 36 weights, 9 inputs and an accumulator live, more
than the 32 vector registers, so LLVM spills some broadcast weights to the stack and reads
them back in the loop. Numba's functions assume only the ABI's 16-byte stack alignment, so
those 64-byte slots straddle cache lines (two loads each) in 3 of 4 calling contexts: the same
machine code ran 1.9 or 2.4 ms (W9 shape, 64 samples) depending on how deep the Python call
path was. _realign_stack() marks a function "stackrealign": its prologue aligns the stack to
64 bytes and the spills become aligned (1.75-1.9 ms at every depth). The forward passes are
also inlined into their driver (_always_inline: the copy a cached caller ran was 1.3-1.4x
slower).

Each pass of the p loop serves 4 output channels (the forward; their 36 weights are loop
constants, the 9 input taps are loaded once for all 4) or 2 (the weight gradient: 18 running
dot products). Compiled with fastmath "contract" (fused multiply-adds, as BLAS uses) and, for
the weight gradient's dot products, "reassoc" (a sum split over vector lanes).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic

from ._jit import kernel

# Positions computed per loop pass are rounded up to this many (16 float32 in a 512-bit register)
VECTOR = 16


@intrinsic
def _realign_stack(typingctx):
    """Makes the calling function realign its stack frame to 64 bytes (LLVM's "stackrealign"
    attribute, which llvmlite's attribute set does not list: added as a raw string). Where
    llvmlite's internals differ, nothing changes but the speed."""
    def codegen(context, builder, signature, args):
        try:
            set.add(builder.function.attributes, '"stackrealign"')
        except Exception:
            pass
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def _always_inline(typingctx):
    """Marks the calling function "alwaysinline": LLVM copies it into its callers. Why: a
    caller loaded from Numba's on-disk cache runs the callee's copy that was compiled into
    the caller's module, and that copy measured 1.3-1.4x slower than the callee compiled on
    its own (which a caller compiled in the process calls); inlined, the loop is compiled in
    the caller's context either way (W9 16->16 forward, cached: 2.2-2.3 ms against 3.0)."""
    def codegen(context, builder, signature, args):
        builder.function.attributes.add("alwaysinline")
        return context.get_dummy_value()
    return types.none(), codegen


@kernel
def wide_geometry(Ho, Wo):
    """(Wp, L, rows): the padded width, the loop length (whole vectors), the rows a plane of
    xp needs (Ho + 2 and the zero rows the rounded loop reads past the end)."""
    Wp = Wo + 2
    L = -(-((Ho - 1) * Wp + Wo) // VECTOR) * VECTOR
    rows = -(-(L + 2 * Wp + 2) // Wp)
    return Wp, L, rows


@kernel
def _aligned_empty(rows, cols, like):
    """An uninitialized (rows, cols) array of like's dtype starting on a 64-byte boundary.
    Numba's np.empty aligns to 32 bytes or less: half the time each 64-byte load and store
    of the accumulator rows (L is whole vectors, so every row starts where the first does)
    straddled two cache lines (measured 6% of the forward)."""
    raw = np.empty(rows * cols + VECTOR, like.dtype)  # (VECTOR elements: >= 64 bytes)
    skip = (-raw.ctypes.data) % 64 // raw.itemsize
    return raw[skip:skip + rows * cols].reshape(rows, cols)


@kernel
def _pad_sample(x, n, pt, pl, xp):
    """xp[c, pt + r, pl + j] = x[n, c, r, j] (pt, pl >= 0; the rest of xp stays zero)."""
    H, W = x.shape[2], x.shape[3]
    for c in range(xp.shape[0]):
        for r in range(H):
            dst, src = xp[c, r + pt], x[n, c, r]
            for j in range(W):
                dst[j + pl] = src[j]


@kernel(fastmath={"contract"})
def _forward4(xp, w9, acc, o0, Cg, L, Wp):
    """acc[o0 + q, p] = sum over c, taps of w9[o0 + q, c, tap] * xp[c, p + offset(tap)] (xp: the
    group's planes)"""
    _always_inline()
    _realign_stack()
    a0, a1, a2, a3 = acc[o0], acc[o0 + 1], acc[o0 + 2], acc[o0 + 3]
    for p in range(L):
        a0[p] = 0
        a1[p] = 0
        a2[p] = 0
        a3[p] = 0
    for c in range(Cg):
        plane = xp[c]
        r0, r1, r2 = plane[0:L + 2], plane[Wp:Wp + L + 2], plane[2 * Wp:2 * Wp + L + 2]
        u, v, s, t = w9[o0, c], w9[o0 + 1, c], w9[o0 + 2, c], w9[o0 + 3, c]
        u0, u1, u2, u3, u4, u5, u6, u7, u8 = u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8]
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
        s0, s1, s2, s3, s4, s5, s6, s7, s8 = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
        t0, t1, t2, t3, t4, t5, t6, t7, t8 = t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]
        for p in range(L):
            x0, x1, x2 = r0[p], r0[p + 1], r0[p + 2]
            x3, x4, x5 = r1[p], r1[p + 1], r1[p + 2]
            x6, x7, x8 = r2[p], r2[p + 1], r2[p + 2]
            # one chain of fused multiply-adds per channel, from the running sum (the taps of
            # different p overlap in the CPU; partial sums measured 10-20% slower)
            a0[p] = a0[p] + u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4 + u5 * x5 + \
                u6 * x6 + u7 * x7 + u8 * x8
            a1[p] = a1[p] + v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3 + v4 * x4 + v5 * x5 + \
                v6 * x6 + v7 * x7 + v8 * x8
            a2[p] = a2[p] + s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3 + s4 * x4 + s5 * x5 + \
                s6 * x6 + s7 * x7 + s8 * x8
            a3[p] = a3[p] + t0 * x0 + t1 * x1 + t2 * x2 + t3 * x3 + t4 * x4 + t5 * x5 + \
                t6 * x6 + t7 * x7 + t8 * x8


@kernel(fastmath={"contract"})
def _forward1(xp, w9, acc, o, Cg, L, Wp):
    """_forward4 for one output channel (the channels left over in a group)."""
    _always_inline()
    _realign_stack()
    a = acc[o]
    for p in range(L):
        a[p] = 0
    for c in range(Cg):
        plane = xp[c]
        r0, r1, r2 = plane[0:L + 2], plane[Wp:Wp + L + 2], plane[2 * Wp:2 * Wp + L + 2]
        u = w9[o, c]
        u0, u1, u2, u3, u4, u5, u6, u7, u8 = u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8]
        for p in range(L):
            a[p] = a[p] + u0 * r0[p] + u1 * r0[p + 1] + u2 * r0[p + 2] + u3 * r1[p] + \
                u4 * r1[p + 1] + u5 * r1[p + 2] + u6 * r2[p] + u7 * r2[p + 1] + u8 * r2[p + 2]


@kernel
def conv2d_3x3(x, w, b, out, pt, pl, groups, lo, hi):
    """out[n] = conv2d(x[n], w) + b for n in [lo, hi): x[N,C,H,W], w[O,C/groups,3,3], b[O] or
    b[0], out[N,O,Ho,Wo]; stride 1, dilation 1, top/left padding pt, pl"""
    _realign_stack()
    C = x.shape[1]
    O, Cg = w.shape[0], w.shape[1]
    Ho, Wo = out.shape[2], out.shape[3]
    Og = O // groups
    Wp, L, rows = wide_geometry(Ho, Wo)
    xp = np.zeros((C, rows, Wp), x.dtype)
    flat = xp.reshape(C, rows * Wp)
    acc = _aligned_empty(O, L, x)
    w9 = w.reshape(O, Cg, 9)
    zero = np.zeros(1, out.dtype)[0]
    for n in range(lo, hi):
        _pad_sample(x, n, pt, pl, xp)
        for g in range(groups):
            # the group's planes as their own array (no channel offset argument): measured
            # 20-25% faster compiled in the process (W9 16->16: 2.2 vs 2.9 ms, 32->64: 9.1 vs
            # 10.9 ms), ~5% loaded from Numba's cache, which runs this code slower anyway
            planes = flat[g * Cg:(g + 1) * Cg]
            o = g * Og
            while o + 4 <= (g + 1) * Og:
                _forward4(planes, w9, acc, o, Cg, L, Wp)
                o += 4
            while o < (g + 1) * Og:
                _forward1(planes, w9, acc, o, Cg, L, Wp)
                o += 1
        for o in range(O):
            bias = b[o] if b.shape[0] else zero
            a = acc[o]
            for i in range(Ho):
                dst, src = out[n, o, i], a[i * Wp:i * Wp + Wo]
                for j in range(Wo):
                    dst[j] = src[j] + bias


@kernel(fastmath={"contract", "reassoc"})
def _weight_grad2(xp, g, acc, o0, Cg, L, Wp):
    """acc[o0 + q, c, tap] += sum over p of g[o0 + q, p] * xp[c, p + offset(tap)] (xp: the group's
    planes)"""
    _realign_stack()
    gu, gv = g[o0], g[o0 + 1]
    for c in range(Cg):
        plane = xp[c]
        r0, r1, r2 = plane[0:L + 2], plane[Wp:Wp + L + 2], plane[2 * Wp:2 * Wp + L + 2]
        u0 = u1 = u2 = u3 = u4 = u5 = u6 = u7 = u8 = gu[L]  # 0 of g's dtype (g[:, L] is 0)
        v0 = v1 = v2 = v3 = v4 = v5 = v6 = v7 = v8 = gu[L]
        for p in range(L):
            x0, x1, x2 = r0[p], r0[p + 1], r0[p + 2]
            x3, x4, x5 = r1[p], r1[p + 1], r1[p + 2]
            x6, x7, x8 = r2[p], r2[p + 1], r2[p + 2]
            a, b = gu[p], gv[p]
            u0 += a * x0
            u1 += a * x1
            u2 += a * x2
            u3 += a * x3
            u4 += a * x4
            u5 += a * x5
            u6 += a * x6
            u7 += a * x7
            u8 += a * x8
            v0 += b * x0
            v1 += b * x1
            v2 += b * x2
            v3 += b * x3
            v4 += b * x4
            v5 += b * x5
            v6 += b * x6
            v7 += b * x7
            v8 += b * x8
        d, e = acc[o0, c], acc[o0 + 1, c]
        d[0] += u0
        d[1] += u1
        d[2] += u2
        d[3] += u3
        d[4] += u4
        d[5] += u5
        d[6] += u6
        d[7] += u7
        d[8] += u8
        e[0] += v0
        e[1] += v1
        e[2] += v2
        e[3] += v3
        e[4] += v4
        e[5] += v5
        e[6] += v6
        e[7] += v7
        e[8] += v8


@kernel(fastmath={"contract", "reassoc"})
def _weight_grad1(xp, g, acc, o, Cg, L, Wp):
    """_weight_grad2 for one output channel."""
    _realign_stack()
    gu = g[o]
    for c in range(Cg):
        plane = xp[c]
        d = acc[o, c]
        for k in range(9):
            row = plane[(k // 3) * Wp + k % 3:]
            s = gu[L]  # 0 of g's dtype
            for p in range(L):
                s += gu[p] * row[p]
            d[k] += s


@kernel
def conv2d_weight_grad_3x3(x, gy, acc, pt, pl, groups, lo, hi):
    """acc[o, c, k] += the weight gradient of samples [lo, hi): x[N,C,H,W], gy[N,O,Ho,Wo],
    acc[O, C/groups, 9] (float64: sums over many samples); stride 1, dilation 1"""
    _realign_stack()
    C = x.shape[1]
    O, Ho, Wo = gy.shape[1], gy.shape[2], gy.shape[3]
    Og, Cg = O // groups, C // groups
    Wp, L, rows = wide_geometry(Ho, Wo)
    xp = np.zeros((C, rows, Wp), x.dtype)
    flat = xp.reshape(C, rows * Wp)
    # gy in the wide layout; its junk columns (and the index L read for a typed zero) stay 0
    g = np.zeros((O, L + 1), x.dtype)
    part = np.empty((O, Cg, 9), x.dtype)
    for n in range(lo, hi):
        _pad_sample(x, n, pt, pl, xp)
        for o in range(O):
            for i in range(Ho):
                dst, src = g[o, i * Wp:i * Wp + Wo], gy[n, o, i]
                for j in range(Wo):
                    dst[j] = src[j]
        part[:] = 0
        for gr in range(groups):
            planes = flat[gr * Cg:(gr + 1) * Cg]  # (as in conv2d_3x3)
            o = gr * Og
            while o + 2 <= (gr + 1) * Og:
                _weight_grad2(planes, g, part, o, Cg, L, Wp)
                o += 2
            while o < (gr + 1) * Og:
                _weight_grad1(planes, g, part, o, Cg, L, Wp)
                o += 1
        for o in range(O):
            for c in range(Cg):
                for k in range(9):
                    acc[o, c, k] += part[o, c, k]
