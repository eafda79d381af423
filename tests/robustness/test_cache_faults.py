"""The compile cache under faults: real processes, real files, a private GRAPHC_CACHE_DIR.

Every child compiles one small graph on target "cpu" and prints its result and the cache
warnings it saw; a result is trusted only if it matches the value computed with NumPy.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

CHILD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    if sys.argv[1] == "full":  # the file system refuses to grow files past 512 bytes
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))
    warnings.simplefilter("always")
    import graphc as gc
    results = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for scale in [2.0] + ([3.0] if sys.argv[1] in ("full", "two") else []):
            x = gc.placeholder((5,), name="x")
            y = gc.tanh(x * scale) + gc.exp(-x)
            exe = gc.compile(y, [x], target="cpu")
            results.append(exe(np.linspace(-1, 1, 5, dtype=np.float32)).numpy().tolist())
    print(json.dumps({"results": results,
                      "warnings": [str(w.message) for w in seen if "cache" in str(w.message)]}))
""")


def expected(scale=2.0):
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    return np.tanh(x * scale) + np.exp(-x)


def start(tmp_path, cache_dir, mode="one"):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir))
    return subprocess.Popen([sys.executable, str(script), mode], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    for scale, got in zip((2.0, 3.0), report["results"]):
        np.testing.assert_allclose(got, expected(scale), rtol=1e-5)
    return report


def run(tmp_path, cache_dir, mode="one"):
    return finish(start(tmp_path, cache_dir, mode))


def generated(cache_dir):
    return sorted(p for p in cache_dir.iterdir() if p.name.startswith("graphc_gen_"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache directory filled by one process: (directory, the module's source text)."""
    d = tmp_path_factory.mktemp("filled")
    run(d, d / "cache")
    [module] = generated(d / "cache")
    return d / "cache", module.read_text()


def fresh_copy(tmp_path, filled):
    import shutil
    d = tmp_path / "cache"
    shutil.copytree(filled[0], d)
    return d, d / generated(filled[0])[0].name


def test_two_processes_compiling_the_same_graph_at_once_agree(tmp_path):
    d = tmp_path / "cache"
    a, b = start(tmp_path, d), start(tmp_path, d)
    ra, rb = finish(a), finish(b)
    assert ra["results"] == rb["results"] and not ra["warnings"] and not rb["warnings"]
    assert len(generated(d)) == 1
    assert not [p for p in d.iterdir() if p.name.startswith(".tmp_")]


def test_a_process_killed_mid_compile_leaves_nothing_trusted(tmp_path):
    d = tmp_path / "cache"
    proc = start(tmp_path, d)
    deadline = time.monotonic() + 120
    while not (d.is_dir() and generated(d)) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # Numba is compiling (or writing its cache) now
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert run(tmp_path, d)["warnings"] == []


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage bytes", "foreign code"])
def test_a_damaged_module_is_rebuilt_never_run(tmp_path, filled, damage):
    d, module = fresh_copy(tmp_path, filled)
    marker = tmp_path / "pwned"
    text = filled[1]
    module.write_bytes({
        "truncated": text[:len(text) // 2].encode(),
        "empty": b"",
        "garbage bytes": os.urandom(4096),
        "foreign code": f"open({str(marker)!r}, 'w').write('ran')\n".encode(),
    }[damage])
    run(tmp_path, d)
    assert module.read_text() == text and not marker.exists()


def test_leftover_temporary_files_from_a_killed_writer_are_ignored(tmp_path, filled):
    d, module = fresh_copy(tmp_path, filled)
    (d / ".tmp_abc123.py").write_text(filled[1][:100])
    run(tmp_path, d)
    assert module.read_text() == filled[1]


@pytest.mark.parametrize("damage", ["truncated", "garbage bytes", "empty"])
def test_damaged_numba_cache_files_are_not_trusted(tmp_path, filled, damage):
    d, _ = fresh_copy(tmp_path, filled)
    compiled = [p for p in (d / "__pycache__").iterdir()]
    assert any(p.suffix == ".nbi" for p in compiled) and any(p.suffix == ".nbc" for p in compiled)
    for p in compiled:
        data = p.read_bytes()
        p.write_bytes({"truncated": data[:len(data) // 2], "garbage bytes": os.urandom(len(data)),
                       "empty": b""}[damage])
    run(tmp_path, d)


def test_an_unwritable_location_compiles_in_memory_with_one_warning(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    report = run(tmp_path, blocker / "cache", "two")  # two graphs, one warning
    assert len(report["results"]) == 2
    assert len(report["warnings"]) == 1 and "compiling in memory" in report["warnings"][0]


def test_a_full_file_system_compiles_in_memory_with_one_warning(tmp_path):
    d = tmp_path / "cache"
    report = run(tmp_path, d, "full")
    assert len(report["results"]) == 2
    assert len(report["warnings"]) == 1 and "compiling in memory" in report["warnings"][0]
    # what could not be written completely is not left for a later process to trust
    assert generated(d) == [] and not [p for p in d.iterdir() if p.name.startswith(".tmp_")]


SHARED_CHILD = textwrap.dedent("""
    import numpy as np, graphc as gc
    x = gc.placeholder((32, 32), name="x")
    w = gc.placeholder((32, 32), name="w")
    exe = gc.compile(gc.tanh(x @ w).sum(), [x, w], target="cpu")  # gemm: a library function
    a = np.linspace(-1, 1, 1024, dtype=np.float32).reshape(32, 32)
    print(float(exe(a, a.T.copy()).item()))
""")


def _shared_run(tmp_path, d, layout):
    script = tmp_path / "shared_child.py"
    script.write_text(SHARED_CHILD)
    # graphc's modules and Numba's own cache (library kernels included) in one directory
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(d), NUMBA_CACHE_DIR=str(d),
               GRAPHC_LAYOUT=layout)
    return subprocess.Popen([sys.executable, str(script)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _value(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    a = np.linspace(-1, 1, 1024, dtype=np.float32).reshape(32, 32)
    want = float(np.tanh(a.astype(np.float64) @ a.T.astype(np.float64)).sum())
    got = float(out.strip().splitlines()[-1])
    assert got == pytest.approx(want, rel=1e-4)
    return got


def _damage(path, how):
    import pickle
    data = path.read_bytes()
    path.write_bytes({
        "half + garbage": data[:len(data) // 2] + os.urandom(64),
        "empty": b"",
        "garbage": os.urandom(max(16, len(data))),
        "wrong version": pickle.dumps("0.0.0-not-this-version") + data[len(data) // 3:],
    }[how])


@pytest.fixture(scope="module", params=["kernels", "whole"])
def shared_filled(request, tmp_path_factory):
    """A cache directory filled by two processes compiling one graph at once."""
    d = tmp_path_factory.mktemp("shared") / "cache"
    tmp = tmp_path_factory.mktemp("scripts")
    a, b = _shared_run(tmp, d, request.param), _shared_run(tmp, d, request.param)
    assert _value(a) == _value(b)
    return d, request.param


@pytest.mark.parametrize("how", ["half + garbage", "empty", "garbage", "wrong version"])
def test_every_damaged_file_of_a_shared_cache_is_rebuilt(tmp_path, shared_filled, how):
    import shutil
    filled, layout = shared_filled
    d = tmp_path / "cache"
    shutil.copytree(filled, d)
    files = [p for p in d.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".py", ".nbi", ".nbc"} <= kinds, kinds  # graphc's modules and Numba's index/data
    for p in files:
        _damage(p, how)
    _value(_shared_run(tmp_path, d, layout))
    _value(_shared_run(tmp_path, d, layout))  # and what the rebuild wrote is sound
