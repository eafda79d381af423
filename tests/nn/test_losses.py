"""Losses: every reduction vs NumPy, gradients vs finite differences, eager == static."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from layer_check import check_layer

rng = np.random.default_rng(1)
REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}


def _reduced(values, reduction):
    return REDUCE[reduction](values)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    d = x - y
    cases = [
        (nn.MSELoss(reduction=reduction), d ** 2),
        (nn.L1Loss(reduction=reduction), np.abs(d)),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.5),
         np.where(np.abs(d) < 0.5, 0.5 * d ** 2 / 0.5, np.abs(d) - 0.25)),
        (nn.HuberLoss(reduction=reduction, delta=0.5),
         np.where(np.abs(d) < 0.5, 0.5 * d ** 2, 0.5 * (np.abs(d) - 0.25))),
    ]
    for module, elementwise in cases:
        check_layer(module, [x, y], lambda p, x, y, e=elementwise: _reduced(e, reduction))


def _nll_reference(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    w = np.ones(logp.shape[1]) if weight is None else weight
    safe = np.where(target == ignore_index, 0, target)
    picked = np.take_along_axis(logp, np.expand_dims(safe, 1), 1).squeeze(1)
    wt = w[safe] * (target != ignore_index)
    loss = -picked * wt
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return _reduced(loss, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_and_cross_entropy_with_class_indices(reduction, weighted):
    x = rng.standard_normal((5, 4))
    target = np.array([0, 3, -100, 1, 3])
    weight = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    w = None if weight is None else gc.tensor(weight)
    logp = scipy.special.log_softmax(x, axis=1)
    check_layer(nn.NLLLoss(weight=w, reduction=reduction), [logp, target],
                lambda p, x, t: _nll_reference(x, t, weight, reduction=reduction))
    check_layer(nn.CrossEntropyLoss(weight=w, reduction=reduction), [x, target],
                lambda p, x, t: _nll_reference(logp, t, weight, reduction=reduction))


def test_nll_over_spatial_dims():
    x = scipy.special.log_softmax(rng.standard_normal((2, 3, 2, 2)), axis=1)
    t = rng.integers(0, 3, (2, 2, 2))
    flat = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    check_layer(nn.NLLLoss(), [x, t], lambda p, x, t: _nll_reference(flat, t.reshape(-1)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_label_smoothing(reduction):
    x = rng.standard_normal((4, 3))
    target = np.array([2, 0, -100, 1])
    weight = np.array([1.0, 2.0, 0.5])
    eps, c = 0.2, 3
    logp = scipy.special.log_softmax(x, axis=1)
    keep = target != -100
    smooth = -(logp * weight).sum(1) * keep
    if reduction == "mean":
        smooth_red = smooth.sum() / weight[np.where(keep, target, 0)][keep].sum()
    else:
        smooth_red = _reduced(smooth, reduction)
    expected = (1 - eps) * _nll_reference(logp, target, weight, reduction=reduction) \
        + eps / c * smooth_red
    check_layer(nn.CrossEntropyLoss(weight=gc.tensor(weight), reduction=reduction,
                                    label_smoothing=eps), [x, target],
                lambda p, x, t: expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_probabilities(reduction):
    x = rng.standard_normal((4, 3))
    probs = scipy.special.softmax(rng.standard_normal((4, 3)), axis=1)
    eps = 0.1
    target = probs * (1 - eps) + eps / 3
    loss = -(scipy.special.log_softmax(x, axis=1) * target).sum(1)
    check_layer(nn.CrossEntropyLoss(reduction=reduction, label_smoothing=eps), [x, probs],
                lambda p, x, t: _reduced(loss, reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = scipy.special.expit(rng.standard_normal((3, 2)))
    t = rng.random((3, 2))
    w = rng.random((3, 2)) + 0.5
    loss = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * w
    check_layer(nn.BCELoss(weight=gc.tensor(w), reduction=reduction), [p, t],
                lambda _, p, t: _reduced(loss, reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    x = rng.standard_normal((3, 2)) * 3
    t = rng.random((3, 2))
    pw = np.array([0.5, 2.0])
    s = scipy.special.expit(x)
    loss = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    check_layer(nn.BCEWithLogitsLoss(pos_weight=gc.tensor(pw), reduction=reduction), [x, t],
                lambda _, x, t: _reduced(loss, reduction))


def test_bce_clamps_log_at_minus_100():
    loss = F.binary_cross_entropy(gc.tensor([0.0, 1.0]), gc.tensor([1.0, 0.0]),
                                  reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0])


def test_loss_errors_are_clear():
    with pytest.raises(ValueError, match="mse_loss: input shape"):
        F.mse_loss(gc.zeros(3, 2), gc.zeros(2, 3))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(TypeError, match="integers"):
        F.nll_loss(gc.zeros(3, 2), gc.zeros(3))
    with pytest.raises(ValueError, match="target of shape"):
        F.cross_entropy(gc.zeros(3, 2), gc.zeros(4, dtype=gc.int64))


@pytest.mark.parametrize("mode", ["eager", "reference", "cpu"])
def test_cross_entropy_target_out_of_bounds_raises(mode):
    """As PyTorch: a class index outside [0, C) that is not ignore_index is an error, never a
    silently wrong loss (eager, and the one-op loss in compiled steps)."""
    x0, t0 = np.zeros((3, 4), np.float32), np.array([1, 4, -100])
    with pytest.raises(ValueError, match="out of bounds"):
        if mode == "eager":
            F.cross_entropy(gc.tensor(x0), gc.tensor(t0))
        else:
            x, t = gc.placeholder((3, 4), name="x"), gc.placeholder((3,), gc.int64, name="t")
            gc.compile(F.cross_entropy(x, t), [x, t], target=mode)(x0, t0)
