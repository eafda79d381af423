"""Every layer: forward vs NumPy, gradients vs finite differences, eager == static."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
from layer_check import check_layer

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


def sigmoid(x):
    return scipy.special.expit(x)


# ---- activations: (module, numpy reference) --------------------------------------------------------
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.SELU(), lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    (nn.CELU(1.5), lambda x: np.maximum(x, 0) + np.minimum(0, 1.5 * np.expm1(x / 1.5))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                        * (x + 0.044715 * x ** 3)))),
    (nn.Sigmoid(), sigmoid),
    (nn.LogSigmoid(), lambda x: np.log(sigmoid(x))),
    (nn.Tanh(), np.tanh),
    (nn.Hardtanh(-0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    (nn.Hardshrink(0.3), lambda x: np.where(np.abs(x) > 0.3, x, 0)),
    (nn.Softshrink(0.3), lambda x: np.where(x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0))),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Softplus(beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.Threshold(0.1, -2.0), lambda x: np.where(x > 0.1, x, -2.0)),
    (nn.SiLU(), lambda x: x * sigmoid(x)),
    (nn.Softmax(dim=1), lambda x: scipy.special.softmax(x, axis=1)),
    (nn.Softmin(dim=1), lambda x: scipy.special.softmax(-x, axis=1)),
    (nn.LogSoftmax(dim=1), lambda x: scipy.special.log_softmax(x, axis=1)),
]


@pytest.mark.parametrize("module,ref", ACTIVATIONS, ids=[type(m).__name__ + str(i)
                                                         for i, (m, _) in enumerate(ACTIVATIONS)])
def test_activation(module, ref):
    x = randn(3, 4) * 2
    check_layer(module, [x], lambda p, x: ref(x))


def test_prelu_per_channel():
    m = nn.PReLU(3)
    m.weight.data = gc.tensor([0.1, 0.25, -0.3])
    x = randn(2, 3, 2)
    check_layer(m, [x], lambda p, x: np.where(x > 0, x, p["weight"][None, :, None] * x))


def test_linear():
    m = nn.Linear(4, 3)
    check_layer(m, [randn(5, 4)], lambda p, x: x @ p["weight"].T + p["bias"])
    m = nn.Linear(4, 2, bias=False)
    check_layer(m, [randn(2, 3, 4)], lambda p, x: x @ p["weight"].T)


def test_embedding():
    m = nn.Embedding(6, 3)
    idx = np.array([[0, 5, 2], [2, 2, 1]])
    check_layer(m, [idx], lambda p, i: p["weight"][i])
    m = nn.Embedding(6, 3, padding_idx=1)
    assert np.all(m.weight.detach().numpy()[1] == 0)
    out = m(gc.tensor(idx))
    out.sum().backward()
    assert np.all(m.weight.grad.numpy()[1] == 0)
    assert np.all(m.weight.grad.numpy()[2] == 3)  # index 2 appears three times


def test_flatten_and_unflatten():
    x = randn(2, 3, 4)
    check_layer(nn.Flatten(), [x], lambda p, x: x.reshape(2, 12))
    check_layer(nn.Unflatten(1, (2, 6)), [x.reshape(2, 12)], lambda p, x: x.reshape(2, 2, 6))


def _batch_norm_reference(x, weight, bias, eps=1e-5):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    mean, var = x.mean(dims, keepdims=True), x.var(dims, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 2)),
                                       (nn.BatchNorm2d, (2, 3, 2, 2))])
def test_batch_norm_training(cls, shape):
    m = cls(3)
    m.weight.data = gc.tensor(randn(3))
    m.bias.data = gc.tensor(randn(3))
    x = randn(*shape)
    check_layer(m, [x], lambda p, x: _batch_norm_reference(x, p["weight"], p["bias"]),
                check_static=False, atol=1e-5)


def test_batch_norm_running_stats_eager_and_compiled_agree():
    x1, x2 = randn(5, 3) * 2 + 1, randn(5, 3)
    eager, static = nn.BatchNorm1d(3, momentum=0.3).double(), nn.BatchNorm1d(3, momentum=0.3).double()
    for x in (x1, x2):
        eager(gc.tensor(x))
    ph = gc.placeholder((None, 3), gc.float64, name="x")
    out = static(ph)
    updates = static.buffer_updates()
    assert set(map(id, updates)) == {id(static.running_mean), id(static.running_var),
                                     id(static.num_batches_tracked)}
    step = gc.compile(out, inputs=[ph], updates=updates, target="reference")
    for x in (x1, x2):
        step(x)
    mean, var = np.zeros(3), np.ones(3)
    for x in (x1, x2):  # PyTorch's update: unbiased batch variance, momentum 0.3
        mean = 0.7 * mean + 0.3 * x.mean(0)
        var = 0.7 * var + 0.3 * x.var(0, ddof=1)
    for m in (eager, static):
        np.testing.assert_allclose(m.running_mean.numpy(), mean, rtol=1e-12)
        np.testing.assert_allclose(m.running_var.numpy(), var, rtol=1e-12)
        assert m.num_batches_tracked.item() == 2
    # eval mode normalizes with the running statistics, in both modes
    eager.eval()
    x = randn(4, 3)
    expected = (x - mean) / np.sqrt(var + 1e-5)
    expected = expected * eager.weight.detach().numpy() + eager.bias.detach().numpy()
    check_layer(eager, [x], lambda p, x: expected)


def test_layer_norm():
    m = nn.LayerNorm(4)
    m.weight.data = gc.tensor(randn(4))
    x = randn(3, 4)
    ref = lambda p, x: ((x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
                        * p["weight"] + p["bias"])  # noqa: E731
    check_layer(m, [x], ref, atol=1e-5)


def _rnn_reference(p, x, layers, cell, batch_first, state_count):
    seq = x.transpose(1, 0, 2) if batch_first else x
    finals = []
    for k in range(layers):
        w_ih, w_hh = p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"]
        b = p[f"bias_ih_l{k}"] + p[f"bias_hh_l{k}"]
        state = [np.zeros((seq.shape[1], w_hh.shape[1]))] * state_count
        outs = []
        for t in range(seq.shape[0]):
            state = cell(seq[t] @ w_ih.T + state[0] @ w_hh.T + b, state)
            outs.append(state[0])
        seq = np.stack(outs)
        finals.append(state)
    out = seq.transpose(1, 0, 2) if batch_first else seq
    return [out] + [np.stack([f[i] for f in finals]) for i in range(state_count)]


def _lstm_cell(pre, state):
    i, f, g, o = np.split(pre, 4, axis=-1)
    c = sigmoid(f) * state[1] + sigmoid(i) * np.tanh(g)
    return [sigmoid(o) * np.tanh(c), c]


@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn(batch_first):
    m = nn.RNN(3, 4, num_layers=2, batch_first=batch_first)
    x = randn(2, 3, 3)
    check_layer(m, [x], lambda p, x: _rnn_reference(
        p, x, 2, lambda pre, s: [np.tanh(pre)], batch_first, 1), atol=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm(batch_first):
    m = nn.LSTM(2, 3, batch_first=batch_first)
    x = randn(2, 3, 2)
    check_layer(m, [x], lambda p, x: _rnn_reference(p, x, 1, _lstm_cell, batch_first, 2))


def test_lstm_with_initial_state():
    m = nn.LSTM(2, 3).double()
    x, h0, c0 = randn(4, 2, 2), randn(1, 2, 3), randn(1, 2, 3)
    out, (h, c) = m(gc.tensor(x), (gc.tensor(h0), gc.tensor(c0)))
    p = {k: v.detach().numpy() for k, v in m.named_parameters()}
    state = [h0[0], c0[0]]
    for t in range(4):
        pre = x[t] @ p["weight_ih_l0"].T + state[0] @ p["weight_hh_l0"].T + p["bias_ih_l0"] \
            + p["bias_hh_l0"]
        state = _lstm_cell(pre, state)
    np.testing.assert_allclose(h.detach().numpy()[0], state[0], atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy()[0], state[1], atol=1e-12)


# ---- convolution and pooling layers (their ops are tested in tests/ops) -------------------------------
def _conv2d_reference(x, w, b, stride=1, padding=0):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


def test_conv2d():
    m = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = randn(2, 2, 5, 5)
    check_layer(m, [x], lambda p, x: _conv2d_reference(x, p["weight"], p["bias"], 2, 1))


def test_conv_transpose2d_is_the_gradient_of_conv2d():
    m = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False)
    y = randn(1, 3, 3, 3)

    def ref(p, y):  # conv_transpose(y) = d/dx <conv(x), y>: conv2d's input gradient
        w = p["weight"]  # (in=3, out=2, kh, kw) plays conv2d's (out, in, kh, kw)
        x = np.zeros((1, 2, 5, 5))
        out = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            x[idx] = 1
            out[idx] = np.sum(_conv2d_reference(x, w, None, 2, 1) * y)
            x[idx] = 0
        return out
    check_layer(m, [y], ref)


def test_pooling_layers():
    x = randn(2, 2, 4, 4)
    check_layer(nn.MaxPool2d(2), [x],
                lambda p, x: x.reshape(2, 2, 2, 2, 2, 2).max(axis=(3, 5)))
    check_layer(nn.AvgPool2d(2), [x],
                lambda p, x: x.reshape(2, 2, 2, 2, 2, 2).mean(axis=(3, 5)))
    check_layer(nn.AdaptiveAvgPool2d(1), [x], lambda p, x: x.mean(axis=(2, 3), keepdims=True))


def test_dropout_train_and_eval():
    m = nn.Dropout(0.5)
    x = gc.ones(200, 10)
    gc.manual_seed(0)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    m.eval()
    assert m(x) is x
    # a compiled step advances the shared random counter by itself (no update to pass)
    m.train()
    ph = gc.placeholder((None, 10), name="x")
    out = m(ph)
    assert m.buffer_updates() == {}
    run = gc.compile(out, inputs=[ph], target="reference")
    a, b = run(x.numpy()).numpy(), run(x.numpy()).numpy()
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)
