"""One thread setting caps every BLAS library from `import graphc` on, SciPy's (which
Numba's np.dot calls) included, without importing scipy.linalg or starting idle threads (in
a subprocess: BLAS libraries stay loaded). The BLAS module is imported by itself, so that Numba's
first np.dot does not import scipy.linalg either."""
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy
    threads_before = len(os.listdir("/proc/self/task"))
    import graphc
    # SciPy's OpenBLAS loads without starting (and spinning) a worker thread it cannot use
    assert len(os.listdir("/proc/self/task")) == threads_before
    from runtime import threads
    assert "scipy.linalg" not in sys.modules and "scipy.special" not in sys.modules
    before = threads.blas_threads()
    assert any("scipy.libs" in path or "scipy_openblas-" in path for path in before), before
    assert set(before.values()) == {1}, before
    import numba, numpy as np
    @numba.njit
    def product(a, b):
        return np.dot(a, b)
    a = np.ones((64, 64))
    assert product(a, a)[0, 0] == 64
    assert "scipy.linalg" not in sys.modules  # Numba found the BLAS module by itself
    from threadpoolctl import threadpool_info
    after = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert after == before, (before, after)  # the same libraries, still on one thread
    import scipy.linalg
    from scipy.linalg import cython_blas
    assert cython_blas is sys.modules["scipy.linalg.cython_blas"]
    assert scipy.linalg.cython_blas is cython_blas  # the attribute a normal import sets
    import importlib.resources
    assert importlib.resources.files("scipy.linalg").is_dir()  # (its loader still works)
    assert np.allclose(scipy.linalg.solve(np.eye(2) * 2, np.ones(2)), 0.5)
    print("ok")
""")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_every_blas_is_capped_from_import():
    env = dict(os.environ, GRAPHC_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
