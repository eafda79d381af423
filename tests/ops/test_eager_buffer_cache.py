"""Eager nn ops whose results come from runtime/kernels/buffer_cache.py: same numbers as with
fresh arrays, and a result in use is never overwritten by a later op."""
import numpy as np
import pytest

import graphc as gc
import graphc.nn.functional as F
from runtime.kernels import buffer_cache


def _step(seed):
    """A conv-BN-ReLU-pool-residual forward and backward; every array the test keeps."""
    rng = np.random.default_rng(seed)
    x = gc.tensor(rng.standard_normal((3, 4, 8, 8)).astype(np.float32), requires_grad=True)
    w = gc.tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), requires_grad=True)
    gamma = gc.tensor(np.linspace(0.5, 1.5, 4, dtype=np.float32), requires_grad=True)
    beta = gc.tensor(np.zeros(4, np.float32), requires_grad=True)
    h = F.relu(F.batch_norm(F.conv2d(x, w, padding=1), None, None, gamma, beta, training=True))
    y = F.max_pool2d(F.relu(F.conv2d(h, w, padding=1) + x), 2)
    z = F.avg_pool2d(y, 2) * 3
    z.sum().backward()
    return [t.detach().numpy().copy() for t in (h, y, z, x.grad, w.grad, gamma.grad, beta.grad)], h


@pytest.fixture
def cache_everything(monkeypatch):
    buffer_cache.clear()
    monkeypatch.setattr(buffer_cache, "MIN_BYTES", 0)
    yield
    buffer_cache.clear()


def test_cached_results_match_fresh_arrays(cache_everything, monkeypatch):
    cached = [_step(seed)[0] for seed in (0, 1, 0)]
    assert buffer_cache.cached_bytes() > 0
    monkeypatch.setattr(buffer_cache, "LIMIT_BYTES", 0)  # every array fresh
    buffer_cache.clear()
    fresh = [_step(seed)[0] for seed in (0, 1)]
    for got, want in zip(cached, fresh + fresh[:1]):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_a_result_held_by_the_user_survives_later_steps(cache_everything):
    values, h = _step(0)
    for seed in (1, 2):
        _step(seed)
    np.testing.assert_array_equal(h.detach().numpy(), values[0])
