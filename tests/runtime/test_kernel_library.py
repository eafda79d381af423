"""Each runtime kernel against the NumPy reference of the op it implements (float32 and float64).

Kernels are module-level Numba dispatchers, cached on disk: each signature compiles once per
process at most, so the tests share compiled code without fixtures of their own.
"""
import importlib
import os
import signal

import numpy as np
import pytest

import runtime.kernels as K
from graphc.ops import nn_reference as ref
from runtime.kernels import conv_numpy

DTYPES = [np.float32, np.float64]


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


def randn(dtype, *shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- registry -----------------------------------------------------------------------------------
def test_every_kernel_documents_its_calling_convention_and_can_be_imported():
    for name in K.KERNELS:
        assert K.signature(name).startswith(name + "(")
        module, attr = K.location(name)
        assert getattr(importlib.import_module(module), attr) is K.get(name)


def test_unknown_kernel_names_the_known_ones():
    with pytest.raises(KeyError, match="conv2d"):
        K.get("no_such_kernel")


def test_library_hash_is_stable_hex_of_the_kernel_sources():
    from graphc.backends.cpu import _library_hash
    h = _library_hash()
    assert h == _library_hash() and len(h) == 32 and int(h, 16) >= 0


# ---- convolution ------------------------------------------------------------------------------------
CONV_CASES = [  # x shape, w shape, stride, padding (t, b, l, r), dilation, groups
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    ((2, 4, 9, 7), (6, 2, 3, 3), (2, 1), (1, 1, 2, 2), (1, 2), 2),
    ((1, 8, 9, 7), (4, 8, 2, 3), (2, 3), (1, 2, 0, 1), (2, 1), 1),
    ((2, 1, 7, 6), (5, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((1, 6, 5, 5), (6, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6),
    ((3, 4, 8, 7), (6, 2, 3, 2), (1, 1), (2, 0, 3, 1), (2, 1), 2),  # padding > d*(k-1)
    # the direct 3x3 kernels (eager): output channels not a multiple of 4 (forward) or 2
    # (weight gradient), odd sizes, asymmetric padding, rows narrower than a vector
    ((2, 5, 7, 9), (7, 5, 3, 3), (1, 1), (2, 0, 1, 2), (1, 1), 1),
    ((3, 6, 3, 4), (9, 2, 3, 3), (1, 1), (1, 1, 0, 1), (1, 1), 3),
    ((1, 3, 20, 19), (4, 3, 3, 3), (1, 1), (0, 2, 1, 1), (1, 1), 1),
]
# the @njit kernels (compiled programs' Numba target), the NumPy-BLAS drivers of eager mode
# (direct kernels for 3x3 stride 1) and of kernel-layout programs (im2col + GEMM only)
# ("numpy_direct": eager's drivers with the direct kernels for every channel count they take)
CONV_KERNELS = {"njit": K.get, "numpy": lambda name: getattr(conv_numpy, name),
                "numpy_direct": lambda name: getattr(conv_numpy, name),
                "numpy_im2col": lambda name: getattr(conv_numpy, name + "_im2col")}


def _direct_everywhere(monkeypatch):
    monkeypatch.setattr(conv_numpy, "DIRECT_MIN_IN", 1)
    monkeypatch.setattr(conv_numpy, "DIRECT_MAX_IN", 1 << 30)
    monkeypatch.setattr(conv_numpy, "DIRECT_MIN_OUT", 1)


def _geometry(case):
    _, _, stride, padding, dilation, groups = case
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _flat(case):
    _, _, (sh, sw), (pt, _, pl, _), (dh, dw), groups = case
    return sh, sw, pt, pl, dh, dw, groups


@pytest.mark.parametrize("kernels", CONV_KERNELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_kernels_match_the_references(case, dtype, kernels, monkeypatch):
    get = CONV_KERNELS[kernels]
    if kernels == "numpy_direct":
        _direct_everywhere(monkeypatch)
    x, w = randn(dtype, *case[0]), randn(dtype, *case[1], seed=1)
    b = randn(dtype, case[1][0], seed=2)
    y = ref.conv2d(x, w, b, **_geometry(case))
    out = np.full(y.shape, np.nan, dtype)
    get("conv2d")(x, w, b, out, *_flat(case))
    np.testing.assert_allclose(out, y, **tol(dtype))
    get("conv2d")(x, w, np.zeros(0, dtype), out, *_flat(case))
    np.testing.assert_allclose(out, y - b.reshape(1, -1, 1, 1), **tol(dtype))

    gy = randn(dtype, *y.shape, seed=3)
    gw = np.full(w.shape, np.nan, dtype)
    get("conv2d_weight_grad")(x, gy, gw, *_flat(case))
    np.testing.assert_allclose(gw, ref.conv2d_weight_grad(x, gy, kernel_size=w.shape[2:],
                                                          **_geometry(case)), **tol(dtype))

    # the input gradient is a transposed convolution sized back to x
    pads = case[3]
    op = tuple(x.shape[2 + a] - ref.transpose_out_size(y.shape[2 + a], pads[2 * a],
                                                       pads[2 * a + 1], w.shape[2 + a],
                                                       case[2][a], case[4][a], 0)
               for a in (0, 1))
    gx = np.full(x.shape, np.nan, dtype)
    get("conv_transpose2d")(gy, w, np.zeros(0, dtype), gx, *_flat(case))
    np.testing.assert_allclose(gx, ref.conv_transpose2d(gy, w, output_padding=op,
                                                        **_geometry(case)), **tol(dtype))
    bt = randn(dtype, w.shape[1] * case[5], seed=4)  # a transposed conv's bias, per its output
    get("conv_transpose2d")(gy, w, bt, gx, *_flat(case))
    np.testing.assert_allclose(gx, ref.conv_transpose2d(gy, w, bt, output_padding=op,
                                                        **_geometry(case)), **tol(dtype))


@pytest.mark.parametrize("kernels", CONV_KERNELS)
def test_conv_transpose2d_kernel_with_bias_and_output_padding(kernels, monkeypatch):
    if kernels == "numpy_direct":
        _direct_everywhere(monkeypatch)
    x, w, b = randn(np.float64, 2, 4, 3, 4), randn(np.float64, 4, 3, 3, 3, seed=1), np.arange(6.0)
    geometry = dict(stride=(2, 2), padding=(1, 1, 0, 0), dilation=(1, 1), groups=2)
    y = ref.conv_transpose2d(x, w, b, output_padding=(1, 0), **geometry)
    out = np.full(y.shape, np.nan)
    CONV_KERNELS[kernels]("conv_transpose2d")(x, w, b, out, 2, 2, 1, 0, 1, 1, 2)
    np.testing.assert_allclose(out, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_numpy_conv_transpose2d_as_a_flipped_conv2d(case, monkeypatch):
    """At stride 1 the NumPy driver runs conv_transpose2d as a conv2d with the flipped weight
    (from FLIP_MIN_CHANNELS output channels on: here all); other strides take col2im."""
    monkeypatch.setattr(conv_numpy, "FLIP_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_numpy, "_direct", lambda *geometry: False)  # the GEMM flip
    x_shape, (o, cg, kh, kw), (sh, sw), pads, dilation, groups = case
    y_shape = ref.conv2d(randn(np.float64, *x_shape), randn(np.float64, o, cg, kh, kw),
                         **_geometry(case)).shape
    # the transposed conv of gy back to x's size; its weight is the conv's (Cin=o, Og=cg)
    gy, w, b = randn(np.float64, *y_shape, seed=3), randn(np.float64, o, cg, kh, kw, seed=1), \
        randn(np.float64, cg * groups, seed=2)
    op = tuple(x_shape[2 + a] - ref.transpose_out_size(y_shape[2 + a], pads[2 * a],
                                                       pads[2 * a + 1], (kh, kw)[a],
                                                       case[2][a], dilation[a], 0)
               for a in (0, 1))
    gx = np.full(x_shape, np.nan)
    conv_numpy.conv_transpose2d(gy, w, b, gx, *_flat(case))
    np.testing.assert_allclose(gx, ref.conv_transpose2d(gy, w, b, output_padding=op,
                                                        **_geometry(case)), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("form", ["", "_im2col"])
@pytest.mark.parametrize("threads", [1, 2])
def test_numpy_conv_drivers_split_the_batch_into_chunks(monkeypatch, threads, form):
    """Two samples a chunk and five samples: two full chunks and a partial one; with two
    threads, samples 0-1 and 2-4 (a full chunk, then a full and a partial one). The direct
    kernels (form "", taken here for every channel count) split the samples between threads
    too."""
    if form == "":
        _direct_everywhere(monkeypatch)
    x, w, b = randn(np.float64, 5, 4, 6, 5), randn(np.float64, 6, 2, 3, 3, seed=1), np.arange(6.0)
    monkeypatch.setattr(conv_numpy, "CHUNK_BYTES", 2 * 2 * 9 * 30 * 8)
    monkeypatch.setattr(conv_numpy, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(conv_numpy.threads, "get_num_threads", lambda: threads)
    assert conv_numpy._chunk(5, 2 * 9 * 30 * 8) == 2
    conv2d, weight_grad, transpose = (getattr(conv_numpy, name + form) for name in
                                      ("conv2d", "conv2d_weight_grad", "conv_transpose2d"))
    geometry = dict(stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), groups=2)
    y = ref.conv2d(x, w, b, **geometry)
    out = np.full(y.shape, np.nan)
    conv2d(x, w, b, out, 1, 1, 1, 1, 1, 1, 2)
    np.testing.assert_allclose(out, y, rtol=1e-12, atol=1e-12)
    gy = randn(np.float64, *y.shape, seed=3)
    gw = np.full(w.shape, np.nan)
    weight_grad(x, gy, gw, 1, 1, 1, 1, 1, 1, 2)
    np.testing.assert_allclose(gw, ref.conv2d_weight_grad(x, gy, kernel_size=(3, 3), **geometry),
                               rtol=1e-12, atol=1e-12)
    gx = np.full(x.shape, np.nan)
    transpose(gy, w, np.zeros(0), gx, 1, 1, 1, 1, 1, 1, 2)
    np.testing.assert_allclose(gx, ref.conv_transpose2d(gy, w, output_padding=(0, 0), **geometry),
                               rtol=1e-12, atol=1e-12)


def test_direct_conv_kernels_keep_nan_and_inf_where_the_reference_has_them():
    """The wide layout's junk columns and zero padding must not leak into real outputs."""
    x, w = randn(np.float32, 2, 3, 5, 6), randn(np.float32, 4, 3, 3, 3, seed=1)
    x[0, 1, 2, 3], x[1, 0, 4, 5] = np.nan, np.inf
    geometry = dict(stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), groups=1)
    y = ref.conv2d(x, w, **geometry)
    out = np.empty(y.shape, np.float32)
    conv_numpy.conv2d(x, w, np.zeros(0, np.float32), out, 1, 1, 1, 1, 1, 1, 1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(y))
    finite = np.isfinite(y)
    np.testing.assert_allclose(out[finite], y[finite], **tol(np.float32))
    # the weight gradient, with a NaN in column 0 and no left padding: taps kj = 1, 2 never
    # read it for a real output, though the wide layout's junk columns do
    x[...] = randn(np.float32, *x.shape)
    x[1, 2, 3, 0] = np.nan
    geometry["padding"] = (1, 1, 0, 2)
    gy = randn(np.float32, *ref.conv2d(x, w, **geometry).shape, seed=3)
    want = ref.conv2d_weight_grad(x, gy, kernel_size=(3, 3), **geometry)
    assert np.isnan(want).any() and not np.isnan(want).all()
    gw = np.empty(w.shape, np.float32)
    conv_numpy.conv2d_weight_grad(x, gy, gw, 1, 1, 1, 0, 1, 1, 1)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(gw[finite], want[finite], **tol(np.float32))


# ---- pooling ----------------------------------------------------------------------------------------
POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False),  # the unrolled path
    ((3, 3), (2, 2), (1, 1), (1, 1), True),  # windows clipped by padding
    ((3, 2), (1, 2), (0, 0), (2, 1), False),  # windows inside the input, generic sizes
    ((2, 3), (3, 2), (1, 1), (2, 1), True),
]


def _pool_input(dtype):
    x = randn(dtype, 2, 3, 7, 6)
    x[0, 0, :2, :2] = 1.5  # a tie
    x[0, 1, 2, 3] = np.nan
    x[1, 0, :3, :3] = -np.inf
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_kernels_match_the_references(case, dtype):
    k, s, p, d, ceil = case
    x = _pool_input(dtype)
    values, indices = ref.max_pool2d(x, kernel_size=k, stride=s, padding=p, dilation=d,
                                     ceil_mode=ceil)
    out, idx = np.empty_like(values), np.empty_like(indices)
    K.get("max_pool2d")(x, out, idx, *k, *s, *p, *d)
    np.testing.assert_array_equal(out, values)
    np.testing.assert_array_equal(idx, indices)
    # the variant chosen before the call (compiled programs, eager mode): the same results
    from runtime.kernels.pool import max_pool2d_variant
    name, geometry = max_pool2d_variant(*x.shape[2:], *values.shape[2:], *k, *s, *p, *d)
    assert name == {0: "max_pool2d_2x2", 2: "max_pool2d_inside"}.get(
        POOL_CASES.index(case), "max_pool2d_clipped")
    out[...], idx[...] = 0, -1
    K.get(name)(x, out, idx, *geometry)
    np.testing.assert_array_equal(out, values)
    np.testing.assert_array_equal(idx, indices)

    g = randn(dtype, *values.shape, seed=4)
    gx = np.full(x.shape, np.nan, dtype)
    K.get("max_pool2d_backward")(g, idx, gx)
    np.testing.assert_allclose(gx, ref.max_pool2d_backward(g, indices, input_hw=x.shape[2:]),
                               **tol(dtype))
    gathered = np.empty_like(g)
    K.get("max_pool2d_gather")(x, idx, gathered)
    np.testing.assert_array_equal(gathered, ref.max_pool2d_gather(x, indices))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("include, divisor", [(True, 0), (False, 0), (True, 5)])
@pytest.mark.parametrize("case", POOL_CASES[:3], ids=str)
def test_avg_pool_kernels_match_the_references(case, include, divisor, dtype):
    k, s, p, _, ceil = case
    x = randn(dtype, 2, 3, 7, 6)
    attrs = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=include,
                 divisor_override=divisor or None)
    y = ref.avg_pool2d(x, **attrs)
    out = np.full(y.shape, np.nan, dtype)
    K.get("avg_pool2d")(x, out, *k, *s, *p, include, divisor)
    np.testing.assert_allclose(out, y, **tol(dtype))
    g = randn(dtype, *y.shape, seed=5)
    gx = np.full(x.shape, np.nan, dtype)
    K.get("avg_pool2d_backward")(g, gx, *k, *s, *p, include, divisor)
    np.testing.assert_allclose(gx, ref.avg_pool2d_backward(g, input_hw=x.shape[2:], **attrs),
                               **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, hw", [((3, 2), (7, 6)), ((7, 6), (7, 6)), ((1, 1), (7, 6)),
                                      ((4, 5), (7, 6)), ((1, 1), (2, 3))], ids=str)
def test_adaptive_avg_pool_kernels_match_the_references(size, hw, dtype):
    """(1, 1): the global average, summed over lanes (a 2x3 plane: fewer values than lanes)"""
    x = randn(dtype, 2, 3, *hw)
    y = ref.adaptive_avg_pool2d(x, output_size=size)
    out = np.full(y.shape, np.nan, dtype)
    K.get("adaptive_avg_pool2d")(x, out)
    np.testing.assert_allclose(out, y, **tol(dtype))
    g = randn(dtype, *y.shape, seed=6)
    gx = np.full(x.shape, np.nan, dtype)
    K.get("adaptive_avg_pool2d_backward")(g, gx)
    np.testing.assert_allclose(gx, ref.adaptive_avg_pool2d_backward(g, input_hw=x.shape[2:]),
                               **tol(dtype))


# ---- dropout ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed, stream, p", [(0, 0, 0.5), (123456789, 3, 0.1), (2 ** 62, 17, 0.9),
                                             (7, 0, 0.0), (7, 0, 1.0), (-5, 2, 0.3)])
def test_dropout_kernel_draws_the_reference_mask(seed, stream, p):
    n = 1009
    mask = np.empty(n, np.bool_)
    threshold = ref.dropout_threshold(p)
    K.get("dropout_mask")(mask, seed, stream, threshold)
    np.testing.assert_array_equal(mask, ref.dropout_keep(seed & (2 ** 64 - 1), stream, n, p))
    for dtype in DTYPES:
        x = randn(dtype, n)
        out = np.empty_like(x)
        K.get("dropout")(x, out, seed, stream, threshold, ref.dropout_scale(p))
        np.testing.assert_array_equal(out, ref.dropout(x, np.int64(seed), p=p, stream=stream))


# ---- matmul ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(5, 3, 4), (40, 2, 3), (17, 33, 20), (8, 64, 1)])
def test_matmul_kernels(m, k, n, dtype):
    a, b = randn(dtype, m, k), randn(dtype, k, n, seed=1)
    out = np.full((m, n), np.nan, dtype)
    K.get("matmul")(a, b, out)
    np.testing.assert_allclose(out, a @ b, **tol(dtype))
    K.get("matmul_loops")(a, b, out)
    np.testing.assert_allclose(out, a @ b, **tol(dtype))


def test_matmul_loops_take_integers():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    b = np.arange(8, dtype=np.int64).reshape(4, 2)
    out = np.empty((3, 2), np.int64)
    K.get("matmul_loops")(a, b, out)
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ba, bb", [(3, 3), (1, 3), (3, 1)])
def test_batched_matmul_broadcasts_a_batch_of_one(ba, bb, dtype):
    a, b = randn(dtype, ba, 4, 12), randn(dtype, bb, 12, 10, seed=1)
    out = np.full((3, 4, 10), np.nan, dtype)
    K.get("batched_matmul")(a, b, out)
    np.testing.assert_allclose(out, np.matmul(a, b), **tol(dtype))


# ---- reductions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5, 4), (6, 7, 1), (1, 9, 5)])
def test_axis_reductions(shape, dtype):
    x = randn(dtype, *shape)
    x[0, 2, 0] = x[0, 4, 0] = 9.0  # ties: the first wins
    out = np.empty((shape[0], shape[2]), dtype)
    K.get("sum_axis")(x, out)
    np.testing.assert_allclose(out, x.sum(axis=1), **tol(dtype))
    idx = np.empty(out.shape, np.int64)
    for name, np_fn, np_arg in (("max_axis", np.max, np.argmax), ("min_axis", np.min, np.argmin)):
        K.get(name)(x, out, idx)
        np.testing.assert_array_equal(out, np_fn(x, axis=1))
        np.testing.assert_array_equal(idx, np_arg(x, axis=1))


def test_max_axis_propagates_nan_like_numpy():
    x = np.array([[[1.0], [np.nan], [3.0]], [[np.nan], [5.0], [np.nan]]])
    out, idx = np.empty((2, 1)), np.empty((2, 1), np.int64)
    K.get("max_axis")(x, out, idx)
    np.testing.assert_array_equal(out, np.max(x, axis=1))
    np.testing.assert_array_equal(idx, np.argmax(x, axis=1))


# ---- copies ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 7), (70, 33), (1, 40)])
def test_transpose2d(shape):
    x = randn(np.float32, *shape)
    out = np.empty(shape[::-1], np.float32)
    K.get("transpose2d")(x, out)
    np.testing.assert_array_equal(out, x.T)


def _strided_copy(view, base):
    """Run strided_copy for a NumPy view of `base` (C-contiguous) and return the result."""
    item = base.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item
    out = np.empty(view.size, base.dtype)
    K.get("strided_copy")(base.reshape(-1), offset, np.array(view.shape, np.int64),
                          np.array([s // item for s in view.strides], np.int64), out)
    return out.reshape(view.shape)


@pytest.mark.parametrize("make", [
    lambda a: a.transpose(2, 0, 1),
    lambda a: a[1:, ::2, 3:0:-1],
    lambda a: np.broadcast_to(a[:, :1, :], (3, 4, 5)),
    lambda a: a[2, 1, 4, ...],
    lambda a: a[:, :0, :],
], ids=["permute", "slice", "broadcast", "scalar", "empty"])
def test_strided_copy_materializes_views(make):
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    view = make(base)
    assert np.shares_memory(view, base) or view.size == 0
    np.testing.assert_array_equal(_strided_copy(view, base), view)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_numpy_conv_drivers_work_in_a_child_forked_after_their_threads_started(monkeypatch):
    """The parent's worker threads do not exist in a forked child: it must not queue work for
    them (that hung) but start its own."""
    monkeypatch.setattr(conv_numpy, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(conv_numpy.threads, "get_num_threads", lambda: 2)
    x, w = randn(np.float64, 4, 2, 5, 5), randn(np.float64, 3, 2, 3, 3, seed=1)
    out = np.empty((4, 3, 3, 3))
    conv_numpy.conv2d(x, w, np.zeros(0), out, 1, 1, 0, 0, 1, 1, 1)  # starts the pool
    pid = os.fork()
    if pid == 0:  # the child: killed by the alarm if it hangs
        signal.alarm(30)
        again = np.empty_like(out)
        conv_numpy.conv2d(x, w, np.zeros(0), again, 1, 1, 0, 0, 1, 1, 1)
        os._exit(0 if np.array_equal(again, out) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
