"""The compiled eager step (graphc/optim/compiled_step.py): a group's update as one compiled
call gives the numbers of the op-by-op step, of the static step and of PyTorch; lr schedules,
hyperparameter changes, missing gradients and replaced state reach it; `foreach` / `fused`
choose it, and what it cannot serve runs op by op (or raises under fused=True)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphc as gc
import graphc.optim as optim
from graphc.errors import UnsupportedError
from graphc.optim import compiled_step

rng = np.random.default_rng(14)
A = rng.uniform(0.2, 2.0, (3, 4)).astype(np.float32)
B = rng.standard_normal((3, 4)).astype(np.float32)
P0 = rng.standard_normal((3, 4)).astype(np.float32)
Q0 = rng.standard_normal(4).astype(np.float32)
STEPS = 4

CASES = [
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.3)),
    ("AdamW", dict(lr=0.1, amsgrad=True)),
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05)),
    ("Adadelta", dict(lr=1.0, rho=0.8, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.9))),  # rho_t > 5 from step 6: both branches
    ("Adamax", dict(lr=0.1, weight_decay=0.1)),
    ("Rprop", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, t0=2)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def params():
    return gc.tensor(P0, requires_grad=True), gc.tensor(Q0, requires_grad=True)


def loss_of(p, q, lib=gc.tensor):
    return (0.5 * lib(A) * p * p + lib(B) * p).sum() + (q * q * q).sum()


def eager_trajectory(name, kwargs, steps=STEPS, **choice):
    p, q = params()
    opt = getattr(optim, name)([p, q], **kwargs, **choice)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(p, q).backward()
        opt.step()
        out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    return opt, out


def assert_trajectories_close(got, want, rtol=2e-6, atol=1e-6):
    for k, (a, b) in enumerate(zip(got, want)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {k}")


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_compiled_step_equals_op_by_op_and_static_steps(name, kwargs):
    opt, compiled = eager_trajectory(name, kwargs)
    assert len(opt.param_groups[0].compiled_steps) == 1  # one program, every step
    opt, op_by_op = eager_trajectory(name, kwargs, foreach=False)
    assert not opt.param_groups[0].compiled_steps
    # (bitwise equal for SGD, RMSprop, Adagrad, Adadelta, RAdam, Rprop, ASGD; Adam, AdamW,
    # NAdam and Adamax differ in a few elements by one float32 ulp)
    assert_trajectories_close(compiled, op_by_op)
    p, q = params()
    opt = getattr(optim, name)([p, q], **kwargs)
    a, b = gc.placeholder(A.shape, gc.float32, "a"), gc.placeholder(B.shape, gc.float32, "b")
    one = gc.placeholder((), gc.float32, "one")  # (a loss of eager q alone: no graph)
    loss = (0.5 * a * p * p + b * p).sum() + (one * q * q * q).sum()
    step = gc.compile(loss, inputs=[a, b, one], updates=opt.updates(loss), target="reference")
    static = []
    for _ in range(STEPS):
        step(A, B, np.float32(1))
        static.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    assert_trajectories_close(compiled, static)


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c[0] in (
    "Adam", "AdamW", "SGD", "RMSprop")], ids=[i for i, c in zip(IDS, CASES) if c[0] in (
        "Adam", "AdamW", "SGD", "RMSprop")])
def test_compiled_step_follows_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    _, compiled = eager_trajectory(name, kwargs)
    p, q = (torch.tensor(x, requires_grad=True) for x in (P0, Q0))
    opt = getattr(torch.optim, name)([p, q], **kwargs)
    for k in range(STEPS):
        opt.zero_grad()
        loss_of(p, q, torch.tensor).backward()
        opt.step()
        for x, y in zip(compiled[k], (p, q)):
            # float32: PyTorch takes Adam's bias corrections in double (a Python float step)
            np.testing.assert_allclose(x, y.detach().numpy(), rtol=1e-5, atol=1e-5,
                                       err_msg=f"step {k}")


def test_lr_schedules_reach_the_program_without_compiling_again():
    kwargs = dict(lr=0.1, momentum=0.9)
    trajectories = []
    for choice in ({}, {"foreach": False}):
        p, q = params()
        opt = optim.SGD([p, q], **kwargs, **choice)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        out = []
        for _ in range(3):
            opt.zero_grad()
            loss_of(p, q).backward()
            opt.step()
            sched.step()
            out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
        trajectories.append(out)
        assert len(opt.param_groups[0].compiled_steps) == (0 if choice else 1)
    assert_trajectories_close(*trajectories)


def run_changing(opt, p, q, changes):
    out = []
    for change in changes:
        opt.param_groups[0].update(change)
        opt.zero_grad()
        loss_of(p, q).backward()
        opt.step()
        out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    return out


def test_changed_hyperparameters_take_effect():
    changes = [{}, {"betas": (0.5, 0.9)}, {"weight_decay": 0.1},
               {"betas": (0.9, 0.999), "weight_decay": 0}]
    p, q = params()
    opt = optim.Adam([p, q], lr=0.1)
    compiled = run_changing(opt, p, q, changes)
    # new betas are new inputs; a weight decay of 0 has no term: two structures
    assert len(opt.param_groups[0].compiled_steps) == 2
    p, q = params()
    op_by_op = run_changing(optim.Adam([p, q], lr=0.1, foreach=False), p, q, changes)
    assert_trajectories_close(compiled, op_by_op)


def test_a_group_whose_rule_structure_keeps_changing_runs_op_by_op():
    # each change adds or drops a term of the rule: a new structure, a new program
    changes = [{}, {"weight_decay": 0.1}, {"maximize": True}, {"nesterov": True},
               {"weight_decay": 0}, {"maximize": False}]
    assert len(changes) > compiled_step.MAX_PROGRAMS
    p, q = params()
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    with pytest.warns(UserWarning, match="op by op from now on"):
        compiled = run_changing(opt, p, q, changes)
    assert len(opt.param_groups[0].compiled_steps) == compiled_step.MAX_PROGRAMS
    p, q = params()
    op_by_op = run_changing(optim.SGD([p, q], lr=0.1, momentum=0.9, foreach=False), p, q,
                            changes)
    assert_trajectories_close(compiled, op_by_op)
    p, q = params()
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9, fused=True)
    with pytest.raises(UnsupportedError, match="structure"):
        run_changing(opt, p, q, changes)


def test_hyperparameters_are_inputs_of_one_program():
    changes = [{"momentum": 0.9 - 0.1 * k, "dampening": 0.05 * k, "weight_decay": 0.01 * (k + 1)}
               for k in range(6)]
    p, q = params()
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    compiled = run_changing(opt, p, q, changes)
    assert len(opt.param_groups[0].compiled_steps) == 1
    p, q = params()
    op_by_op = run_changing(optim.SGD([p, q], lr=0.1, momentum=0.9, foreach=False), p, q,
                            changes)
    assert_trajectories_close(compiled, op_by_op, rtol=0, atol=0)


def test_parameters_without_grad_and_replaced_state():
    p, q = params()
    opt = optim.Adam([p, q], lr=0.1)
    (p * p).sum().backward()  # q has no grad: left alone, no state
    opt.step()
    np.testing.assert_array_equal(q.detach().numpy(), Q0)
    assert q not in opt.state
    opt.state[p]["exp_avg"] = gc.zeros(P0.shape)  # a new state tensor: a new program
    before = p.detach().numpy().copy()
    opt.zero_grad()
    (p * p).sum().backward()
    opt.step()
    # bias-corrected zero first moment after one more step: (1 - beta1) g / (1 - beta1^2)
    m = 0.1 * 2 * before / (1 - 0.9 ** 2)
    v = (0.001 * (2 * P0) ** 2 * 0.999 + 0.001 * (2 * before) ** 2) / (1 - 0.999 ** 2)
    np.testing.assert_allclose(p.detach().numpy(), before - 0.1 * m / (np.sqrt(v) + 1e-8),
                               rtol=1e-5, atol=2e-6)


def test_closure_and_zero_grad_without_none():
    p, q = params()
    opt = optim.SGD([p, q], lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad(set_to_none=False)
        loss = loss_of(p, q)
        loss.backward()
        return loss
    losses = [float(opt.step(closure).item()) for _ in range(3)]
    _, op_by_op = eager_trajectory("SGD", dict(lr=0.1, momentum=0.5), steps=3, foreach=False)
    assert_trajectories_close([(p.detach().numpy(), q.detach().numpy())], op_by_op[-1:])
    assert losses[0] > losses[-1]


def test_foreach_fused_and_the_environment_choose():
    p, q = params()
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        optim.Adam([p, q], foreach=True, fused=True)
    assert optim.Adam([p, q], fused=False).param_groups[0]["fused"] is False
    assert "fused" not in optim.RMSprop([p, q]).param_groups[0]  # as PyTorch's groups


def test_the_environment_turns_the_default_off(monkeypatch):
    monkeypatch.setenv(compiled_step.ENV, "0")
    opt, _ = eager_trajectory("SGD", dict(lr=0.1), steps=1)
    assert not opt.param_groups[0].compiled_steps
    opt, _ = eager_trajectory("SGD", dict(lr=0.1), steps=1, fused=True)
    assert opt.param_groups[0].compiled_steps


def test_what_the_compiled_step_cannot_serve_runs_op_by_op_or_raises_when_fused():
    w = gc.tensor(P0.astype(np.float16), requires_grad=True)
    for choice in ({}, {"fused": True}):
        opt = optim.SGD([w], lr=0.1, **choice)
        (w.float() * w.float()).sum().backward()
        if choice:
            with pytest.raises(UnsupportedError, match="float16"):
                opt.step()
        else:
            opt.step()
            assert not opt.param_groups[0].compiled_steps
    base = gc.tensor(np.zeros(8, np.float32), requires_grad=True)
    view = base.detach()[2:6].requires_grad_()  # a view of another tensor's storage
    opt = optim.SGD([view], lr=1.0)
    view.grad = gc.ones(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert not opt.param_groups[0].compiled_steps
    np.testing.assert_array_equal(base.detach().numpy()[2:6], -1.0)


def test_graphc_jit_traces_the_op_by_op_step():
    p, q = params()
    opt = optim.Adam([p, q], lr=0.1)

    @gc.jit(target="reference")
    def train():
        opt.zero_grad()
        loss_of(p, q).backward()
        opt.step()
    for _ in range(STEPS):
        train()
    assert not opt.param_groups[0].compiled_steps
    _, compiled = eager_trajectory("Adam", dict(lr=0.1))
    assert_trajectories_close([(p.detach().numpy(), q.detach().numpy())], compiled[-1:])


def test_an_lr_written_by_update_reaches_both_paths():
    for choice in ({}, {"foreach": False}):
        p, q = params()
        opt = optim.SGD([p, q], lr=0.1, **choice)
        opt.param_groups[0].update(lr=0.5)  # dict.update would skip the group's lr tensor
        loss_of(p, q).backward()
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), P0 - 0.5 * (A * P0 + B), rtol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_cycle_momentum_feeds_the_program_without_compiling(name):
    kwargs = dict(lr=0.1, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.1)
    trajectories = []
    for choice in ({}, {"foreach": False}):
        p, q = params()
        opt = getattr(optim, name)([p, q], **kwargs, **choice)
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=12)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no switch to op by op)
            for _ in range(6):
                opt.zero_grad()
                loss_of(p, q).backward()
                opt.step()
                sched.step()
                out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
        trajectories.append(out)
        assert len(opt.param_groups[0].compiled_steps) == (0 if choice else 1)
    assert_trajectories_close(*trajectories)


def test_varying_parameters_with_grad_are_not_hyperparameter_changes():
    subsets = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]  # > MAX_PROGRAMS
    results = []
    for choice in ({}, {"foreach": False}):
        ws = [gc.tensor(np.full(2, k + 1.0, np.float32), requires_grad=True) for k in range(3)]
        opt = optim.Adam(ws, lr=0.1, **choice)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no "hyperparameters changed": runs compiled)
            for subset in subsets:
                opt.zero_grad()
                sum((ws[k] * ws[k]).sum() for k in subset).backward()
                opt.step()
        assert len(opt.param_groups[0].compiled_steps) == (0 if choice else len(subsets))
        results.append([w.detach().numpy() for w in ws])
    assert_trajectories_close([results[0]], [results[1]])


def test_a_python_decision_on_a_hyperparameter_is_a_guard_of_the_program():
    # RAdam's rho_inf = 2 / (1 - beta2) - 1 decides on the host whether the variance can be
    # rectified at all: beta2 = 0.6 gives 4 (never), 0.9 gives 19
    changes = [{}, {"betas": (0.5, 0.9)}, {"betas": (0.6, 0.95)}, {"betas": (0.5, 0.6)}]
    p, q = params()
    opt = optim.RAdam([p, q], lr=0.1, betas=(0.5, 0.6))
    compiled = run_changing(opt, p, q, changes * 2)
    assert len(opt.param_groups[0].compiled_steps) == 2
    p, q = params()
    op_by_op = run_changing(optim.RAdam([p, q], lr=0.1, betas=(0.5, 0.6), foreach=False), p, q,
                            changes * 2)
    assert_trajectories_close(compiled, op_by_op)


class Scaled(optim.Optimizer):
    """A user's optimizer whose rule needs a hyperparameter as a Python int."""
    compiled_rule = True

    def __init__(self, params, lr=0.1, scale=2):
        super().__init__(params, dict(lr=lr, scale=scale))

    def rule(self, p, g, state, lr, group):
        return gc.sub(p, gc.mul(gc.mul(g, lr), float(int(group["scale"])))), {}


def test_a_rule_that_needs_a_plain_number_is_traced_with_its_values_baked_in():
    p, q = params()
    opt = Scaled([p, q])
    run_changing(opt, p, q, [{}, {"scale": 3}, {"scale": 2}])
    assert len(opt.param_groups[0].compiled_steps) == 2  # one program per value
    expected = P0 - 0.1 * 2 * (A * P0 + B)
    expected = expected - 0.1 * 3 * (A * expected + B)
    expected = expected - 0.1 * 2 * (A * expected + B)
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-5)


def test_a_deep_copy_of_an_optimizer_compiles_its_own_step():
    import copy
    p, q = params()
    opt = optim.Adam([p, q], lr=0.1)
    run_changing(opt, p, q, [{}])
    twin = copy.deepcopy(opt)  # its own parameters and state
    (p2, q2) = twin.param_groups[0]["params"]
    assert not twin.param_groups[0].compiled_steps
    np.testing.assert_array_equal(run_changing(twin, p2, q2, [{}])[0][0],
                                  run_changing(opt, p, q, [{}])[0][0])
    assert twin.param_groups[0].compiled_last.params[0] is p2
