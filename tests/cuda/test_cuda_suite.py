"""Runs the CUDA tests (tests/cuda/sim) in a fresh process.

Numba's CUDA simulator must be switched on before numba is first imported, and other test
modules import numba in this process; so the CUDA suite runs as its own pytest process with
NUMBA_ENABLE_CUDASIM=1 (on a machine with a GPU, set GRAPHC_CUDA_REAL=1 to use it instead).
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)


def test_cuda_suite():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, GRAPHC_CUDA_TESTS="1")
    if env.get("GRAPHC_CUDA_REAL") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             os.path.join(HERE, "sim")], env=env, capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.dirname(HERE)))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
