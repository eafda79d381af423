"""Optimizer trajectories vs PyTorch's formulas written out in NumPy, in both modes.

The loss is sum(0.5 * a * p^2 + b * p) (+ a second parameter), so the gradient a * p + b is
known in closed form and the NumPy reference needs no autodiff.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.optim as optim

A = np.array([[1.0, 2.0, 0.5], [3.0, 0.2, 1.5]])
B = np.array([[0.3, -1.0, 2.0], [-0.5, 0.1, 0.0]])
P0 = np.array([[0.5, -0.2, 1.0], [2.0, -1.5, 0.3]])
Q0 = np.array([0.7, -0.4])
STEPS = 5


def grad_of(p, q):
    return A * p + B, 2 * q


# ---- PyTorch's single-tensor algorithms, transcribed ----------------------------------------------
def ref_sgd(p, g, s, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        s["buf"] = g.copy() if "buf" not in s else momentum * s["buf"] + (1 - dampening) * g
        g = g + momentum * s["buf"] if nesterov else s["buf"]
    return p - lr * g


def ref_adagrad(p, g, s, lr, lr_decay=0, weight_decay=0, eps=1e-10,
                initial_accumulator_value=0):
    s["step"] = s.get("step", 0) + 1
    s.setdefault("sum", np.full_like(p, initial_accumulator_value))
    g = g + weight_decay * p
    clr = lr / (1 + (s["step"] - 1) * lr_decay)
    s["sum"] = s["sum"] + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_adadelta(p, g, s, lr, rho=0.9, eps=1e-6, weight_decay=0):
    g = g + weight_decay * p
    sq = s.get("sq", np.zeros_like(p)) * rho + (1 - rho) * g * g
    acc = s.get("acc", np.zeros_like(p))
    delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
    s["sq"], s["acc"] = sq, acc * rho + (1 - rho) * delta * delta
    return p - lr * delta


def ref_rmsprop(p, g, s, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False):
    g = g + weight_decay * p
    s["sq"] = s.get("sq", np.zeros_like(p)) * alpha + (1 - alpha) * g * g
    if centered:
        s["ga"] = s.get("ga", np.zeros_like(p)) * alpha + (1 - alpha) * g
        avg = np.sqrt(s["sq"] - s["ga"] ** 2) + eps
    else:
        avg = np.sqrt(s["sq"]) + eps
    if momentum > 0:
        s["buf"] = s.get("buf", np.zeros_like(p)) * momentum + g / avg
        return p - lr * s["buf"]
    return p - lr * g / avg


def ref_adam(p, g, s, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             decoupled=False):
    b1, b2 = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["step"] = s.get("step", 0) + 1
    s["m"] = s.get("m", np.zeros_like(p)) * b1 + (1 - b1) * g
    s["v"] = s.get("v", np.zeros_like(p)) * b2 + (1 - b2) * g * g
    bc1, bc2 = 1 - b1 ** s["step"], 1 - b2 ** s["step"]
    v = s["v"]
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", np.zeros_like(p)), v)
        v = s["vmax"]
    return p - lr / bc1 * s["m"] / (np.sqrt(v) / np.sqrt(bc2) + eps)


def ref_adamw(p, g, s, lr, weight_decay=1e-2, **kw):
    return ref_adam(p, g, s, lr, weight_decay=weight_decay, decoupled=True, **kw)


CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.5, maximize=True)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.05,
                                      initial_accumulator_value=0.2)),
    (optim.Adadelta, ref_adadelta, dict(lr=0.5)),
    (optim.Adadelta, ref_adadelta, dict(lr=1.0, rho=0.8, weight_decay=0.1)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    (optim.Adam, ref_adam, dict(lr=0.1)),
    (optim.Adam, ref_adam, dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, ref_adamw, dict(lr=0.1)),
    (optim.AdamW, ref_adamw, dict(lr=0.1, weight_decay=0.3, amsgrad=True)),
]
IDS = [f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)]


def reference_trajectory(ref, kwargs):
    kw = {k: v for k, v in kwargs.items() if k != "lr"}
    p, q, sp, sq, out = P0.copy(), Q0.copy(), {}, {}, []
    for _ in range(STEPS):
        gp, gq = grad_of(p, q)
        p, q = ref(p, gp, sp, kwargs["lr"], **kw), ref(q, gq, sq, kwargs["lr"], **kw)
        out.append((p.copy(), q.copy()))
    return out


def make_params():
    return gc.tensor(P0, requires_grad=True), gc.tensor(Q0, requires_grad=True)


def loss_of(p, q):
    return gc.sum(0.5 * A * p * p + B * p) + gc.sum(q * q)


@pytest.mark.parametrize("foreach", [None, False], ids=["compiled", "op_by_op"])
@pytest.mark.parametrize("cls,ref,kwargs", CASES, ids=IDS)
def test_eager_step_follows_pytorch_formulas(cls, ref, kwargs, foreach):
    p, q = make_params()
    opt = cls([p, q], **kwargs, foreach=foreach)
    for k, (ep, eq) in enumerate(reference_trajectory(ref, kwargs)):
        opt.zero_grad()
        loss_of(p, q).backward()
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ep, rtol=1e-10, atol=1e-12,
                                   err_msg=f"step {k}")
        np.testing.assert_allclose(q.detach().numpy(), eq, rtol=1e-10, atol=1e-12)
    assert bool(opt.param_groups[0].compiled_steps) == (foreach is None)  # (graphc/optim/
    # compiled_step.py: the group's update as one compiled call, or op by op)


@pytest.mark.parametrize("cls,ref,kwargs", CASES, ids=IDS)
def test_compiled_updates_follow_pytorch_formulas(cls, ref, kwargs):
    p, q = make_params()
    opt = cls([p, q], **kwargs)
    a, b = gc.placeholder(A.shape, gc.float64, "a"), gc.placeholder(B.shape, gc.float64, "b")
    one = gc.placeholder((), gc.float64, "one")
    loss = gc.sum(0.5 * a * p * p + b * p) + gc.sum(one * q * q)
    step = gc.compile(loss, inputs=[a, b, one], updates=opt.updates(loss), target="reference")
    for k, (ep, eq) in enumerate(reference_trajectory(ref, kwargs)):
        step(A, B, 1.0)
        np.testing.assert_allclose(p.detach().numpy(), ep, rtol=1e-10, atol=1e-12,
                                   err_msg=f"step {k}")
        np.testing.assert_allclose(q.detach().numpy(), eq, rtol=1e-10, atol=1e-12)


def test_param_groups_have_their_own_hyperparameters():
    p, q = make_params()
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["momentum"] == 0.9
    loss_of(p, q).backward()
    opt.step()
    gp, gq = grad_of(P0, Q0)
    np.testing.assert_allclose(p.detach().numpy(), P0 - 0.1 * gp)
    np.testing.assert_allclose(q.detach().numpy(), Q0 - 0.5 * gq)


def test_parameters_the_loss_does_not_use_are_left_alone():
    p, q = make_params()
    opt = optim.AdamW([p, q], lr=0.1, weight_decay=0.5)
    gc.sum(p * p).backward()
    opt.step()
    np.testing.assert_array_equal(q.detach().numpy(), Q0)
    assert q not in opt.state
    x = gc.placeholder((), gc.float64, "x")
    loss = gc.sum(p * x)
    updates = opt.updates(loss)
    assert q not in updates and p in updates
    gc.compile(loss, inputs=[x], updates=updates, target="reference")(1.0)
    np.testing.assert_array_equal(q.detach().numpy(), Q0)


@pytest.mark.parametrize("compiled", [False, True])
def test_step_lr_schedule_reaches_compiled_steps(compiled):
    p = gc.tensor([1.0, -2.0], dtype=gc.float64, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x = gc.placeholder((), gc.float64, name="x")
    loss = gc.sum(p * x)
    step = gc.compile(loss, inputs=[x], updates=opt.updates(loss), target="reference")
    lrs, value = [], np.array([1.0, -2.0])
    for epoch in range(5):
        lrs.append(sched.get_last_lr()[0])
        if compiled:
            step(1.0)
        else:
            opt.zero_grad()
            (gc.sum(p) * 1.0).backward()
            opt.step()
        value = value - lrs[-1]
        sched.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    np.testing.assert_allclose(p.detach().numpy(), value)


def test_exponential_lr():
    p = gc.tensor([1.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    for _ in range(3):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.9 ** 3)
    assert float(opt.param_groups[0].lr_tensor.item()) == pytest.approx(0.1 * 0.9 ** 3)


def test_state_dict_round_trip_continues_identically():
    p, q = make_params()
    opt = optim.Adam([p, q], lr=0.1, amsgrad=True)
    for _ in range(2):
        opt.zero_grad()
        loss_of(p, q).backward()
        opt.step()
    saved = opt.state_dict()
    assert sorted(saved["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert saved["param_groups"][0]["params"] == [0, 1]
    p2, q2 = gc.tensor(p.detach().numpy().copy(), requires_grad=True), \
        gc.tensor(q.detach().numpy().copy(), requires_grad=True)
    opt2 = optim.Adam([p2, q2], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.1
    for o, a, b in ((opt, p, q), (opt2, p2, q2)):
        o.zero_grad()
        loss_of(a, b).backward()
        o.step()
    np.testing.assert_array_equal(p.detach().numpy(), p2.detach().numpy())


def test_bad_arguments_are_clear_errors():
    p = gc.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="require grad"):
        optim.SGD([gc.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="symbolic loss"):
        optim.SGD([p], lr=0.1).updates(gc.sum(p))
    # an eagerly computed term would hide the parameters from the graph: refused
    x = gc.placeholder((), gc.float32, "x")
    with pytest.raises(gc.GraphcError, match="computed eagerly"):
        optim.SGD([p], lr=0.1).updates(gc.sum(p * p) + x)
