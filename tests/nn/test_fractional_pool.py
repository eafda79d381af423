"""FractionalMaxPool2d/3d and their functions: values and indices vs a NumPy reference (and
PyTorch), gradients vs finite differences, eager == static, random samples."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from graphc.errors import UnsupportedError
from layer_check import check_layer

rng = np.random.default_rng(11)


def _starts(u, n_in, n_out, k, dtype):
    if n_out == 1:
        return [n_in - k]
    alpha = dtype(n_in - k) / dtype(n_out - 1)
    u = dtype(u)
    return [int((dtype(i) + u) * alpha) - int(u * alpha) for i in range(n_out - 1)] + [n_in - k]


def reference(x, kernel, out_size, samples):
    """PyTorch's ATen loops: window starts per plane, first max or last NaN."""
    dims = len(kernel)
    slots = [1, 0] if dims == 2 else [0, 1, 2]  # which sample drives each spatial dim
    n, c, *spatial = x.shape
    out = np.zeros((n, c) + tuple(out_size), x.dtype)
    idx = np.zeros((n, c) + tuple(out_size), np.int64)
    for b, ch in itertools.product(range(n), range(c)):
        starts = [_starts(samples[b, ch, slots[d]], spatial[d], out_size[d], kernel[d],
                          x.dtype.type) for d in range(dims)]
        for pos in itertools.product(*[range(o) for o in out_size]):
            best, best_i = -np.inf, None
            for off in itertools.product(*[range(k) for k in kernel]):
                at = tuple(starts[d][pos[d]] + off[d] for d in range(dims))
                flat = int(np.ravel_multi_index(at, spatial))
                best_i = flat if best_i is None else best_i
                v = x[(b, ch) + at]
                if v > best or np.isnan(v):
                    best, best_i = v, flat
            out[(b, ch) + pos], idx[(b, ch) + pos] = best, best_i
    return out, idx


CASES = [  # (input shape, kernel, output_size or None, output_ratio or None)
    ((2, 3, 9, 7), (2, 3), (4, 3), None),
    ((1, 2, 5, 5), 2, None, 0.5),
    ((3, 6, 6), (3, 2), (1, 5), None),  # unbatched; an output dim of 1
    ((2, 2, 6, 7, 5), (2, 2, 3), (3, 4, 2), None),
    ((1, 1, 5, 4, 4), 2, None, (0.5, 0.5, 0.5)),
]


def _setup(shape, kernel, out_size, ratio):
    dims = 3 if len(shape) == 5 or (len(shape) == 4 and isinstance(kernel, tuple)
                                     and len(kernel) == 3) else 2
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[3] = np.nan
    x.reshape(-1)[-2] = x.reshape(-1)[-1]  # a tie
    batch = 1 if len(shape) == dims + 1 else shape[0]
    samples = rng.random((batch, shape[-dims - 1], dims)).astype(np.float32)
    spatial = shape[-dims:]
    if out_size is None:
        r = ratio if isinstance(ratio, tuple) else (ratio,) * dims
        out_size = tuple(int(s * q) for s, q in zip(spatial, r))
    elif isinstance(out_size, int):
        out_size = (out_size,) * dims
    kernel_t = kernel if isinstance(kernel, tuple) else (kernel,) * dims
    return dims, x, samples, out_size, kernel_t


@pytest.mark.parametrize("shape,kernel,out_size,ratio", CASES)
def test_values_and_indices_match_the_reference(shape, kernel, out_size, ratio):
    dims, x, samples, full_out, kernel_t = _setup(shape, kernel, out_size, ratio)
    fn = F.fractional_max_pool2d if dims == 2 else F.fractional_max_pool3d
    out, idx = fn(gc.tensor(x), kernel, out_size, ratio, return_indices=True,
                  _random_samples=gc.tensor(samples))
    batched = x if len(shape) == dims + 2 else x[None]
    want, want_idx = reference(batched, kernel_t, full_out, samples)
    if len(shape) == dims + 1:
        want, want_idx = want[0], want_idx[0]
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)


