"""NAdam, RAdam, Adamax, Rprop, ASGD, LBFGS and the lr schedulers: the same trajectories as
PyTorch (when installed), compiled steps equal to eager ones, and NumPy references."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.optim as optim
from graphc.errors import UnsupportedError
from graphc.optim import lr_scheduler as sched

A = np.array([[1.0, 2.0, 0.5], [3.0, 0.2, 1.5]])
B = np.array([[0.3, -1.0, 2.0], [-0.5, 0.1, 0.0]])
P0 = np.array([[0.5, -0.2, 1.0], [2.0, -1.5, 0.3]])
Q0 = np.array([0.7, -0.4])
STEPS = 7

CASES = [
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.9), weight_decay=0.1)),  # rho_t > 5 from step 6
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=0.1)),
    ("Adamax", dict(lr=0.1, betas=(0.7, 0.8), weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.1)),
    ("Rprop", dict(lr=0.3, etas=(0.3, 1.5), step_sizes=(0.01, 0.4))),
    ("ASGD", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adafactor", dict(lr=0.1)),
    ("Adafactor", dict(lr=0.3, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=1.5, weight_decay=0.1,
                       maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def loss_of(p, q, lib):
    return (0.5 * lib(A) * p * p + lib(B) * p).sum() + (q * q).sum()


def graphc_trajectory(name, kwargs, compiled):
    p, q = gc.tensor(P0, requires_grad=True), gc.tensor(Q0, requires_grad=True)
    opt = getattr(optim, name)([p, q], **kwargs)
    out = []
    if compiled:
        a, b = gc.placeholder(A.shape, gc.float64, "a"), gc.placeholder(B.shape, gc.float64, "b")
        one = gc.placeholder((), gc.float64, "one")
        loss = gc.sum(0.5 * a * p * p + b * p) + gc.sum(one * q * q)
        step = gc.compile(loss, inputs=[a, b, one], updates=opt.updates(loss),
                          target="reference")
    for _ in range(STEPS):
        if compiled:
            step(A, B, 1.0)
        else:
            opt.zero_grad()
            loss_of(p, q, gc.tensor).backward()
            opt.step()
        out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    return out


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_compiled_steps_equal_eager_steps(name, kwargs):
    for (ep, eq), (cp, cq) in zip(graphc_trajectory(name, kwargs, False),
                                  graphc_trajectory(name, kwargs, True)):
        np.testing.assert_allclose(cp, ep, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cq, eq, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_eager_steps_match_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)  # PyTorch's 0-d state (eta, mu_product) in float64
    try:
        p, q = torch.tensor(P0, requires_grad=True), torch.tensor(Q0, requires_grad=True)
        opt = getattr(torch.optim, name)([p, q], **kwargs)
        expected = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss_of(p, q, torch.tensor).backward()
            opt.step()
            expected.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    finally:
        torch.set_default_dtype(torch.float32)
    for k, ((ep, eq), (gp, gq)) in enumerate(zip(expected, graphc_trajectory(name, kwargs,
                                                                             False))):
        np.testing.assert_allclose(gp, ep, rtol=1e-10, atol=1e-12, err_msg=f"step {k}")
        np.testing.assert_allclose(gq, eq, rtol=1e-10, atol=1e-12, err_msg=f"step {k}")


def test_rprop_numpy_reference():
    p = gc.tensor(P0, requires_grad=True)
    opt = optim.Rprop([p], lr=0.1)
    ref, prev, size = P0.copy(), np.zeros_like(P0), np.full_like(P0, 0.1)
    for _ in range(STEPS):
        opt.zero_grad()
        gc.sum(0.5 * gc.tensor(A) * p * p + gc.tensor(B) * p).backward()
        opt.step()
        g = A * ref + B
        prod = g * prev
        size = np.clip(size * np.where(prod > 0, 1.2, np.where(prod < 0, 0.5, 1.0)), 1e-6, 50)
        g = np.where(prod < 0, 0.0, g)
        ref, prev = ref - np.sign(g) * size, g
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-12)


def test_differentiable_is_refused():
    p = gc.tensor(P0, requires_grad=True)
    for name in ("SGD", "Adam", "NAdam", "Rprop", "ASGD"):
        with pytest.raises(UnsupportedError, match="differentiable"):
            getattr(optim, name)([p], differentiable=True)
    optim.Adam([p], foreach=True, fused=False, capturable=True)  # accepted (test_compiled_step)


def test_compiled_hyperparameters_cannot_change_silently():
    p = gc.tensor(P0, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    a = gc.placeholder(A.shape, gc.float64, "a")
    loss = gc.sum(a * p * p)
    opt.updates(loss)
    opt.param_groups[0]["lr"] = 0.01  # fine: a variable of the step
    opt.param_groups[0]["momentum"] = 0.9  # unchanged: fine
    with pytest.raises(UnsupportedError, match="momentum"):
        sched.OneCycleLR(opt, max_lr=0.1, total_steps=10)


# ---- LBFGS -------------------------------------------------------------------------------------
def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_pytorch(line_search):
    torch = pytest.importorskip("torch")
    results = []
    for lib, opt_mod in ((gc, optim), (torch, torch.optim)):
        x = lib.tensor(np.array([-1.2, 1.0]), requires_grad=True)
        opt = opt_mod.LBFGS([x], lr=1 if line_search else 0.05, max_iter=8, history_size=4,
                            line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            loss = _rosenbrock(x[0], x[1])
            loss.backward()
            return loss
        losses = [float(opt.step(closure).detach()) for _ in range(4)]
        results.append((x.detach().numpy().copy(), losses))
    (ours, our_losses), (theirs, their_losses) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-10)


def test_lbfgs_converges_and_refuses_compiled_steps():
    x = gc.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.LBFGS([x], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x[0], x[1])
        loss.backward()
        return loss
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-4)
    with pytest.raises(UnsupportedError, match="eagerly"):
        opt.updates(gc.sum(gc.placeholder((2,), gc.float64) * x))


# ---- schedulers ----------------------------------------------------------------------------------
def _schedules(lib_optim, lib_sched, p):
    def opt(**kw):
        return lib_optim.SGD([p], lr=0.1, momentum=0.9, **kw)
    yield "MultiStepLR", lambda: lib_sched.MultiStepLR(opt(), [2, 5, 5], 0.5), 8
    yield "CosineAnnealingLR", lambda: lib_sched.CosineAnnealingLR(opt(), 4, 0.01), 12
    yield "WarmRestarts", lambda: lib_sched.CosineAnnealingWarmRestarts(opt(), 3, 2, 0.001), 12
    yield "LinearLR", lambda: lib_sched.LinearLR(opt(), 0.2, 0.9, 4), 7
    yield "ConstantLR", lambda: lib_sched.ConstantLR(opt(), 0.25, 3), 6
    yield "PolynomialLR", lambda: lib_sched.PolynomialLR(opt(), 5, 2.0), 7
    yield "MultiplicativeLR", lambda: lib_sched.MultiplicativeLR(opt(), lambda e: 0.9), 5
    yield "StepLR", lambda: lib_sched.StepLR(opt(), 2, 0.3), 7
    yield "ExponentialLR", lambda: lib_sched.ExponentialLR(opt(), 0.8), 5
    yield "OneCycleLR", lambda: lib_sched.OneCycleLR(opt(), 1.0, total_steps=10), 9
    yield "OneCycleLR3", lambda: lib_sched.OneCycleLR(
        opt(), 1.0, total_steps=10, three_phase=True, anneal_strategy="linear"), 9
    yield "CyclicLR", lambda: lib_sched.CyclicLR(opt(), 0.01, 0.1, 2, mode="triangular2"), 10
    yield "CyclicLR_exp", lambda: lib_sched.CyclicLR(opt(), 0.01, 0.1, 3, 2,
                                                      mode="exp_range", gamma=0.9), 10

    def sequential():
        o = opt()
        return lib_sched.SequentialLR(o, [lib_sched.LinearLR(o, 0.1, 1.0, 3),
                                          lib_sched.ExponentialLR(o, 0.9)], [3])
    yield "SequentialLR", sequential, 8

    def chained():
        o = opt()
        return lib_sched.ChainedScheduler([lib_sched.ConstantLR(o, 0.5, 2),
                                           lib_sched.ExponentialLR(o, 0.9)])
    yield "ChainedScheduler", chained, 6


SCHEDULE_NAMES = [name for name, _, _ in _schedules(optim, sched, gc.tensor(Q0,
                                                                              requires_grad=True))]


def _run_schedule(lib, lib_optim, lib_sched, name):
    p = lib.tensor(Q0, requires_grad=True)
    make, steps = {n: (m, s) for n, m, s in _schedules(lib_optim, lib_sched, p)}[name]
    s = make()
    lrs, momenta = [], []
    for _ in range(steps):
        group = s.optimizer.param_groups[0]
        lrs.append(group["lr"])
        momenta.append(group["momentum"])
        s.optimizer.step()
        s.step()
    return lrs, momenta, s.get_last_lr()


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_schedulers_match_pytorch(name):
    torch = pytest.importorskip("torch")
    ours = _run_schedule(gc, optim, sched, name)
    theirs = _run_schedule(torch, torch.optim, torch.optim.lr_scheduler, name)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_reduce_lr_on_plateau_matches_pytorch():
    torch = pytest.importorskip("torch")
    metrics = [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 4, 2, 2, 2]
    out = []
    for lib, lib_optim, lib_sched in ((gc, optim, sched),
                                      (torch, torch.optim, torch.optim.lr_scheduler)):
        opt = lib_optim.SGD([lib.tensor(Q0, requires_grad=True)], lr=1.0)
        s = lib_sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1)
        lrs = []
        for m in metrics:
            s.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        out.append(lrs)
    np.testing.assert_allclose(out[0], out[1])


def test_cosine_schedule_numpy_reference_and_compiled_step_follows_it():
    p = gc.tensor(Q0, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = sched.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    x = gc.placeholder((2,), gc.float64, "x")
    step = gc.compile(gc.sum(x * p), inputs=[x], updates=opt.updates(gc.sum(x * p)),
                      target="reference")
    expected_p = Q0.copy()
    for epoch in range(6):
        lr = 0.01 + (0.1 - 0.01) * (1 + np.cos(np.pi * epoch / 4)) / 2
        np.testing.assert_allclose(opt.param_groups[0]["lr"], lr, rtol=1e-12)
        step(np.ones(2))
        expected_p -= lr
        np.testing.assert_allclose(p.detach().numpy(), expected_p, rtol=1e-12)
        s.step()
