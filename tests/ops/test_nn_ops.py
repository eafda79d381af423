"""The nn ops (conv, pooling, dropout): forward vs naive loops, gradients vs finite differences
in both modes, error messages. Shapes are tiny; finite differences run in float64."""
import numpy as np
import pytest

import graphc as gc
from graphc.ops import nn as N
from graphc.ops import nn_reference as R
from graphc.types import TensorType
from helpers import numeric_grad

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


# ---- naive loop oracles (independent of nn_reference) -------------------------------------------
def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    N_, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    Ho = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N_, O, Ho, Wo))
    per_group = O // groups
    for n in range(N_):
        for o in range(O):
            g = o // per_group
            for i in range(Ho):
                for j in range(Wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for ki in range(KH):
                            for kj in range(KW):
                                h, ww = i * sh - pt + ki * dh, j * sw - pl + kj * dw
                                if 0 <= h < H and 0 <= ww < W:
                                    acc += x[n, g * Cg + c, h, ww] * w[o, c, ki, kj]
                    out[n, o, i, j] = acc
    return out


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    N_, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    Ho = (H - 1) * sh - pt - pb + dh * (KH - 1) + output_padding[0] + 1
    Wo = (W - 1) * sw - pl - pr + dw * (KW - 1) + output_padding[1] + 1
    out = np.zeros((N_, Og * groups, Ho, Wo))
    Cg = C // groups
    for n in range(N_):
        for c in range(C):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    for o in range(Og):
                        for ki in range(KH):
                            for kj in range(KW):
                                h, ww = i * sh - pt + ki * dh, j * sw - pl + kj * dw
                                if 0 <= h < Ho and 0 <= ww < Wo:
                                    out[n, g * Og + o, h, ww] += x[n, c, i, j] * w[c, o, ki, kj]
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _windows(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def naive_max_pool2d(x, k, s, p, d, ceil_mode):
    N_, C, H, W = x.shape
    Ho, Wo = (_windows(H, k[0], s[0], p[0], d[0], ceil_mode),
              _windows(W, k[1], s[1], p[1], d[1], ceil_mode))
    vals, idx = np.zeros((N_, C, Ho, Wo)), np.zeros((N_, C, Ho, Wo), np.int64)
    for n, c, i, j in np.ndindex(N_, C, Ho, Wo):
        best, where = -np.inf, None
        for ki in range(k[0]):
            for kj in range(k[1]):
                h, w = i * s[0] - p[0] + ki * d[0], j * s[1] - p[1] + kj * d[1]
                if 0 <= h < H and 0 <= w < W and (where is None or x[n, c, h, w] > best):
                    best, where = x[n, c, h, w], h * W + w
        vals[n, c, i, j], idx[n, c, i, j] = best, where
    return vals, idx


def naive_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad):
    N_, C, H, W = x.shape
    Ho, Wo = _windows(H, k[0], s[0], p[0], 1, ceil_mode), _windows(W, k[1], s[1], p[1], 1, ceil_mode)
    out = np.zeros((N_, C, Ho, Wo))
    for n, c, i, j in np.ndindex(N_, C, Ho, Wo):
        h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
        total, inside, padded = 0.0, 0, 0
        for h in range(h0, h0 + k[0]):
            for w in range(w0, w0 + k[1]):
                if h < H + p[0] and w < W + p[1]:
                    padded += 1  # torch counts padding, but not beyond it (ceil_mode windows)
                if 0 <= h < H and 0 <= w < W:
                    total += x[n, c, h, w]
                    inside += 1
        out[n, c, i, j] = total / (padded if count_include_pad else inside)
    return out


def naive_adaptive_avg_pool2d(x, size):
    N_, C, H, W = x.shape
    out = np.zeros((N_, C) + size)
    for i, j in np.ndindex(*size):
        h0, h1 = int(np.floor(i * H / size[0])), int(np.ceil((i + 1) * H / size[0]))
        w0, w1 = int(np.floor(j * W / size[1])), int(np.ceil((j + 1) * W / size[1]))
        out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


# ---- forward ------------------------------------------------------------------------------------
CONV_CASES = [  # (x shape, w shape, bias, kwargs)
    ((2, 3, 6, 5), (4, 3, 3, 3), True, {}),
    ((1, 4, 7, 7), (6, 2, 3, 2), False, dict(stride=2, padding=1, groups=2)),
    ((2, 2, 7, 8), (3, 2, 3, 3), True, dict(stride=(2, 1), padding=(2, 0), dilation=(2, 1))),
    ((1, 2, 5, 6), (2, 2, 2, 4), True, dict(padding="same")),
    ((1, 2, 5, 6), (2, 2, 3, 3), False, dict(padding="same", dilation=2)),
    ((1, 3, 5, 5), (3, 1, 3, 3), True, dict(padding="valid", groups=3)),
]


def _conv_args(case):
    xs, ws, bias, kw = case
    return randn(*xs), randn(*ws), (randn(ws[0]) if bias else None), kw


def _normalized(x, w, kw):
    attrs = N.conv2d_op.normalize([TensorType(x.shape, gc.float64),
                                   TensorType(w.shape, gc.float64)],
                                  {**N.conv2d_op.defaults, **kw})
    return attrs


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_naive_loops(case):
    x, w, b, kw = _conv_args(case)
    a = _normalized(x, w, kw)
    expected = naive_conv2d(x, w, b, a["stride"], a["padding"], a["dilation"], a["groups"])
    got = N.conv2d(gc.tensor(x), gc.tensor(w), None if b is None else gc.tensor(b), **kw)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(R.conv2d(x, w, b, **a), expected, rtol=1e-10, atol=1e-10)


def test_conv2d_same_padding_puts_the_extra_row_at_the_end():
    a = _normalized(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 2, 4)), {"padding": "same"})
    assert a["padding"] == (0, 1, 1, 2)


