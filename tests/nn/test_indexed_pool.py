"""Max pools that return indices: adaptive_max_pool1d/2d/3d(return_indices=True) and
max_pool3d(return_indices=True), against a NumPy scan with PyTorch's CPU rule (first largest
in row-major order, last NaN, a window of -inf keeps its first element), finite-difference
gradients, the same module compiled on the reference target (check_layer), a symbolic batch,
graphc.jit, one cpu-target compile, and PyTorch itself (values, indices, gradients at ties);
LPPool3d, MaxUnpool3d and the lp_pool +-inf norms."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from layer_check import check_layer

rng = np.random.default_rng(7)


# ---- NumPy reference: PyTorch's scan, one window at a time --------------------------------------
def _adaptive_windows(n, o):
    return [list(range(i * n // o, -(-(i + 1) * n // o))) for i in range(o)]


def _strided_windows(n, k, s, p, d, ceil_mode):
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return [[i * s - p + t * d for t in range(k) if 0 <= i * s - p + t * d < n]
            for i in range(out)]


def scan_pool(x, windows):
    """(values, flat in-plane indices) over the windows of x's last len(windows) dims."""
    dims = len(windows)
    spatial = x.shape[-dims:]
    planes = x.reshape((-1,) + spatial)
    out_size = tuple(len(w) for w in windows)
    values = np.zeros((len(planes),) + out_size, x.dtype)
    indices = np.zeros((len(planes),) + out_size, np.int64)
    for b, plane in enumerate(planes):
        for o in np.ndindex(*out_size):
            cells = list(itertools.product(*(windows[d][o[d]] for d in range(dims))))
            best, where = -np.inf, cells[0]
            for cell in cells:
                if plane[cell] > best or np.isnan(plane[cell]):
                    best, where = plane[cell], cell
            values[(b,) + o] = plane[where]
            indices[(b,) + o] = np.ravel_multi_index(where, spatial)
    lead = x.shape[:-dims]
    return values.reshape(lead + out_size), indices.reshape(lead + out_size)


def adaptive_reference(x, sizes):
    dims = len(sizes)
    return scan_pool(x, [_adaptive_windows(n, o) for n, o in zip(x.shape[-dims:], sizes)])


ADAPTIVE = [  # module, output_size, input shape, NumPy output sizes
    (nn.AdaptiveMaxPool1d, 4, (2, 3, 9), (4,)),
    (nn.AdaptiveMaxPool1d, 3, (3, 7), (3,)),  # unbatched
    (nn.AdaptiveMaxPool2d, (3, 2), (2, 2, 7, 5), (3, 2)),
    (nn.AdaptiveMaxPool2d, (None, 4), (2, 5, 7), (5, 4)),
    (nn.AdaptiveMaxPool2d, 4, (1, 1, 3, 3), (4, 4)),  # output larger than input
    (nn.AdaptiveMaxPool3d, (2, None, 2), (1, 2, 5, 4, 3), (2, 4, 2)),
]


@pytest.mark.parametrize("cls,size,shape,out", ADAPTIVE,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(ADAPTIVE)])
def test_adaptive_max_pool_indices_numpy_fd_and_static(cls, size, shape, out):
    x = rng.standard_normal(shape)
    check_layer(cls(size, return_indices=True), [x],
                lambda p, x: adaptive_reference(x, out), fd_atol=2e-5)


MAX3D = [(3, 2, 1, 1, False), ((2, 3, 2), 1, (1, 1, 0), (1, 1, 2), True),
         (2, 2, 1, 1, True)]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX3D)
def test_max_pool3d_indices_numpy_fd_and_static(k, s, p, d, ceil):
    x = rng.standard_normal((1, 2, 5, 4, 6))
    ks, ss, ps, ds = ((v,) * 3 if isinstance(v, int) else v for v in (k, s, p, d))

    def reference(params, x):
        return scan_pool(x, [_strided_windows(n, ks[i], ss[i], ps[i], ds[i], ceil)
                             for i, n in enumerate(x.shape[-3:])])
    check_layer(nn.MaxPool3d(k, s, p, d, return_indices=True, ceil_mode=ceil), [x], reference,
                fd_atol=2e-5)


def test_ties_nan_and_minus_inf_follow_pytorch_rule():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, np.nan, 2.0, np.nan],
                    [-np.inf, -np.inf, 5.0, 5.0], [-np.inf, -np.inf, 1.0, 1.0]]]])
    values, indices = F.adaptive_max_pool2d(gc.tensor(x), 2, return_indices=True)
    ref_v, ref_i = adaptive_reference(x, (2, 2))
    np.testing.assert_array_equal(indices.numpy(), ref_i)
    np.testing.assert_array_equal(indices.numpy(), [[[[5, 7], [8, 10]]]])
    np.testing.assert_array_equal(values.numpy(), ref_v)


