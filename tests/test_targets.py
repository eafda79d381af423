"""One default compile target for every entry point (the best that runs here), named in the
executable's repr; unknown and unavailable targets explained."""
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.backends import default_target, target_names, unavailable_reason


def test_compile_and_jit_default_to_the_best_target_that_runs():
    best = "cpu" if unavailable_reason("cpu") is None else "reference"
    assert default_target() == best
    x = gc.placeholder((2,), name="x")
    exe = gc.compile(x * 2, inputs=[x])  # (the cpu target compiles lazily: nothing runs here)
    assert exe.target == best and f"target={best!r}" in repr(exe)
    assert f"target={best!r}" in repr(gc.jit(lambda a: a * 2))


def test_an_explicit_target_is_kept_and_printed():
    x = gc.placeholder((2,), name="x")
    exe = gc.compile(x * 2, inputs=[x], target="reference")
    assert "target='reference'" in repr(exe)
    np.testing.assert_array_equal(exe(np.ones(2, np.float32)).numpy(), [2, 2])


def test_an_unknown_target_lists_every_target_in_a_fresh_process():
    code = ("import graphc as gc\n"
            "x = gc.placeholder((2,))\n"
            "gc.compile(x * 2, target='tpu')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "unknown compile target 'tpu'; targets: reference, cpu, cuda" in done.stderr


def test_target_names_and_reasons():
    assert target_names()[:3] == ["reference", "cpu", "cuda"]
    assert unavailable_reason("reference") is None
    assert "unknown compile target" in unavailable_reason("tpu")
    if not gc.cuda.is_available():
        assert unavailable_reason("cuda")  # a reason, whether numba-cuda is missing or the GPU