TRANSPOSE_CASES = [  # (x shape, w shape, bias, kwargs)
    ((2, 3, 4, 3), (3, 2, 3, 3), True, {}),
    ((1, 4, 3, 4), (4, 1, 3, 2), False, dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 3, 3), (2, 3, 2, 3), True, dict(stride=(1, 3), padding=(0, 1), dilation=(2, 1))),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose2d_matches_naive_loops(case):
    xs, ws, bias, kw = case
    x, w, b = randn(*xs), randn(*ws), (randn(ws[1] * kw.get("groups", 1)) if bias else None)
    t = lambda v: None if v is None else gc.tensor(v)  # noqa: E731
    got = N.conv_transpose2d(t(x), t(w), t(b), **kw).numpy()
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    p = pair(kw.get("padding", 0))
    expected = naive_conv_transpose2d(x, w, b, pair(kw.get("stride", 1)), (p[0], p[0], p[1], p[1]),
                                      pair(kw.get("output_padding", 0)), pair(kw.get("dilation", 1)),
                                      kw.get("groups", 1))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((3, 2), (2, 1), (1, 0), (1, 1), True),
    ((2, 3), (3, 2), (1, 1), (2, 1), True),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool2d_values_and_indices_match_naive_loops(case):
    k, s, p, d, ceil = case
    x = randn(2, 3, 7, 6)
    x[0, 0, :2, :2] = 1.5  # a tie: the first maximum wins
    vals, idx = N.max_pool2d(gc.tensor(x), k, s, p, d, ceil, return_indices=True)
    ev, ei = naive_max_pool2d(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(vals.numpy(), ev)
    np.testing.assert_array_equal(idx.numpy(), ei)


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("case", POOL_CASES[:3], ids=str)
def test_avg_pool2d_matches_naive_loops(case, include):
    k, s, p, _, ceil = case
    x = randn(2, 2, 7, 6)
    got = N.avg_pool2d(gc.tensor(x), k, s, p, ceil, count_include_pad=include).numpy()
    np.testing.assert_allclose(got, naive_avg_pool2d(x, k, s, p, ceil, include), rtol=1e-12)


def test_avg_pool2d_divisor_override():
    x = randn(1, 1, 4, 4)
    got = N.avg_pool2d(gc.tensor(x), 2, divisor_override=3).numpy()
    np.testing.assert_allclose(got, naive_avg_pool2d(x, (2, 2), (2, 2), (0, 0), False, True) * 4 / 3)


@pytest.mark.parametrize("size", [(3, 2), (1, 1), (7, 5), (4, None)], ids=str)
def test_adaptive_avg_pool2d_matches_naive_loops(size):
    x = randn(2, 3, 7, 5)
    got = N.adaptive_avg_pool2d(gc.tensor(x), size).numpy()
    full = (size[0], 5 if size[1] is None else size[1])
    np.testing.assert_allclose(got, naive_adaptive_avg_pool2d(x, full), rtol=1e-12)


def test_unbatched_inputs_work_like_torch():
    x, w = randn(3, 6, 6), randn(4, 3, 3, 3)
    got = N.conv2d(gc.tensor(x), gc.tensor(w)).numpy()
    np.testing.assert_allclose(got, R.conv2d(x[None], w, stride=(1, 1), padding=(0, 0, 0, 0),
                                             dilation=(1, 1), groups=1)[0])
    assert N.max_pool2d(gc.tensor(x), 2).shape == (3, 3, 3)


# ---- dropout ----------------------------------------------------------------------------------------
def test_dropout_mask_is_a_deterministic_function_of_seed_and_stream():
    x = np.ones((50, 40))
    a = R.dropout(x, np.int64(123), p=0.3, stream=0)
    np.testing.assert_array_equal(a, R.dropout(x, np.int64(123), p=0.3, stream=0))
    assert not np.array_equal(a, R.dropout(x, np.int64(124), p=0.3, stream=0))
    assert not np.array_equal(a, R.dropout(x, np.int64(123), p=0.3, stream=1))
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.05
    np.testing.assert_allclose(a[kept], 1 / 0.7)


def test_dropout_extremes_and_eval_mode():
    x = gc.tensor(randn(4, 5))
    assert np.all(N.dropout(x, 1.0).numpy() == 0)
    assert N.dropout(x, 0.5, training=False) is x
    assert N.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        N.dropout(x, 1.5)


def test_eager_dropout_is_reproducible_from_manual_seed():
    x = gc.tensor(np.ones((8, 8)))
    gc.manual_seed(5)
    a = N.dropout(x, 0.5).numpy()
    b = N.dropout(x, 0.5).numpy()
    gc.manual_seed(5)
    np.testing.assert_array_equal(a, N.dropout(x, 0.5).numpy())
    assert not np.array_equal(a, b)


def test_static_dropout_reads_the_seed_variable_and_updates_refresh_the_mask():
    p = gc.placeholder((6, 6), gc.float64, name="x")
    y = N.dropout(p, 0.5)
    step = gc.compile(y, inputs=[p], updates=N.dropout_seed_updates(), target="reference")
    x = np.ones((6, 6))
    seed = int(N.dropout_seed().item())
    first = step(x).numpy()
    np.testing.assert_array_equal(first, R.dropout(x, np.int64(seed), p=0.5, stream=0))
    assert int(N.dropout_seed().item()) == seed + 1
    assert not np.array_equal(first, step(x).numpy())


def test_dropout_gradient_uses_the_same_mask():
    x = gc.tensor(randn(5, 7), requires_grad=True)
    y = N.dropout(x, 0.4)
    y.sum().backward()
    keep = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), keep / 0.6, rtol=1e-15)