@pytest.mark.parametrize("dims", [2, 3])
def test_gradients_and_static_equal_eager(dims):
    shape = (2, 2, 7, 6) if dims == 2 else (1, 2, 5, 5, 5)
    samples = rng.random((shape[0], 2, dims))
    cls = nn.FractionalMaxPool2d if dims == 2 else nn.FractionalMaxPool3d
    module = cls(2, output_size=(3,) * dims, _random_samples=gc.tensor(samples))
    check_layer(module, [rng.standard_normal(shape)])


def test_random_samples_follow_the_seed_and_symbolic_calls_need_them():
    x = gc.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    pool = nn.FractionalMaxPool2d(3, output_ratio=0.5)
    gc.manual_seed(4)
    a = pool(x)
    gc.manual_seed(4)
    np.testing.assert_array_equal(pool(x).numpy(), a.numpy())
    gc.manual_seed(4)
    samples = gc.rand(2, 3, 2)
    np.testing.assert_array_equal(
        F.fractional_max_pool2d(x, 3, output_ratio=0.5, _random_samples=samples).numpy(),
        a.numpy())
    with pytest.raises(UnsupportedError, match="needs _random_samples"):
        gc.jit(lambda v: pool(v), target="reference")(x)
    fixed = nn.FractionalMaxPool2d(3, output_ratio=0.5, _random_samples=samples)
    np.testing.assert_array_equal(gc.jit(lambda v: fixed(v), target="reference")(x).numpy(),
                                  a.numpy())
    ph, s = gc.placeholder((2, 3, 8, 8), gc.float32, "x"), gc.placeholder((2, 3, 2),
                                                                           gc.float32, "s")
    run = gc.compile(F.fractional_max_pool2d(ph, 3, output_ratio=0.5, _random_samples=s),
                     inputs=[ph, s], target="reference")
    np.testing.assert_array_equal(run(x.numpy(), samples.numpy()).numpy(), a.numpy())


def test_argument_checks():
    with pytest.raises(ValueError, match="either an output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
        nn.FractionalMaxPool3d(2, output_size=2, output_ratio=0.5)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="pool height 4 too large relative to input height 5"):
        F.fractional_max_pool2d(gc.ones(1, 1, 5, 5), 4, output_size=3)
    with pytest.raises(ValueError, match="pool time 2 too large relative to input time 4"):
        F.fractional_max_pool3d(gc.ones(1, 1, 4, 4, 4), 2, output_size=3)
    with pytest.raises(ValueError, match="_random_samples must have shape"):
        F.fractional_max_pool2d(gc.ones(1, 2, 5, 5), 2, output_size=3,
                                _random_samples=gc.rand(1, 1, 2))


@pytest.mark.parametrize("shape,kernel,out_size,ratio", CASES)
def test_matches_pytorch(shape, kernel, out_size, ratio):
    torch = pytest.importorskip("torch")
    dims, x, samples, _, _ = _setup(shape, kernel, out_size, ratio)
    x[np.isnan(x)] = 0.5  # (NaN: the reference test covers it; gradients compared here)
    cots = rng.standard_normal(1)
    if isinstance(ratio, float):  # (torch's function, unlike its module, takes tuples only)
        ratio = (ratio,) * dims
    results = []
    for lib, f in ((gc, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        fn = f.fractional_max_pool2d if dims == 2 else f.fractional_max_pool3d
        out, idx = fn(xt, kernel, out_size, ratio, return_indices=True,
                      _random_samples=lib.tensor(samples))
        (out * float(cots[0]) * out).sum().backward()
        results.append((out.detach().numpy(), idx.numpy(), xt.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert repr(nn.FractionalMaxPool2d(2, output_ratio=0.5)) == repr(
        torch.nn.FractionalMaxPool2d(2, output_ratio=0.5))
