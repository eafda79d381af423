"""Cross-checks against PyTorch itself, when it is installed (it is optional: skipped
otherwise). Same weights in, same numbers out: layers, losses, gradients, optimizers."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.optim as optim

torch = pytest.importorskip("torch")
tnn = torch.nn

rng = np.random.default_rng(0)


def copy_weights(ours, theirs):
    """Give PyTorch's module our parameters (float64), by the same qualified names."""
    ours = ours.double()
    theirs = theirs.double()
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
    return ours, theirs


def compare(ours, theirs, *inputs, grad=True):
    ours, theirs = copy_weights(ours, theirs)
    xs = [gc.tensor(a, requires_grad=a.dtype.kind == "f" and grad) for a in inputs]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and grad) for a in inputs]
    out, ref = ours(*xs), theirs(*ts)
    out = out[0] if isinstance(out, tuple) else out
    ref = ref[0] if isinstance(ref, tuple) else ref
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9,
                               atol=1e-10)
    if not grad:
        return
    w = rng.standard_normal(ref.shape)
    (out * gc.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                   rtol=1e-8, atol=1e-10, err_msg=name)
    for x, t in zip(xs, ts):
        if t.grad is not None:  # (elu's rule works from its output: ~1e-8 relative error)
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name,args", [
    ("ReLU6", ()), ("SELU", ()), ("CELU", (0.7,)), ("GELU", ("tanh",)), ("LogSigmoid", ()),
    ("Hardshrink", (0.4,)), ("Softshrink", (0.4,)), ("Softsign", ()), ("Softplus", (2.0, 5.0)),
    ("Tanhshrink", ()), ("Threshold", (0.2, -1.0)), ("Softmin", (1,)), ("LogSoftmax", (1,)),
    ("ELU", (0.5,)), ("LeakyReLU", (0.1,)), ("Hardtanh", (-0.3, 0.6)),
])
def test_activations(name, args):
    compare(getattr(nn, name)(*args), getattr(tnn, name)(*args), rng.standard_normal((4, 5)) * 2)


def test_layers():
    compare(nn.Linear(5, 3), tnn.Linear(5, 3), rng.standard_normal((4, 5)))
    compare(nn.PReLU(3), tnn.PReLU(3), rng.standard_normal((2, 3, 4)))
    compare(nn.Conv2d(2, 4, 3, stride=2, padding=1), tnn.Conv2d(2, 4, 3, stride=2, padding=1),
            rng.standard_normal((2, 2, 7, 7)))
    compare(nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
            tnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
            rng.standard_normal((1, 3, 4, 4)))
    compare(nn.BatchNorm2d(3), tnn.BatchNorm2d(3), rng.standard_normal((4, 3, 2, 2)))
    compare(nn.LayerNorm(5), tnn.LayerNorm(5), rng.standard_normal((3, 5)))
    compare(nn.Embedding(7, 3), tnn.Embedding(7, 3), rng.integers(0, 7, (2, 4)))
    compare(nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True),
            tnn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True),
            rng.standard_normal((2, 5, 3)))
    compare(nn.LSTM(3, 4, num_layers=2), tnn.LSTM(3, 4, num_layers=2),
            rng.standard_normal((5, 2, 3)))


def test_batch_norm_running_statistics():
    ours, theirs = copy_weights(nn.BatchNorm1d(3, momentum=0.2), tnn.BatchNorm1d(3, momentum=0.2))
    for _ in range(3):
        x = rng.standard_normal((6, 3))
        ours(gc.tensor(x))
        theirs(torch.from_numpy(x))
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses(reduction):
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    idx = np.array([0, 3, -100, 1, 2])
    w = np.array([0.5, 2.0, 1.0, 1.5])
    probs = np.abs(rng.standard_normal((5, 4)))
    probs /= probs.sum(1, keepdims=True)
    sig = 1 / (1 + np.exp(-x))
    cases = [
        ("MSELoss", {}, x, y), ("L1Loss", {}, x, y), ("SmoothL1Loss", {"beta": 0.7}, x, y),
        ("HuberLoss", {"delta": 0.7}, x, y),
        ("CrossEntropyLoss", {"weight": w, "label_smoothing": 0.1}, x, idx),
        ("CrossEntropyLoss", {"label_smoothing": 0.2}, x, probs),
        ("NLLLoss", {"weight": w}, x, idx),
        ("BCELoss", {}, sig, probs),
        ("BCEWithLogitsLoss", {"pos_weight": w}, x, probs),
    ]
    for name, kw, a, b in cases:
        ours_kw = {k: gc.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        theirs_kw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                     for k, v in kw.items()}
        ga, ta = gc.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out = getattr(nn, name)(reduction=reduction, **ours_kw)(ga, gc.tensor(b))
        ref = getattr(tnn, name)(reduction=reduction, **theirs_kw)(ta, torch.from_numpy(b))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9,
                                   err_msg=name)
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
])
def test_optimizers_step_for_step(name, kwargs):
    ours, theirs = copy_weights(nn.Linear(3, 2), tnn.Linear(3, 2))
    opt, ref = getattr(optim, name)(ours.parameters(), **kwargs), \
        getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    sched = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    ref_sched = torch.optim.lr_scheduler.StepLR(ref, 2, 0.5)
    for _ in range(5):
        x = rng.standard_normal((4, 3))
        for model, o, s, lib in ((ours, opt, sched, gc), (theirs, ref, ref_sched, torch)):
            o.zero_grad()
            (model(lib.tensor(x)) ** 2).mean().backward()
            o.step()
            s.step()
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
