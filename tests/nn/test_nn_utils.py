"""graphc.nn.utils: gradient clipping and parameter vectors."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                             vector_to_parameters)


def params_with_grads():
    a = gc.tensor([3.0, 0.0], requires_grad=True)
    b = gc.tensor([[4.0]], requires_grad=True)
    (gc.sum(a * gc.tensor([3.0, 0.0])) + gc.sum(b * 4.0)).backward()  # grads (3, 0) and 4
    return a, b


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm():
    a, b = params_with_grads()
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == 5.0
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [[0.8]], rtol=1e-5)
    assert clip_grad_norm_([a, b], max_norm=10.0).item() == pytest.approx(1.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.0], rtol=1e-5)  # below max: unchanged


def test_clip_grad_value_and_vectors():
    a, b = params_with_grads()
    clip_grad_value_([a, b], 3.5)
    assert a.grad.tolist() == [3.0, 0.0] and b.grad.tolist() == [[3.5]]
    vec = parameters_to_vector([a, b])
    assert vec.tolist() == [3.0, 0.0, 4.0]
    vector_to_parameters(np.array([1.0, 2.0, 3.0], np.float32), [a, b])
    assert a.detach().tolist() == [1.0, 2.0] and b.detach().tolist() == [[3.0]]