# ---- gradients: finite differences in float64, eager and static --------------------------------------
GRAD_CASES = {
    "conv2d": (lambda x, w, b: N.conv2d(x, w, b, stride=2, padding=1),
               [(2, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    "conv2d_groups_dilation": (lambda x, w: N.conv2d(x, w, padding=(1, 2), dilation=(1, 2), groups=2),
                               [(1, 4, 5, 6), (2, 2, 2, 3)]),
    "conv2d_same": (lambda x, w: N.conv2d(x, w, padding="same"), [(1, 2, 4, 5), (2, 2, 2, 2)]),
    "conv2d_stride_remainder": (lambda x, w: N.conv2d(x, w, stride=3), [(1, 1, 7, 8), (2, 1, 2, 2)]),
    "conv_transpose2d": (lambda x, w, b: N.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            output_padding=1),
                         [(1, 2, 3, 3), (2, 3, 3, 3), (3,)]),
    "conv_transpose2d_groups": (lambda x, w: N.conv_transpose2d(x, w, stride=(1, 2), groups=2,
                                                                dilation=2),
                                [(1, 4, 3, 3), (4, 1, 2, 2)]),
    "max_pool2d": (lambda x: N.max_pool2d(x, 3, 2, 1), [(2, 2, 5, 6)]),
    "max_pool2d_ceil": (lambda x: N.max_pool2d(x, (2, 3), (2, 2), 1, (1, 2), ceil_mode=True),
                        [(1, 2, 5, 7)]),
    "avg_pool2d": (lambda x: N.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 6, 5)]),
    "avg_pool2d_exclude_pad": (lambda x: N.avg_pool2d(x, 2, 1, 1, count_include_pad=False),
                               [(1, 2, 4, 3)]),
    "adaptive_avg_pool2d": (lambda x: N.adaptive_avg_pool2d(x, (3, 2)), [(2, 2, 5, 5)]),
}


