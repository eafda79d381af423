"""The conv kernels of conv.py driven from Python, with NumPy's BLAS: for callers outside
Numba. Same calling conventions and results as conv.conv2d, conv.conv_transpose2d and
conv.conv2d_weight_grad.

Two forms: conv2d, conv_transpose2d and conv2d_weight_grad (eager mode) run 3x3 convs of
stride 1 and dilation 1 (the input gradient of such a conv included) on the direct kernels of
conv_direct.py where they measured faster than im2col + GEMM (the weight gradient: always,
1.4-2x; the forward: 2-64 input channels, _direct_forward_pays), and everything else by
im2col + GEMM; the *_im2col forms (compiled programs, runtime/kernels/__init__.py
`location`) always take im2col + GEMM, whose few small @njit pieces keep a cold compile short
(the direct kernels cost ~4 s of Numba compile the first time on a machine).

Why a second driver: the GEMMs of a conv at the classic CNN sizes are short and wide
(16-64 output channels x 144-576 x 1024), and NumPy's OpenBLAS runs them up to 2x faster
than the SciPy OpenBLAS that Numba's np.dot calls (measured 78 vs 40 GFLOP/s on
16x144x1024, one thread). Compiled programs call the @njit kernels from inside Numba and
cannot use this module. The im2col/col2im copies are the same @njit code, run for a chunk of
samples per call; the GEMMs are one np.matmul per chunk and group, into preallocated buffers
(the im2col matrices from buffer_cache.py: reused between calls, their pages stay mapped).

Threads: each GEMM runs on one BLAS thread, and with more than one thread configured
(runtime/threads.py) a large conv splits its samples between that many Python threads (the
@njit copies and np.matmul release the GIL). A GEMM of one sample is ~60 µs of work: handing
half of it to a second BLAS thread costs a thread wake-up per GEMM, and when another process
holds the second core each wait can last a scheduler slice; measured on the shared 2-core
machine, W9 took 10.9 s a step with 2-thread BLAS against 0.6 s on one thread. Splitting by
samples waits for the other thread once per conv.
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from .. import threads
from . import buffer_cache, conv as k, conv_direct as direct

# Samples per chunk: as many as keep the im2col buffer near 1 MB, so that the GEMM reads it
# from cache (one sample at the ResNet stage-1 sizes, 40+ at MNIST's first layer, which saves
# Python calls where each sample is little work).
CHUNK_BYTES = 1 << 20
# conv_transpose2d at stride 1 runs as a conv2d from this many output channels per group on
FLIP_MIN_CHANNELS = 16
# The direct forward kernel runs from DIRECT_MIN_IN to DIRECT_MAX_IN input channels and from
# DIRECT_MIN_OUT output channels a group (_direct_forward_pays); its weight gradient always.
DIRECT_MIN_IN, DIRECT_MAX_IN, DIRECT_MIN_OUT = 2, 64, 4
# A conv with fewer multiply-adds runs on the calling thread alone
SPLIT_MIN_WORK = threads.BLAS_PARALLEL_MIN_WORK

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()
_blas = None  # threadpoolctl's controllers of the BLAS libraries loaded


def _chunk(n, per_sample_bytes):
    return max(1, min(n, CHUNK_BYTES // max(1, per_sample_bytes)))


@contextlib.contextmanager
def _one_blas_thread():
    """Every BLAS library on one thread inside (restored afterwards). Through the libraries'
    own setters: threadpoolctl's `limit` rescans the process and costs ~0.2 ms a call."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    saved = [(lib, n) for lib in _blas for n in [lib.get_num_threads()] if n != 1]
    for lib, _ in saved:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in saved:
            lib.set_num_threads(n)


