"""Small graphs shared by the viz tests (built once per test module where possible)."""
import numpy as np
import pytest

import graphc as gc


def build_step():
    """A tiny training step: forward, gradients (graphc.grad) and variable updates."""
    x = gc.placeholder((None, 2), name="x")
    w = gc.variable(np.ones((2, 3), np.float32), name="w")
    b = gc.variable(np.zeros(3, np.float32), name="b")
    loss = gc.tanh(x @ w + b).square().mean()
    gw, gb = gc.grad(loss, [w, b])
    return x, w, b, loss, gw, gb


@pytest.fixture
def step_exe():
    x, w, b, loss, gw, gb = build_step()
    return gc.compile(loss, inputs=[x], updates={w: w - 0.1 * gw, b: b - 0.1 * gb}, target="reference")


@pytest.fixture
def eager_loss():
    w = gc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w.name = "w"
    x = gc.tensor(np.ones((4, 2), np.float32))
    return gc.tanh(x @ w).square().mean()
