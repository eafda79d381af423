"""Executables on target "cpu" report their memory plan; the plan reuses buffers."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn, optim
from graphc.nn import functional as F


@pytest.fixture(scope="module")
def mlp_step():
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(),
                          nn.Linear(24, 5))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = gc.placeholder((16, 32), name="x")
    y = gc.placeholder((16,), gc.int64, name="y")
    loss = F.cross_entropy(model(x), y)
    exe = gc.compile(loss, [x, y], updates=opt.updates(loss), target="cpu")
    rng = np.random.default_rng(0)
    exe(rng.standard_normal((16, 32)).astype(np.float32), rng.integers(0, 5, 16))
    return exe


def test_report_fields_are_consistent(mlp_step):
    r = mlp_step.memory_report()
    assert r["planned_bytes"] == r["arena_bytes"] + r["output_bytes"]
    assert r["output_bytes"] == 4  # the float32 loss
    assert 0 < r["peak_live_bytes"] <= r["planned_bytes"] < r["unplanned_bytes"]
    assert r["inplace_updates"] == len(mlp_step.updates)  # every Adam update is in place


def test_planned_is_at_most_half_of_unplanned(mlp_step):
    r = mlp_step.memory_report()
    assert r["planned_bytes"] <= 0.5 * r["unplanned_bytes"], r


def test_unplanned_counts_one_buffer_per_computed_value(mlp_step):
    graph = mlp_step._runner.graph
    plan = graph.memory
    expected = sum(v.type.numel() * v.dtype.itemsize for s in plan.steps
                   for v in (s.node.outputs if s.node is not None else (s.dst,)))
    assert mlp_step.memory_report()["unplanned_bytes"] == expected


def test_report_needs_a_compiled_program_and_a_planning_target():
    x = gc.placeholder((3,), name="x")
    exe = gc.compile(x * 2.0, [x], target="cpu")
    with pytest.raises(RuntimeError, match="nothing compiled yet"):
        exe.memory_report()
    exe(np.ones(3, np.float32))
    assert exe.memory_report()["output_bytes"] == 12
    with pytest.raises(NotImplementedError, match="reference"):
        gc.compile(x * 2.0, [x], target="reference").memory_report()