def test_gradient_goes_to_the_chosen_element_only():
    x = gc.tensor(np.array([[[0.0, 0.0, 1.0, 1.0, 0.0]]]), requires_grad=True)
    F.adaptive_max_pool1d(x, 2).sum().backward()  # windows [0, 3) and [2, 5)
    np.testing.assert_array_equal(x.grad.numpy(), [[[0.0, 0.0, 2.0, 0.0, 0.0]]])


def test_with_indices_names_and_symbolic_batch():
    x = rng.standard_normal((3, 2, 6, 5))
    ref_v, ref_i = adaptive_reference(x, (4, 3))
    for fn in (F.adaptive_max_pool2d_with_indices,
               lambda x, s: F.adaptive_max_pool2d(x, s, return_indices=True)):
        v, i = fn(gc.tensor(x), (4, 3))
        np.testing.assert_array_equal(v.numpy(), ref_v)
        np.testing.assert_array_equal(i.numpy(), ref_i)
    ph = gc.placeholder((None, 2, 6, 5), gc.float64, "x")
    v, i = F.adaptive_max_pool2d(ph, (4, 3), return_indices=True)
    run = gc.compile([v, i], inputs=[ph], target="reference")
    for batch in (x, x[:1]):
        got_v, got_i = run(batch)
        np.testing.assert_array_equal(got_v.numpy(), adaptive_reference(batch, (4, 3))[0])
        np.testing.assert_array_equal(got_i.numpy(), adaptive_reference(batch, (4, 3))[1])
    v1, i1 = F.adaptive_max_pool1d_with_indices(gc.tensor(x[0]), 2)
    np.testing.assert_array_equal(i1.numpy(), adaptive_reference(x[0], (2,))[1])
    v3, i3 = F.adaptive_max_pool3d_with_indices(gc.tensor(x), (1, 3, 2))
    np.testing.assert_array_equal(i3.numpy(), adaptive_reference(x, (1, 3, 2))[1])
    v3, i3 = F.max_pool3d_with_indices(gc.tensor(x), 2)
    windows = [_strided_windows(n, 2, 2, 0, 1, False) for n in x.shape[-3:]]
    np.testing.assert_array_equal(i3.numpy(), scan_pool(x, windows)[1])


def test_under_jit_and_compiled_for_cpu():
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    ref_v, ref_i = adaptive_reference(x, (3, 4))

    def f(x):
        v, i = F.adaptive_max_pool2d(x, (3, 4), return_indices=True)
        return v * 2.0, i
    v, i = gc.jit(f, target="reference")(x)
    np.testing.assert_array_equal(np.asarray(v), 2 * ref_v)
    np.testing.assert_array_equal(np.asarray(i), ref_i)
    ph = gc.placeholder(x.shape, gc.float32, "x")
    sv, si = F.adaptive_max_pool2d(ph, (3, 4), return_indices=True)
    grad = gc.grad(gc.sum(sv * sv), [ph])[0]
    v, i, g = gc.compile([sv, si, grad], inputs=[ph], target="cpu")(x)
    np.testing.assert_array_equal(v.numpy(), ref_v)
    np.testing.assert_array_equal(i.numpy(), ref_i)
    expected = np.zeros(x.size, np.float32).reshape(6, -1)
    np.add.at(expected, (np.arange(6)[:, None], ref_i.reshape(6, -1)), 2 * ref_v.reshape(6, -1))
    np.testing.assert_allclose(g.numpy(), expected.reshape(x.shape), rtol=1e-6)


def test_lp_pool3d_and_max_unpool3d_numpy():
    x = rng.standard_normal((1, 2, 4, 4, 6))
    windows = np.abs(x).reshape(1, 2, 2, 2, 2, 2, 3, 2) ** 3
    expected = windows.sum(axis=(3, 5, 7)) ** (1 / 3)
    check_layer(nn.LPPool3d(3, 2), [np.abs(x) + 0.1],
                lambda p, x: (x.reshape(1, 2, 2, 2, 2, 2, 3, 2) ** 3).sum(axis=(3, 5, 7))
                ** (1 / 3))
    np.testing.assert_allclose(F.lp_pool3d(gc.tensor(np.abs(x)), 3, 2).numpy(), expected)
    np.testing.assert_allclose(F.lp_pool3d(gc.tensor(x), float("inf"), 2).numpy(),
                               np.abs(x).reshape(1, 2, 2, 2, 2, 2, 3, 2).max(axis=(3, 5, 7)))
    values, indices = F.max_pool3d(gc.tensor(x), 2, return_indices=True)
    restored = nn.MaxUnpool3d(2)(values, indices).numpy()
    expected = np.zeros(x.shape)
    flat = expected.reshape(2, -1)
    flat[np.arange(2)[:, None], indices.numpy().reshape(2, -1)] = values.numpy().reshape(2, -1)
    np.testing.assert_array_equal(restored, expected)
    assert (restored != 0).sum() == values.numel()
    wider = F.max_unpool3d(values, indices, 2, output_size=(5, 5, 7))
    assert tuple(wider.shape) == (1, 2, 5, 5, 7)


