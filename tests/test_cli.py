"""The graphc command line: through subprocesses for exit codes, in-process for the rest."""
import json
import os
import shutil
import subprocess
import sys
import types

import pytest

from graphc import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # benchmarks/ is a top-level folder of the repository

MODEL = '''
import numpy as np
import graphc as gc

def build():
    x = gc.placeholder((None, 2), name="x")
    w = gc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w.name = "w"
    loss = gc.tanh(x @ w).square().mean()
    return [loss, gc.grad(loss, w)]

def step():
    x = gc.placeholder((4, 2), name="x")
    w = gc.variable(np.ones((2, 3), np.float32), name="w")
    loss = gc.tanh(x @ w).square().mean()
    return gc.compile(loss, updates={w: w - 0.1 * gc.grad(loss, w)}, target="reference")

def tape():
    w = gc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    return gc.tanh(gc.ones(4, 2) @ w).sum()

def cpu_step():
    x = gc.placeholder((8, 2), name="x")
    w = gc.variable(np.ones((2, 3), np.float32), name="w")
    loss = gc.tanh(x @ w).square().mean()
    return gc.compile(loss, updates={w: w - 0.1 * gc.grad(loss, w)}, target="cpu")

def not_a_graph():
    return 42

def boom():
    raise ValueError("bad model")
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "model.py").write_text(MODEL)
    (folder / "broken.json").write_text('{"format": "graphc.graph", "version": 1, "nodes": [')
    (folder / "future.json").write_text('{"format": "graphc.graph", "version": 99, "nodes": []}')
    return folder


def run(work, *args):
    env = dict(os.environ, GRAPHC_VIZ_ENGINE="matplotlib")
    return subprocess.run([sys.executable, "-m", "graphc", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)


def call(work, capsys, *args):
    """main() in this process: (exit code, stdout, stderr)."""
    old = os.getcwd()
    os.chdir(work)
    try:
        code = cli.main(list(args))
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


# ---- through a subprocess: what a shell sees -------------------------------------------------
def test_dump_prints_the_graph(work):
    done = run(work, "dump", "model.py:build")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("graph(%x: f32[?, 2]) {\n  %w = variable('w') : f32[2, 3]\n")
    assert done.stdout.rstrip().endswith("}")


def test_draw_a_compiled_step_to_png(work):
    done = run(work, "draw", "model.py:step", "-o", "step.png", "--compiled")
    assert done.returncode == 0, done.stderr
    assert (work / "step.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args, code, message", [
    (["dump", "missing.json"], 1, "no such file: missing.json"),
    (["dump", "broken.json"], 1, "broken.json is not a valid graph file"),
    (["dump", "model.py"], 2, "names no function: write model.py:FUNCTION"),
    (["frob"], 2, "invalid choice: 'frob'"),
])
def test_errors_have_conventional_exit_codes(work, args, code, message):
    done = run(work, *args)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("graphc") is None, reason="console script not installed")
def test_console_script_is_installed(work):
    done = subprocess.run(["graphc", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("graphc ")


# ---- in-process ----------------------------------------------------------------------------
@pytest.mark.parametrize("command", [[], ["dump"], ["draw"], ["info"], ["cache"],
                                     ["cache", "clear"]])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(command + ["--help"])
    assert stop.value.code == 0
    assert "usage: graphc" in capsys.readouterr().out


@pytest.mark.parametrize("target, code, message", [
    ("model.py:not_a_graph", 1, "not_a_graph() returned int; return a Graph"),
    ("model.py:nope", 1, "has no function 'nope' (functions: boom, build, cpu_step"),
    ("nofile.py:build", 1, "no such file: nofile.py"),
    ("model.py:bad-name", 2, "is not a function name"),
    ("graph.txt", 2, "neither FILE.json nor FILE.py:FUNCTION"),
    ("future.json", 1, "unsupported graph format version 99"),
])
def test_bad_targets(work, capsys, target, code, message):
    got, out, err = call(work, capsys, "dump", target)
    assert got == code and message in err and out == ""


def test_an_error_in_the_users_function_shows_their_traceback(work, capsys):
    code, _, err = call(work, capsys, "dump", "model.py:boom")
    assert code == 1
    assert 'raise ValueError("bad model")' in err and "cli.py" not in err


def test_json_round_trip_through_the_command_line(work, capsys):
    code, text, _ = call(work, capsys, "dump", "model.py:build")
    code2, doc, _ = call(work, capsys, "dump", "model.py:build", "--json")
    assert code == code2 == 0 and json.loads(doc)["format"] == "graphc.graph"
    (work / "saved.json").write_text(doc)
    code3, again, _ = call(work, capsys, "dump", "saved.json")
    assert code3 == 0 and again == text


def test_dump_executable_and_tape(work, capsys):
    code, out, _ = call(work, capsys, "dump", "model.py:step", "--locations")
    assert code == 0 and "updates {\n  %w <- %" in out and "# model.py:" in out
    code, out, _ = call(work, capsys, "dump", "model.py:tape")
    assert code == 0 and out.startswith("tape(") and "# SumBackward0" in out
    code, _, err = call(work, capsys, "dump", "model.py:tape", "--json")
    assert code == 1 and "no JSON form" in err


def test_dump_passes_and_source(work, capsys, monkeypatch):
    code, out, _ = call(work, capsys, "dump", "model.py:build", "--passes")
    assert code == 0 and out.startswith(("== input ==", "# the compiler passes"))
    code, _, err = call(work, capsys, "dump", "model.py:step", "--source")
    assert code == 1 and "generates no source code" in err


def test_source_and_picture_of_a_cpu_executable(work, capsys):
    from graphc.backends import get_target
    try:
        get_target("cpu")
    except ValueError:
        pytest.skip("no cpu target")
    code, out, _ = call(work, capsys, "dump", "model.py:cpu_step", "--source")
    assert code == 0 and "def program(" in out
    code, _, _ = call(work, capsys, "draw", "model.py:cpu_step", "-o", "cpu.dot", "--compiled")
    dot = (work / "cpu.dot").read_text()
    assert code == 0 and "subgraph cluster_k0" in dot and "elementwise kernel" in dot
    assert "in place" in dot  # w is updated in its own storage


def test_draw_formats_and_usage_errors(work, capsys):
    code, out, _ = call(work, capsys, "draw", "model.py:tape", "-o", "tape.dot")
    assert code == 0 and (work / "tape.dot").read_text().startswith("digraph graphc {")
    code, _, err = call(work, capsys, "draw", "model.py:build", "-o", "g.txt")
    assert code == 2 and "picture format" in err
    code, _, err = call(work, capsys, "draw", "model.py:tape", "-o", "t.svg", "--compiled")
    assert code == 1 and "no compiled form" in err
    code, _, err = call(work, capsys, "draw", "model.py:build")
    assert code == 2 and "-o/--output" in err


def test_bench_delegates_with_its_arguments(capsys, monkeypatch):
    seen = []
    fake = types.ModuleType("graphc.bench")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "graphc.bench", fake)
    assert cli.main(["bench", "--", "--quick", "xor"]) == 0
    assert cli.main(["bench", "--quick", "--only", "W1"]) == 0  # no `--` needed
    assert seen == [["--quick", "xor"], ["--quick", "--only", "W1"]]


def _suite_options():
    from benchmarks import run
    for action in run.build_parser()._actions:
        flag = action.option_strings[-1] if action.option_strings else None
        if flag and flag != "--help":
            yield flag, [] if action.nargs == 0 else ["3" if action.type is int else "x"]


@pytest.mark.parametrize("flag, value", list(_suite_options()))
def test_every_benchmark_option_works_after_graphc_bench(capsys, monkeypatch, flag, value):
    from benchmarks import run
    parsed = []
    fake = types.ModuleType("graphc.bench")
    fake.main = lambda argv: parsed.append(run.parse(argv)) or 0  # the suite's own parser
    monkeypatch.setitem(sys.modules, "graphc.bench", fake)
    assert cli.main(["bench", flag, *value]) == 0
    default = run.parse([])
    dest = flag.lstrip("-").replace("-", "_")
    assert getattr(parsed[0], dest) != getattr(default, dest)


def test_bench_help_is_the_suites(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: graphc bench" in out and "--quick" in out


def test_cache_clear_calls_the_runtime(capsys, monkeypatch):
    import runtime
    cleared = []
    fake = types.ModuleType("runtime.cache")
    fake.cache_info = lambda: {"path": "/tmp/c", "modules": 3, "bytes": 2_500_000}
    fake.clear_cache = lambda: cleared.append(True)
    monkeypatch.setitem(sys.modules, "runtime.cache", fake)
    monkeypatch.setattr(runtime, "cache", fake, raising=False)
    assert cli.main(["cache", "clear"]) == 0 and cleared
    assert "compile cache cleared (/tmp/c: 3 programs, 2.5 MB)" in capsys.readouterr().out


def test_info_reports_versions_threads_cache_and_cuda(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("graphc:", "numpy", "threads:", "compile cache:", "cuda:", "targets:"):
        assert key in out


def test_info_says_which_targets_run_here(capsys, monkeypatch):
    import graphc.backends as backends
    monkeypatch.setattr(backends, "unavailable_reason",
                        lambda name: "no usable CUDA GPU or driver" if name == "cuda" else None)
    assert cli.main(["info"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("targets:"))
    assert "reference, cpu (default), cuda (unavailable: no usable CUDA GPU or driver)" in line


# ---- what a new user runs from the docs -------------------------------------------------------
def test_a_saved_step_keeps_its_updates_through_the_command_line(work, capsys):
    code, doc, _ = call(work, capsys, "dump", "model.py:step", "--json")
    assert code == 0 and json.loads(doc)["updates"]
    (work / "step.json").write_text(doc)
    code, text, _ = call(work, capsys, "dump", "step.json")
    assert code == 0 and "updates {\n  %w <- %" in text


def test_source_for_symbolic_dims_says_which_shapes(work, capsys):
    pytest.importorskip("numba")
    code, out, _ = call(work, capsys, "dump", "model.py:build", "--source")
    assert code == 0, out
    assert out.startswith("# source generated for the inputs x: f32[8, 2] (symbolic dims set "
                          "to 8; choose with --shape NAME=D0,D1,...)")
    assert "def program(" in out
    code, out, _ = call(work, capsys, "dump", "model.py:build", "--source", "--shape", "x=3,2")
    assert code == 0 and out.startswith("# source generated for the inputs x: f32[3, 2] (as given)")
    code, _, err = call(work, capsys, "dump", "model.py:build", "--source", "--shape", "x=3,5")
    assert code == 2 and "does not fit input 'x'" in err
    code, _, err = call(work, capsys, "dump", "model.py:build", "--source", "--shape", "x")
    assert code == 2 and "write NAME=D0,D1,..." in err


def test_draw_shows_the_graph_as_built_unless_compiled(work, capsys):
    pytest.importorskip("numba")
    code, _, _ = call(work, capsys, "draw", "model.py:cpu_step", "-o", "built.dot")
    built = (work / "built.dot").read_text()
    assert code == 0 and "cluster_k" not in built and "update w" in built
    code, _, _ = call(work, capsys, "draw", "model.py:cpu_step", "-o", "ran.dot", "--compiled")
    ran = (work / "ran.dot").read_text()
    assert code == 0 and "cluster_k0" in ran and "in place" in ran
    code, _, _ = call(work, capsys, "draw", "model.py:build", "-o", "b.dot", "--compiled",
                      "--shape", "x=4,2")
    assert code == 0 and "arena" in (work / "b.dot").read_text()  # a memory plan for (4, 2)


def test_a_drawn_tape_names_the_parameters_like_torchviz(work, capsys):
    (work / "net.py").write_text(
        "import graphc as gc\nfrom graphc import nn\n\n"
        "def eager_loss():\n"
        "    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))\n"
        "    return model(gc.ones(4, 2)).sum()\n")
    code, _, _ = call(work, capsys, "draw", "net.py:eager_loss", "-o", "tape.dot")
    dot = (work / "tape.dot").read_text()
    assert code == 0 and "0.weight" in dot and "2.bias" in dot
