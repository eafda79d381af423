"""Entries of the on-disk cache (runtime/cache.py read_entry / write_entry): what graphc's
whole-program cache stores. A damaged, truncated or renamed entry reads as missing."""
import os

import pytest

from runtime import cache

KEY = "ab" * 20


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    return tmp_path


def _entry(cache_dir, key=KEY):
    return cache_dir / f"graphc_prog_{key}.entry"


def test_an_entry_reads_back_as_written(cache_dir):
    assert cache.read_entry(KEY) is None
    assert cache.write_entry(KEY, b'{"a": 1}\n\x00binary')
    assert cache.read_entry(KEY) == b'{"a": 1}\n\x00binary'
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp_")]


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "one byte flipped",
                                    "no header", "another version"])
def test_a_damaged_entry_reads_as_missing_and_is_removed(cache_dir, damage):
    cache.write_entry(KEY, b"x" * 100)
    path = _entry(cache_dir)
    data = path.read_bytes()
    flipped = bytearray(data)
    flipped[-10] ^= 1
    path.write_bytes({"truncated": data[:-7], "empty": b"", "garbage": os.urandom(len(data)),
                      "one byte flipped": bytes(flipped), "no header": b"x" * 100,
                      "another version": data.replace(b"graphc-entry 1 ", b"graphc-entry 9 ",
                                                      1)}[damage])
    assert cache.read_entry(KEY) is None
    assert not path.exists()


def test_an_entry_renamed_to_another_key_is_not_trusted(cache_dir):
    cache.write_entry(KEY, b"payload")
    other = "cd" * 20
    os.replace(_entry(cache_dir), _entry(cache_dir, other))
    assert cache.read_entry(other) is None


def test_an_unwritable_location_stores_nothing(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(blocker / "cache"))
    assert cache.write_entry(KEY, b"payload") is False
    assert cache.read_entry(KEY) is None


def test_cache_info_counts_entries_and_clear_cache_removes_them(cache_dir):
    cache.write_entry(KEY, b"payload")
    assert cache.cache_info()["programs"] == 1
    cache.clear_cache()
    assert cache.cache_info()["programs"] == 0 and cache.read_entry(KEY) is None


NRT_CHILD = """
import sys
from numba import njit
from numba.core.registry import cpu_target
from numba.core.runtime import rtsys
import numpy as np
from numba.core.runtime import nrtdynmod
from runtime import cache, nrt_cache
if sys.argv[1] == "cached":  # compiling NRT now would fail: it must come from the entry
    nrtdynmod.create_nrt_module = nrtdynmod.compile_nrt_functions = None
nrt_cache.initialize(cpu_target.target_context)
assert rtsys._init
@njit
def f(n):  # allocates (NRT) and compiles after the start-up (links NRT's library)
    a = np.arange(n) * 2.0
    return a.sum() + len([x for x in a])
print(f(10), cache.read_entry(nrt_cache._key()) is not None)
"""


def test_nrt_starts_from_its_cached_machine_code_in_a_later_process(cache_dir):
    import subprocess
    import sys
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir), NUMBA_CACHE_DIR=str(cache_dir))
    for run in ("first", "cached"):  # the first process writes the entry
        out = subprocess.run([sys.executable, "-c", NRT_CHILD, run], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split() == ["100.0", "True"]


@pytest.mark.parametrize("payload", [None, b"", b"\x01\x00", b"\x00" * 12 + b"extra"])
def test_a_malformed_nrt_entry_is_not_used(payload):
    from runtime import nrt_cache
    assert nrt_cache._decode(payload) is None