def _over_samples(n, work, fn):
    """[fn(lo, hi)] over a split of range(n): one part on the calling thread when the conv is
    small or one thread is configured, else one part a thread."""
    parts = min(n, threads.get_num_threads()) if work >= SPLIT_MIN_WORK else 1
    with _one_blas_thread():
        if parts <= 1:
            return [fn(0, n)]
        bounds = [n * i // parts for i in range(parts + 1)]
        pool = _executor(parts)
        futures = [pool.submit(fn, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
        first = fn(bounds[0], bounds[1])
        return [first] + [f.result() for f in futures]


def _executor(parts):
    """The worker threads (parts - 1 of them; the caller runs a part too). A child process
    forked after they started has none of them: it makes its own pool."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool._max_workers < parts - 1 or _pool_pid != os.getpid():
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="graphc-conv")
            _pool_pid = os.getpid()
        return _pool


def _im2col_chunks(x, lo, hi, B, K, P, groups, Cg, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw):
    """(n0, nb, g, cols): the im2col matrices (nb, K, P) of samples n0 ... n0 + nb - 1 and
    group g, for the samples lo ... hi - 1 in chunks of B (one buffer, reused)."""
    cols = buffer_cache.empty((B, K, P), x.dtype)
    xp = np.zeros(k.padded_shape(Cg, KH, KW, Ho, Wo, sh, sw, dh, dw), x.dtype)
    for n0 in range(lo, hi, B):
        nb = min(B, hi - n0)
        for g in range(groups):
            k.im2col_batch(x, n0, g * Cg, xp, KH, KW, Ho, Wo, sh, sw, pt, pl, dh, dw,
                           cols[:nb])
            yield n0, nb, g, cols[:nb]


def _direct(KH, KW, sh, sw, dh, dw):
    """Whether conv_direct.py's kernels take this geometry (3x3, stride 1, dilation 1)."""
    return KH == 3 and KW == 3 and sh == 1 and sw == 1 and dh == 1 and dw == 1


def _direct_forward_pays(Cg, Og):
    """Whether the direct forward kernel beats im2col + GEMM for Cg input and Og output
    channels a group. Measured (batch 64, one thread, direct / im2col time, the kernels
    loaded from Numba's cache): 16 -> 16 channels 0.47, MNIST's 32 -> 64 0.65 and its input
    gradient (64 -> 32, the flipped conv) 0.72; 1 -> 32 1.0-1.16 (a GEMM with 9 rows per
    sample is cheap, the direct kernel makes a pass over the output per input channel) and
    32 -> 1 1.33 (one output channel cannot share its input loads). Not measured above 64
    input channels: im2col there."""
    return DIRECT_MIN_IN <= Cg <= DIRECT_MAX_IN and Og >= DIRECT_MIN_OUT


def conv2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv2d(x[N,C,H,W], w[O,C/groups,KH,KW], b[O] or b[0] (no bias), out[N,O,Ho,Wo], sh, sw, pt, pl, dh, dw, groups)"""
    N = x.shape[0]
    O, Cg, KH, KW = w.shape
    if not (_direct(KH, KW, sh, sw, dh, dw) and _direct_forward_pays(Cg, O // groups)):
        return conv2d_im2col(x, w, b, out, sh, sw, pt, pl, dh, dw, groups)
    _over_samples(N, N * O * Cg * KH * KW * out.shape[2] * out.shape[3],
                  lambda lo, hi: direct.conv2d_3x3(x, w, b, out, pt, pl, groups, lo, hi))


def conv2d_im2col(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv2d_im2col(x[N,C,H,W], w[O,C/groups,KH,KW], b[O] or b[0] (no bias), out[N,O,Ho,Wo], sh, sw, pt, pl, dh, dw, groups): conv2d by im2col + GEMM, whatever the geometry"""
    N = x.shape[0]
    O, Cg, KH, KW = w.shape
    Ho, Wo = out.shape[2], out.shape[3]
    Og, K, P = O // groups, Cg * KH * KW, Ho * Wo
    B = _chunk(N, K * P * x.itemsize)
    w3 = w.reshape(groups, Og, K)
    out3 = out.reshape(N, O, P)

    def samples(lo, hi):
        for n0, nb, g, cols in _im2col_chunks(x, lo, hi, B, K, P, groups, Cg, KH, KW, Ho, Wo,
                                              sh, sw, pt, pl, dh, dw):
            np.matmul(w3[g], cols, out=out3[n0:n0 + nb, g * Og:(g + 1) * Og])
        if b.shape[0]:
            k.add_channel_bias(out3[lo:hi], b)
    _over_samples(N, N * O * K * P, samples)


def conv_transpose2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv_transpose2d(x[N,Cin,H,W], w[Cin,Og,KH,KW], b[Og*groups] or b[0], out[N,Og*groups,Ho,Wo], sh, sw, pt, pl, dh, dw, groups); also conv2d's input gradient (x = dy, w = the conv weight)"""
    _conv_transpose2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups, conv2d)


def conv_transpose2d_im2col(x, w, b, out, sh, sw, pt, pl, dh, dw, groups):
    """conv_transpose2d_im2col(x[N,Cin,H,W], w[Cin,Og,KH,KW], b[Og*groups] or b[0], out[N,Og*groups,Ho,Wo], sh, sw, pt, pl, dh, dw, groups): conv_transpose2d through GEMMs only"""
    _conv_transpose2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups, conv2d_im2col)


def _conv_transpose2d(x, w, b, out, sh, sw, pt, pl, dh, dw, groups, forward):
    """conv_transpose2d, which runs as `forward` (conv2d or conv2d_im2col) where it flips."""
    N, Cin, H, W = x.shape
    _, Og, KH, KW = w.shape
    Cg, K, P = Cin // groups, Og * KH * KW, H * W
    # the flipped conv has Cg input and Og output channels a group
    direct_flip = forward is conv2d and _direct(KH, KW, sh, sw, dh, dw) and \
        _direct_forward_pays(Cg, Og)
    if sh == 1 and sw == 1 and pt <= dh * (KH - 1) and pl <= dw * (KW - 1) and \
            (direct_flip or Og >= FLIP_MIN_CHANNELS and x.size <= out.size):
        # stride 1: the conv2d of x with the flipped weight and padding d*(k-1) - p. Its GEMM
        # (Og x Cg*KH*KW) and im2col write each output element once; col2im adds into each
        # KH*KW times (measured 1.2-1.3x faster at 16 and 64 channels, 32x32 and 16x16). Its
        # im2col copies KH*KW times x, col2im's GEMM writes KH*KW times out: with x larger
        # than out (MNIST's 64->32 channels, 24x24->26x26) it was 1.4x slower. Few output
        # channels make its GEMM thin, slower than col2im's (Og*KH*KW x Cg). Where the
        # flipped conv runs on the direct kernels (which copy x once), it flips regardless.
        wf = w.reshape(groups, Cg, Og, KH, KW).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        forward(x, np.ascontiguousarray(wf).reshape(groups * Og, Cg, KH, KW), b, out, 1, 1,
                dh * (KH - 1) - pt, dw * (KW - 1) - pl, dh, dw, groups)
        return
    B = _chunk(N, K * P * x.itemsize)
    wt = w.reshape(groups, Cg, K).transpose(0, 2, 1)  # per group: (K, Cg), a transposed view
    x3 = x.reshape(N, Cin, P)

    def samples(lo, hi):
        if b.shape[0]:
            out[lo:hi] = b.reshape(1, -1, 1, 1)
        else:
            out[lo:hi] = 0
        cols = buffer_cache.empty((B, K, P), x.dtype)
        for n0 in range(lo, hi, B):
            nb = min(B, hi - n0)
            for g in range(groups):
                np.matmul(wt[g], x3[n0:n0 + nb, g * Cg:(g + 1) * Cg], out=cols[:nb])
                k.col2im_add_batch(cols[:nb], out, n0, g * Og, Og, KH, KW, H, W, sh, sw, pt,
                                   pl, dh, dw)
    _over_samples(N, N * Cin * K * P, samples)


def conv2d_weight_grad(x, gy, gw, sh, sw, pt, pl, dh, dw, groups):
    """conv2d_weight_grad(x[N,C,H,W], gy[N,O,Ho,Wo], gw[O,C/groups,KH,KW], sh, sw, pt, pl, dh, dw, groups)"""
    N = x.shape[0]
    O, Ho, Wo = gy.shape[1], gy.shape[2], gy.shape[3]
    _, Cg, KH, KW = gw.shape
    if not _direct(KH, KW, sh, sw, dh, dw):
        return conv2d_weight_grad_im2col(x, gy, gw, sh, sw, pt, pl, dh, dw, groups)

    def samples(lo, hi):
        acc = np.zeros((O, Cg, 9))  # float64: sums over samples
        direct.conv2d_weight_grad_3x3(x, gy, acc, pt, pl, groups, lo, hi)
        return acc
    parts = _over_samples(N, N * O * Cg * KH * KW * Ho * Wo, samples)
    gw[...] = sum(parts[1:], parts[0]).reshape(gw.shape)
    if not np.isfinite(gw).all():
        # The direct kernel multiplies the zeros of dy's junk columns by inputs that no real
        # output reads: 0 * inf or 0 * NaN there can make a NaN that im2col + GEMM (the
        # reference's meaning) does not. Non-finite sums are rare: recompute them exactly.
        conv2d_weight_grad_im2col(x, gy, gw, sh, sw, pt, pl, dh, dw, groups)


def conv2d_weight_grad_im2col(x, gy, gw, sh, sw, pt, pl, dh, dw, groups):
    """conv2d_weight_grad_im2col(x[N,C,H,W], gy[N,O,Ho,Wo], gw[O,C/groups,KH,KW], sh, sw, pt, pl, dh, dw, groups): the weight gradient by im2col + GEMM"""
    N = x.shape[0]
    O, Ho, Wo = gy.shape[1], gy.shape[2], gy.shape[3]
    _, Cg, KH, KW = gw.shape
    Og, K, P = O // groups, Cg * KH * KW, Ho * Wo
    B = _chunk(N, K * P * x.itemsize)
    gy3 = gy.reshape(N, O, P)

    def samples(lo, hi):
        """this range's sum, (groups, Og, K)"""
        acc = np.zeros((groups, Og, K), x.dtype)
        part = buffer_cache.empty((B, Og, K), x.dtype)
        for n0, nb, g, cols in _im2col_chunks(x, lo, hi, B, K, P, groups, Cg, KH, KW, Ho, Wo,
                                              sh, sw, pt, pl, dh, dw):
            # per sample gy (Og, P) @ cols^T (P, K); the transposed view is BLAS's 'T' flag
            np.matmul(gy3[n0:n0 + nb, g * Og:(g + 1) * Og], cols.transpose(0, 2, 1),
                      out=part[:nb])
            acc[g] += part[0] if nb == 1 else part[:nb].sum(axis=0)
        return acc
    sums = _over_samples(N, N * O * K * P, samples)
    gw3 = gw.reshape(groups, Og, K)
    gw3[...] = sums[0]
    for s in sums[1:]:
        gw3 += s
