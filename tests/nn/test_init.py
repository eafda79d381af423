"""graphc.nn.init: PyTorch's formulas for bounds and scales, seeded and in place."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphc as gc
import graphc.nn.init as init


def test_gains():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("conv2d") == 1
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fans_of_linear_and_conv_weights():
    assert init._calculate_fan_in_and_fan_out(gc.empty(4, 3)) == (3, 4)
    assert init._calculate_fan_in_and_fan_out(gc.empty(8, 2, 3, 3)) == (18, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(gc.empty(3))


@pytest.mark.parametrize("fn,bound", [
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(200)),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(6 / 200)),
    (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(6 / 300)),
    (lambda t: init.uniform_(t, -0.3, 0.3), 0.3),
])
def test_uniform_initializers_fill_their_interval(fn, bound):
    t = gc.empty(100, 200)
    assert fn(t) is t
    data = t.numpy()
    assert np.abs(data).max() <= bound and np.abs(data).max() > 0.99 * bound
    assert abs(data.mean()) < 0.02 * bound


@pytest.mark.parametrize("fn,std", [
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 100)),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / 300)),
    (lambda t: init.normal_(t, 1.0, 0.5), 0.5),
])
def test_normal_initializers_have_their_scale(fn, std):
    t = fn(gc.empty(100, 200))
    assert t.numpy().std() == pytest.approx(std, rel=0.03)


def test_constant_fills_and_orthogonal():
    assert init.zeros_(gc.ones(2, 2)).tolist() == [[0, 0], [0, 0]]
    assert init.ones_(gc.zeros(2)).tolist() == [1, 1]
    assert init.constant_(gc.zeros(2), 0.5).tolist() == [0.5, 0.5]
    assert init.eye_(gc.zeros(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    q = init.orthogonal_(gc.empty(3, 5)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-6)
    t = init.trunc_normal_(gc.empty(1000), std=1.0, a=-0.5, b=0.5).numpy()
    assert t.min() >= -0.5 and t.max() <= 0.5


def test_seeded_and_does_not_record_gradients():
    w = gc.empty(3, 3, requires_grad=True)
    gc.manual_seed(4)
    a = init.kaiming_uniform_(w).detach().numpy().copy()
    gc.manual_seed(4)
    np.testing.assert_array_equal(init.kaiming_uniform_(w).detach().numpy(), a)
    assert w.grad_fn is None and w.is_leaf
    g = gc.Generator().manual_seed(1)
    b1 = init.normal_(gc.empty(4), generator=g).numpy().copy()
    b2 = init.normal_(gc.empty(4), generator=gc.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(b1, b2)
