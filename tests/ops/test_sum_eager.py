"""Eager `sum`: leading axes onto a few columns (bias gradients) are one float64 product;
every other case is NumPy's reduction. Both give NumPy's shapes and dtypes."""
import numpy as np
import pytest

import graphc as gc
from graphc.ops.reduce import _sum_eager

rng = np.random.default_rng(11)


@pytest.mark.parametrize("shape, dims", [((4000, 3), (0,)), ((1500, 2, 4), (0, 1)),
                                         ((2048, 16), (0,)), ((3000, 1), (0,))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keepdim", [False, True])
def test_column_sums_are_exact_to_the_last_rounding(shape, dims, dtype, keepdim):
    x = rng.standard_normal(shape).astype(dtype)
    got = _sum_eager(x, dims, keepdim)
    want = np.sum(x.astype(np.float64), axis=dims, keepdims=keepdim)
    assert got.shape == want.shape and got.dtype == dtype
    # float32: the float64 sum rounded once; float64: another order of the same sum
    np.testing.assert_allclose(got, want.astype(dtype), rtol=0 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("x, dims", [
    (np.ones((4000, 3), np.float32)[:, ::-1], (0,)),            # not C-contiguous
    (np.arange(12000, dtype=np.int32).reshape(4000, 3), (0,)),   # integers: int64 sums
    (np.ones((4000, 40), np.float32), (0,)),                     # wide rows: NumPy is fast
    (np.ones((3, 4000), np.float32), (1,)),                      # trailing axes
    (np.ones((10, 3), np.float32), (0,)),                        # few rows
])
def test_other_sums_are_numpys(x, dims):
    got = _sum_eager(x, dims, False)
    want = np.sum(x, axis=dims, dtype=np.int64 if x.dtype.kind == "i" else x.dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_a_linear_bias_gradient_over_many_rows():
    x = rng.standard_normal((5000, 2)).astype(np.float32)
    lin = gc.nn.Linear(2, 3)
    lin(gc.tensor(x)).sum().backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), np.full(3, 5000, np.float32))
