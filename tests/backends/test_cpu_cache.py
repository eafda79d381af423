"""The on-disk cache of generated programs: hits across processes, invalidation, damage."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from runtime import cache

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, graphc as gc
    x = gc.placeholder((5,), name="x")
    y = (gc.exp(x) * 3 + 1).sum()
    exe = gc.compile(y, target="cpu", strict=(sys.argv[1] == "strict"))
    value = exe(np.arange(5, dtype=np.float32)).item()
    prog = next(iter(exe._runner.programs.values()))
    print(value, *prog.cache_stats(), int(exe.compile_report().program_cached))
""")


def _run(tmp_path, env_dir, mode="fast"):
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(env_dir))
    script = tmp_path / "make.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), mode], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    value, hits, misses, whole = out.stdout.split()
    _run.program_cached = whole == "1"  # loaded whole (backends/program_cache.py)
    return float(value), int(hits), int(misses), out.stderr


@pytest.fixture(scope="module")
def warm_dir(tmp_path_factory):
    """A cache directory filled by a first process."""
    d = tmp_path_factory.mktemp("graphc_cache")
    value, hits, misses, _ = _run(d, d)
    assert hits == 0 and misses >= 1  # one whole program, or its kernels (GRAPHC_LAYOUT)
    return d, value


def test_a_second_process_loads_the_compiled_program(tmp_path, warm_dir):
    d, value = warm_dir
    again, hits, misses, _ = _run(tmp_path, d)
    assert hits >= 1 and misses == 0 and again == value and _run.program_cached


def test_different_flags_make_a_different_entry(tmp_path, warm_dir):
    d, _ = warm_dir
    _, hits, misses, _ = _run(tmp_path, d, "strict")
    assert hits == 0 and misses >= 1


def test_a_damaged_entry_is_rebuilt_not_trusted(tmp_path, warm_dir):
    d, value = warm_dir
    for name in os.listdir(d):
        if name.startswith(("graphc_gen_", "graphc_prog_")):
            with open(d / name, "a") as f:
                f.write("\nraise SystemExit('tampered')\n")
    again, hits, misses, _ = _run(tmp_path, d)
    assert again == value and hits == 0 and misses >= 1 and not _run.program_cached


def test_an_unwritable_location_compiles_in_memory_with_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    value, hits, misses, err = _run(tmp_path, blocker / "cache")
    assert value == pytest.approx(float((np.exp(np.arange(5)) * 3 + 1).sum()), rel=1e-5)
    assert "cannot write the compile cache" in err


def test_module_key_covers_source_and_flags():
    assert cache.module_key("a = 1\n") != cache.module_key("a = 2\n")
    assert cache.module_key("a = 1\n", "strict=True") != cache.module_key("a = 1\n", "")


def test_cache_info_and_clear_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    mod = cache.load_module("import math\nVALUE = CACHE\n", "test")
    assert mod.VALUE is True
    info = cache.cache_info()
    assert info["path"] == str(tmp_path) and info["modules"] == 1 and info["bytes"] > 0
    cache.clear_cache()
    assert cache.cache_info()["modules"] == 0
