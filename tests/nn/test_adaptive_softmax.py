"""AdaptiveLogSoftmaxWithLoss: values vs NumPy, gradients vs finite differences, eager ==
static (layer_check), log_prob / predict, and PyTorch's numbers when it is installed."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
from layer_check import check_layer

rng = np.random.default_rng(2)
X = rng.standard_normal((6, 8))
Y = np.array([0, 5, 12, 19, 3, 11])


def _model(dtype=None):
    gc.manual_seed(0)
    return nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, head_bias=True,
                                         dtype=dtype)


def _full_log_prob(p, x):
    head = scipy.special.log_softmax(x @ p["head.weight"].T + p["head.bias"], axis=1)
    parts = [head[:, :4]]
    for i in range(3):
        tail = x @ p[f"tail.{i}.0.weight"].T @ p[f"tail.{i}.1.weight"].T
        parts.append(scipy.special.log_softmax(tail, axis=1) + head[:, 4 + i:5 + i])
    return np.concatenate(parts, axis=1)


def test_values_gradients_and_static_match():
    def reference(p, x, y):
        out = _full_log_prob(p, x)[np.arange(len(y)), y]
        return out, -out.mean()
    check_layer(_model(), [X, Y], reference)


def test_log_prob_predict_unbatched_and_target_checks():
    m = _model(gc.float64)
    p = {k: v.detach().numpy() for k, v in m.named_parameters()}
    full = _full_log_prob(p, X)
    np.testing.assert_allclose(m.log_prob(gc.tensor(X)).detach().numpy(), full, rtol=1e-12)
    np.testing.assert_array_equal(m.predict(gc.tensor(X)).numpy(), full.argmax(1))
    out, loss = m(gc.tensor(X[2]), gc.tensor(np.array(12)))
    assert out.shape == () and np.isclose(out.item(), full[2, 12]) and np.isclose(
        loss.item(), -full[2, 12])
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 19\]"):
        m(gc.tensor(X), gc.tensor(np.array([0, 1, 2, 20, 3, 4])))
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 4])


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = _model()
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0,
                                                 head_bias=True)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = X.astype(np.float32)
    xs = [gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)]
    results = []
    for lib, m, xt in ((gc, ours, xs[0]), (torch, theirs, xs[1])):
        out, loss = m(xt, lib.tensor(Y))
        loss.backward()
        results.append([out.detach().numpy(), loss.detach().numpy(), xt.grad.numpy()]
                       + [q.grad.numpy() for q in m.parameters()]
                       + [m.log_prob(lib.tensor(x)).detach().numpy(),
                          m.predict(lib.tensor(x)).numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_tail_narrowed_to_zero_features_works_as_in_pytorch():
    """in_features // div_value**2 == 0: a Linear(4, 0) and a Linear(0, 2), whose
    initialization is a no-op with PyTorch's warning (fan_in 0)."""
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        m = nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2, 4])
    assert m.tail[1][0].weight.shape == (0, 4)
    x = gc.tensor(X[:3, :4].astype(np.float32))
    out, loss = m(x, gc.tensor(np.array([0, 3, 5])))
    np.testing.assert_allclose(out.detach().numpy()[2], m.log_prob(x)
                               .detach().numpy()[2, 5], rtol=1e-6)
    assert np.isclose(np.exp(m.log_prob(x).detach().numpy()).sum(1), 1).all()
