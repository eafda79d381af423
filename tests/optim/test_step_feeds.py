"""Optimizer.step's own work around the compiled program: the gradients reach the program
whether they are new arrays each step (zero_grad()) or the same arrays accumulated in place
(zero_grad(set_to_none=False)), and step() runs under no_grad, restoring the mode after."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.optim as optim
from graphc.errors import UnsupportedError

rng = np.random.default_rng(3)
P0 = rng.standard_normal((3, 4)).astype(np.float32)
Q0 = rng.standard_normal(4).astype(np.float32)
A = rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32)


def trajectory(set_to_none, **choice):
    """Parameters after each of 6 steps; set_to_none: one bool, or one per step."""
    p, q = gc.tensor(P0, requires_grad=True), gc.tensor(Q0, requires_grad=True)
    opt = optim.SGD([p, q], lr=0.1, momentum=0.5, **choice)
    out = []
    for k in range(6):
        opt.zero_grad(set_to_none=set_to_none if isinstance(set_to_none, bool)
                      else set_to_none[k])
        ((gc.tensor(A) * p * p).sum() + (q * q * q).sum() * (k + 1)).backward()
        opt.step()
        out.append((p.detach().numpy().copy(), q.detach().numpy().copy()))
    return opt, out


@pytest.mark.parametrize("set_to_none", [True, False, (True, False, False, True, True, False)],
                         ids=["new-arrays", "in-place", "mixed"])
def test_new_and_reused_gradient_arrays_give_the_op_by_op_numbers(set_to_none):
    opt, compiled = trajectory(set_to_none)
    assert len(opt.param_groups[0].compiled_steps) == 1
    _, op_by_op = trajectory(set_to_none, foreach=False)
    for k, (got, want) in enumerate(zip(compiled, op_by_op)):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=f"step {k}")


def test_step_runs_without_recording_and_restores_the_grad_mode():
    w = gc.tensor(P0, requires_grad=True)
    for choice in ({"foreach": False}, {}):
        opt = optim.SGD([w], lr=0.1, **choice)
        (w * w).sum().backward()
        opt.step()
        assert w.grad_fn is None and w.requires_grad and gc.is_grad_enabled()
        with gc.no_grad():
            opt.step()
            assert not gc.is_grad_enabled()
    half = gc.tensor(P0.astype(np.float16), requires_grad=True)
    opt = optim.SGD([half], lr=0.1, fused=True)
    (half * half).sum().backward()
    with pytest.raises(UnsupportedError, match="float16"):
        opt.step()
    assert gc.is_grad_enabled()  # (restored after the error too)