def _grad_inputs(shapes):
    r = np.random.default_rng(1)
    return [r.standard_normal(s) for s in shapes]


def _eager_value(fn, arrays):
    return fn(*[gc.tensor(a) for a in arrays]).numpy()


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients_match_finite_differences_in_both_modes(name):
    fn, shapes = GRAD_CASES[name]
    arrays = _grad_inputs(shapes)
    out_shape = _eager_value(fn, arrays).shape
    r = np.random.default_rng(2).standard_normal(out_shape)
    # eager backward
    ts = [gc.tensor(a, requires_grad=True) for a in arrays]
    (fn(*ts) * gc.tensor(r)).sum().backward()
    # static graphc.grad on the reference target
    ps = [gc.placeholder(a.shape, gc.float64, name=f"in{i}") for i, a in enumerate(arrays)]
    loss = (fn(*ps) * gc.constant(r)).sum()
    static = gc.compile(gc.grad(loss, ps), inputs=ps, target="reference")(*arrays)
    for i in range(len(arrays)):
        expected = numeric_grad(lambda *a: np.sum(_eager_value(fn, a) * r), arrays, i)
        np.testing.assert_allclose(ts[i].grad.numpy(), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=f"{name}: eager gradient of input {i}")
        np.testing.assert_allclose(static[i].numpy(), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=f"{name}: static gradient of input {i}")


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                                  "adaptive_avg_pool2d"])
def test_second_derivatives_match_finite_differences(name):
    """d/dx of <grad_x(<f(x), r>), v>: exercises the backward ops' own gradient rules."""
    fn, shapes = GRAD_CASES[name]
    arrays = _grad_inputs(shapes)
    r = np.random.default_rng(2).standard_normal(_eager_value(fn, arrays).shape)
    v = np.random.default_rng(3).standard_normal(arrays[0].shape)
    ps = [gc.placeholder(a.shape, gc.float64, name=f"in{i}") for i, a in enumerate(arrays)]
    gx = gc.grad((fn(*ps) * gc.constant(r)).sum(), ps)
    inner = sum(((g * gc.constant(v if i == 0 else np.ones(g.shape))).sum()
                 for i, g in enumerate(gx)), gc.constant(np.float64(0)))
    second = gc.compile(gc.grad(inner, ps), inputs=ps, target="reference")(*arrays)
    first = gc.compile(inner, inputs=ps, target="reference")

    def f(*a):
        return float(first(*a).numpy())
    for i in range(len(arrays)):
        expected = numeric_grad(f, arrays, i, eps=1e-5)
        np.testing.assert_allclose(second[i].numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: second derivative w.r.t. input {i}")


# ---- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: N.conv2d(gc.zeros(1, 3, 5, 5), gc.zeros(4, 2, 3, 3)), "3 channels"),
    (lambda: N.conv2d(gc.zeros(1, 3, 2, 2), gc.zeros(4, 3, 3, 3)), "larger than the padded input"),
    (lambda: N.conv2d(gc.zeros(3, 5, 5), gc.zeros(4, 3, 3)), "weight must be 4-D"),
    (lambda: N.conv2d(gc.zeros(1, 2, 5, 5), gc.zeros(4, 2, 3, 3), stride=2, padding="same"),
     "not supported for strided"),
    (lambda: N.conv2d(gc.zeros(1, 4, 5, 5), gc.zeros(3, 2, 3, 3), groups=2), "divisible by groups"),
    (lambda: N.conv2d(gc.zeros(1, 2, 5, 5), gc.zeros(4, 2, 3, 3), gc.zeros(3)), "bias must have"),
    (lambda: N.conv2d(gc.zeros(1, 2, 5, 5), gc.zeros(4, 2, 3, 3), stride=0), "stride must be >= 1"),
    (lambda: N.max_pool2d(gc.zeros(1, 1, 4, 4), 2, padding=2), "at most half"),
    (lambda: N.max_pool2d(gc.zeros(1, 1, 2, 2), 3), "does not fit"),
    (lambda: N.conv_transpose2d(gc.zeros(1, 2, 3, 3), gc.zeros(2, 1, 3, 3), stride=2,
                                output_padding=2), "output_padding"),
])
def test_bad_shapes_raise_errors_naming_the_op_and_the_line(call, message):
    with pytest.raises(gc.ShapeError, match=message) as info:
        call()
    text = str(info.value)
    assert text.split(":")[0] in {"conv2d", "max_pool2d", "conv_transpose2d"}
    assert "test_nn_ops.py" in text


