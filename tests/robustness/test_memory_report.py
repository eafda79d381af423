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


def test_memory_benchmark_quick_smoke():
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--quick", "--models",
                          "mlp", "--steps", "2"], cwd=root, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert "planned/unplanned" in out.stdout
    for system in ("graphc static", "graphc eager"):
        line = next(x for x in out.stdout.splitlines() if x.startswith(system + " "))
        assert "failed" not in line and line.count("MB") >= 3, out.stdout


def _overlapping_temps(plan):
    """Pairs of work-arena values alive at the same step that share bytes (must be none)."""
    last_read, first = {}, {}
    for i, s in enumerate(plan.steps):
        for v in s.reads:
            last_read[plan.layouts[v].root] = i
        for v in (s.node.outputs if s.node is not None else (s.dst,)):
            first.setdefault(v, i)
    temps = [(v, st) for v, st in plan.storage.items() if st.kind == "temp"]
    bad = []
    for k, (a, sa) in enumerate(temps):
        for b, sb in temps[k + 1:]:
            alive = first[a] <= last_read.get(b, first[b]) and first[b] <= last_read.get(a, first[a])
            shared = (sa.dtype is sb.dtype and sa.offset < sb.offset + sb.size
                      and sb.offset < sa.offset + sa.size and sa.size and sb.size)
            if alive and shared:
                bad.append((a, b))
    return bad


def test_arena_values_alive_together_never_share_bytes():
    from graphc.passes import run_pipeline
    from graphc.testing import fuzz
    from graphc.types import TensorType
    gc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 3))
    x = gc.placeholder((5, 1, 8, 8), name="x")
    y = gc.placeholder((5,), gc.int64, name="y")
    loss = F.cross_entropy(model(x), y)
    opt = optim.Adadelta(model.parameters(), lr=1.0)
    step = gc.compile(loss, [x, y], updates=opt.updates(loss), target="reference")
    graphs = [(step.graph, step.updates)]
    for first in range(0, 100, 20):
        outputs, ps = [], []
        for seed in range(first, first + 20):
            arrays, program = fuzz.make_program(seed, 8, 0.0)
            p = [gc.placeholder(a.shape, gc.float64) for a in arrays]
            out = fuzz.loss_of(fuzz.run_program(program, p))
            outputs += [out, *gc.grad(out, p)]
            ps += p
        graphs.append((gc.compile(outputs, ps, target="reference").graph, []))
    for graph, updates in graphs:
        types = {p: TensorType(p.shape, p.dtype) for p in graph.inputs}
        plan = run_pipeline(graph, input_types=types, updates=updates).memory
        assert plan.arena_sizes
        assert _overlapping_temps(plan) == []
    for st in plan.storage.values():  # the check itself finds a plan that overlaps
        st.offset = 0
    assert _overlapping_temps(plan)