# ---- PyTorch ------------------------------------------------------------------------------------
TORCH_CASES = [
    ("adaptive_max_pool1d", (3,), (2, 3, 8)),
    ("adaptive_max_pool2d", ((3, 4),), (2, 2, 5, 7)),
    ("adaptive_max_pool2d", ((2, None),), (2, 6, 6)),
    ("adaptive_max_pool3d", ((2, 3, 2),), (1, 2, 4, 5, 3)),
    ("max_pool3d", (3, 2, 1), (1, 2, 5, 4, 6)),
    ("max_pool3d", ((2, 2, 3), 1, (1, 0, 1), (1, 2, 1), True), (2, 1, 4, 5, 6)),
]


@pytest.mark.parametrize("name,args,shape", TORCH_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
@pytest.mark.parametrize("pattern", ["ties", "nan"])
def test_matches_pytorch(name, args, shape, pattern):
    torch = pytest.importorskip("torch")
    x = np.round(rng.standard_normal(shape)).clip(-1, 1)  # many ties (as after a ReLU)
    if pattern == "nan":
        x.reshape(-1)[rng.choice(x.size, 4, replace=False)] = np.nan
        x.reshape(-1)[rng.choice(x.size, 4, replace=False)] = -np.inf
    tx, gx = torch.tensor(x, requires_grad=True), gc.tensor(x, requires_grad=True)
    tv, ti = getattr(torch.nn.functional, name)(tx, *args, return_indices=True)
    gv, gi = getattr(F, name)(gx, *args, return_indices=True)
    np.testing.assert_array_equal(gi.numpy(), ti.numpy())
    np.testing.assert_array_equal(gv.detach().numpy(), tv.detach().numpy())
    w = rng.standard_normal(tuple(tv.shape))
    torch.where(torch.isnan(tv), 0.0, tv * torch.tensor(w)).sum().backward()
    gc.sum(gc.where(gc.isnan(gv), 0.0, gv * gc.tensor(w))).backward()
    np.testing.assert_array_equal(gx.grad.numpy(), tx.grad.numpy())


def test_modules_and_names_match_pytorch():
    torch = pytest.importorskip("torch")
    for name, args in (("AdaptiveMaxPool2d", ((2, 3), True)), ("LPPool3d", (2, 2)),
                       ("MaxUnpool3d", (2,)), ("AdaptiveMaxPool3d", (2, True))):
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    x = rng.standard_normal((1, 2, 4, 6, 4))
    tv, ti = torch.nn.functional.max_pool3d(torch.tensor(x), 2, return_indices=True)
    gv, gi = F.max_pool3d(gc.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(nn.MaxUnpool3d(2)(gv, gi).numpy(),
                                  torch.nn.MaxUnpool3d(2)(tv, ti).numpy())
    for p in (2.0, float("inf"), -float("inf")):
        for dims in (1, 2, 3):
            shape = (1, 2) + (5,) * dims
            x = rng.standard_normal(shape)
            tx, gx = torch.tensor(x, requires_grad=True), gc.tensor(x, requires_grad=True)
            t = getattr(torch.nn.functional, f"lp_pool{dims}d")(tx, p, 2, None, True)
            g = getattr(F, f"lp_pool{dims}d")(gx, p, 2, None, True)
            np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-12)
            t.sum().backward()
            g.sum().backward()
            np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_max_pool3d_indices_into_max_unpool3d_compiled_equals_eager():
    x = rng.standard_normal((1, 2, 4, 4, 6))
    ph = gc.placeholder(x.shape, gc.float64, "x")

    def f(x):
        values, indices = F.max_pool3d(x, 2, return_indices=True)
        return nn.MaxUnpool3d(2)(values, indices, output_size=(5, 5, 6))
    run = gc.compile(f(ph), inputs=[ph], target="reference")
    np.testing.assert_array_equal(run(x).numpy(), f(gc.tensor(x)).numpy())
    assert (run(x).numpy() != 0).sum() == 2 * 2 * 2 * 3


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2),
                                    dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=(2, 3, 2), stride=(1, 2, 1),
                                         dilation=(2, 1, 1), ceil_mode=True)])
def test_max_pool3d_without_indices_matches_pytorch_at_ties_and_nan(kwargs):
    """The 2-D composite takes a later depth tap only if larger or NaN (PyTorch's scan), so
    the gradient goes to one element at ties (a maximum would share it)."""
    torch = pytest.importorskip("torch")
    x = np.round(rng.standard_normal((1, 2, 4, 5, 4))).clip(-1, 1)
    x.reshape(-1)[rng.choice(x.size, 6, replace=False)] = np.nan
    tx, gx = torch.tensor(x, requires_grad=True), gc.tensor(x, requires_grad=True)
    t, g = torch.nn.functional.max_pool3d(tx, **kwargs), F.max_pool3d(gx, **kwargs)
    np.testing.assert_array_equal(g.detach().numpy(), t.detach().numpy())
    torch.where(torch.isnan(t), 0.0, t).sum().backward()
    gc.where(gc.isnan(g), 0.0, g).sum().backward()
    np.testing.assert_array_equal(gx.grad.numpy(), tx.grad.numpy())