def test_symbolic_batch_dims_are_kept():
    x = gc.placeholder((None, 3, 8, 8), name="x")
    y = N.max_pool2d(N.conv2d(x, gc.zeros(4, 3, 3, 3), padding=1), 2)
    assert tuple(y.shape)[1:] == (4, 4, 4) and y.shape[0] is None


# ---- eager fast path (runtime kernels) vs the reference -----------------------------------------------
EAGER_CASES = {
    "conv2d": lambda r: ((r(2, 4, 7, 6), r(6, 2, 3, 3), r(6)),
                         dict(stride=(2, 1), padding=(1, 0, 2, 1), dilation=(1, 2), groups=2)),
    "conv_transpose2d": lambda r: ((r(2, 4, 3, 4), r(4, 3, 3, 2)),
                                   dict(stride=(2, 2), padding=(1, 1, 0, 0), output_padding=(1, 0),
                                        dilation=(1, 1), groups=2)),
    "conv2d_weight_grad": lambda r: ((r(2, 4, 7, 6), r(2, 6, 4, 4)),
                                     dict(kernel_size=(3, 3), stride=(2, 1), padding=(1, 1, 0, 0),
                                          dilation=(1, 1), groups=2)),
    "max_pool2d": lambda r: ((r(2, 3, 7, 6),), dict(kernel_size=(3, 2), stride=(2, 2),
                                                    padding=(1, 1), dilation=(1, 2),
                                                    ceil_mode=True)),
    "avg_pool2d": lambda r: ((r(2, 3, 7, 6),), dict(kernel_size=(3, 3), stride=(2, 2),
                                                    padding=(1, 1), ceil_mode=True,
                                                    count_include_pad=False,
                                                    divisor_override=None)),
    "avg_pool2d_backward": lambda r: ((r(2, 3, 4, 3),), dict(
        input_hw=(7, 6), kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True,
        count_include_pad=True, divisor_override=None)),
    "adaptive_avg_pool2d": lambda r: ((r(2, 3, 7, 6),), dict(output_size=(3, 4))),
    "adaptive_avg_pool2d_backward": lambda r: ((r(2, 3, 3, 4),), dict(input_hw=(7, 6))),
    "dropout": lambda r: ((r(5, 6, 7), np.asarray(99, np.int64)), dict(p=0.3, stream=4)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(EAGER_CASES))
def test_eager_fast_path_equals_the_reference(name, dtype):
    op = gc.ops_registry[name]
    r = np.random.default_rng(0)

    def make(*shape):  # non-contiguous on purpose: the fast path must copy what it needs
        return np.asfortranarray(r.standard_normal(shape).astype(dtype))
    arrays, attrs = EAGER_CASES[name](make)
    assert op.eager is not None
    got, want = op.eager(*arrays, **attrs), op.reference(*arrays, **attrs)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_eager_max_pool_backward_and_gather_equal_the_reference():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 5))
    values, indices = N.max_pool2d_op.eager(x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0),
                                            dilation=(1, 1), ceil_mode=True)
    g = np.ones_like(values)
    np.testing.assert_array_equal(N.max_pool2d_backward.eager(g, indices, input_hw=(6, 5)),
                                  R.max_pool2d_backward(g, indices, input_hw=(6, 5)))
    np.testing.assert_array_equal(N.max_pool2d_gather.eager(x, indices),
                                  R.max_pool2d_gather(x, indices))


def test_eager_falls_back_to_the_reference_for_other_dtypes():
    x = np.ones((1, 1, 4, 4), np.float16)
    out = N.avg_pool2d(gc.tensor(x), 2)
    assert out.dtype == gc.float16 and np.all(out.numpy() == 1)
