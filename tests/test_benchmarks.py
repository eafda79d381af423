"""The benchmark suite's --quick smoke run: every workload runs at toy size and the outputs
(Markdown, JSON, PNG) are written. No timing is asserted."""
import json
import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # benchmarks/ is a top-level folder of the repository, not installed

from benchmarks import run  # noqa: E402
from benchmarks.harness import EAGER, STATIC  # noqa: E402


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results = run.main(["--quick", "--out", str(out), "--frameworks", ""])
    return out, results


def test_every_workload_runs_graphc_static_and_eager(quick_run):
    _, results = quick_run
    by_key = {(m.workload, m.system, m.metric): m for m in results}
    for workload in ("W1", "W2", "W3", "W4"):
        for system in (STATIC, EAGER):
            m = by_key[(workload, system, "step")]
            assert math.isfinite(m.median_s) and m.median_s > 0, (workload, system, m.note)
    assert math.isfinite(by_key[("W3", STATIC, "inference b8")].median_s)
    assert math.isfinite(by_key[("W5", STATIC, "chain")].median_s)
    assert by_key[("W5", STATIC, "chain")].extra["GB/s"] > 0
    assert math.isfinite(by_key[("W6", EAGER, "op")].median_s)
    assert math.isfinite(by_key[("W6", EAGER + " (grad)", "op")].median_s)
    assert math.isfinite(by_key[("W9", EAGER, "step")].median_s), by_key[("W9", EAGER, "step")].note
    for kind in ("cold compile", "warm compile"):
        assert math.isfinite(by_key[("W7", STATIC, kind)].median_s), by_key[("W7", STATIC, kind)].note
    run_row = by_key[("W1", STATIC, "1,000-step run")]
    assert "final loss" in run_row.note


def test_outputs_are_written_and_consistent(quick_run):
    out, results = quick_run
    table = (out / "results.md").read_text()
    assert "| W1 | step | graphc static |" in table and "| target | measured (medians) |" in table
    data = json.loads((out / "results.json").read_text())
    assert len(data["measurements"]) == len(results)
    assert data["meta"]["quick"] is True and data["meta"]["machine"]["cores"] >= 1
    assert {t["workload"] for t in data["targets"]} >= {"W1", "W5", "W7"}
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_other_frameworks_when_installed(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    results = run.main(["--quick", "--only", "W1", "--out", str(tmp_path), "--no-chart"])
    systems = {m.system: m for m in results if m.metric == "step"}
    for name in ("torch eager", "jax jit"):
        assert math.isfinite(systems[name].median_s), systems[name].note


def test_w10_runs_only_when_named_and_skips_cleanly_without_mpi(tmp_path, monkeypatch):
    from benchmarks import data_parallel
    assert "W10" not in run.ALL  # it starts MPI jobs: never part of the default run
    monkeypatch.setattr(data_parallel, "_mpiexec", lambda: None)
    results = run.main(["--quick", "--only", "W10", "--out", str(tmp_path), "--no-chart"])
    assert [(m.workload, math.isnan(m.median_s)) for m in results] == [("W10", True)]
    assert "mpi" in results[0].note.lower()
    assert "W10" in (tmp_path / "results.md").read_text()


def test_unknown_workload_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="W99"):
        run.main(["--quick", "--only", "W99", "--out", str(tmp_path)])


def test_w9_models_agree_with_torch():
    """The W9 ResNet block stacks of graphc and PyTorch start from the same weights and give
    the same loss (so the benchmark compares the same computation)."""
    torch = pytest.importorskip("torch")
    import numpy as np
    from benchmarks import resnet_block as R
    from benchmarks.harness import Settings
    size = R._size(Settings(quick=True))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size["batch"], 3, size["image"], size["image"])).astype(np.float32)
    y = rng.integers(0, 10, size["batch"]).astype(np.int64)
    import graphc as gc
    weights = R._weights(R._build(gc.nn, size["channels"], size["blocks"]), seed=1)
    g_step, t_step = R._graphc_step(size, weights, x, y), R._torch_step(torch, size, weights, x, y)
    for _ in range(2):  # the second loss follows one SGD step with momentum
        g, t = float(g_step().item()), float(t_step().item())
        assert abs(g - t) <= 1e-4 * max(1.0, abs(t)), (g, t)


def test_compile_scaling_smoke_the_kernel_count_does_not_grow_with_depth():
    """W8 at toy sizes (cold and warm processes). No time is asserted: only that every run
    succeeds and that a deeper stack of identical layers needs no new kernel."""
    from benchmarks import compile_scaling
    results = compile_scaling.main(["--quick", "--models", "mlp", "--frameworks", ""])
    cold = {m.metric: m.extra["cold"] for m in results if m.extra.get("cold")}
    assert set(cold) == {"mlp depth=2", "mlp depth=3"}, [m.note for m in results]
    assert all(math.isfinite(c["first_cpu_s"]) for c in cold.values())
    kernels = {k: c["report"]["functions"] for k, c in cold.items()}
    calls = {k: c["report"]["calls"] for k, c in cold.items()}
    assert kernels["mlp depth=2"] == kernels["mlp depth=3"], kernels
    assert calls["mlp depth=3"] > calls["mlp depth=2"], calls
    warm = [m for m in results if m.metric.endswith("warm")]
    assert len(warm) == 2 and all(math.isfinite(m.median_s) for m in warm)


def test_tutorial_pairs_runs_each_example_under_both_libraries():
    """The example programs, as written, under graphc and under PyTorch itself (a few steps
    each): both finish with a finite loss; no time is asserted."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")  # (digits_cnn's bundled digits)
    from benchmarks import tutorial_pairs
    runs = tutorial_pairs.measure(rounds=1, threads=1, quick=True)
    for program, by in runs.items():
        for library, results in by.items():
            assert len(results) == 1 and math.isfinite(results[0]["loss"]), (program, library)
    assert "| digits_cnn |" in tutorial_pairs.table(runs)
