"""Eager relu and its gradient on large arrays run runtime/kernels/activation.py: the same
numbers as relu's reference and gradient rule, special values and the sign of zero included."""
import numpy as np
import pytest

import graphc as gc
from graphc.ops import elementwise as E, nn_kernels

N = nn_kernels.ACTIVATION_KERNEL_MIN
SPECIAL = [np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-45, -1e-45]


def _sample(dtype, n=N + 3):
    x = np.random.default_rng(2).standard_normal(n).astype(dtype)
    x[:len(SPECIAL)] = SPECIAL
    return x


def _same(a, b):
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))  # -0.0 stays -0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernel_equals_the_reference(dtype):
    x = _sample(dtype).reshape(-1, 1)  # any shape: the kernel sees it flat
    _same(nn_kernels.relu(x), E.relu.reference(x))
    _same(E.relu.reference(x[:8, 0]), np.array([np.nan, -0.0, 0, np.inf, 0, 1e-45, 0,
                                                x[7, 0] if x[7, 0] > 0 else 0], dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_kernel_equals_the_rule(dtype):
    x = _sample(dtype)
    g = _sample(dtype)[::-1].copy()  # NaN and inf cotangents meet every kind of x
    rule = np.where(x > 0, g, dtype(0))  # where(gt(x, 0), g, 0)
    _same(nn_kernels.relu_backward(g, x), rule)


def test_small_or_mixed_arrays_keep_numpy():
    assert nn_kernels.relu_backward(np.ones(8, np.float32), np.ones(8, np.float32)) is None
    assert nn_kernels.relu_backward(np.ones(N, np.float32), np.ones(N)) is None
    x = np.ones((N, 2), np.float32)[:, 0]  # not contiguous
    assert nn_kernels.relu_backward(x, x) is None
    _same(nn_kernels.relu(x), E.relu.reference(x))


def test_eager_relu_and_its_gradient_on_a_large_tensor():
    x = gc.tensor(_sample(np.float32), requires_grad=True)
    y = gc.relu(x) if hasattr(gc, "relu") else x.relu()
    y.backward(gc.ones(x.shape))
    xs = x.detach().numpy()
    _same(y.detach().numpy(), E.relu.reference(xs))
    np.testing.assert_array_equal(x.grad.numpy(), (xs > 0).astype(np.float32))
