"""Parallel kernels survive forked children and calls from several Python threads (in a
subprocess: a threading-layer failure aborts the whole process)."""
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, threading, numpy as np, graphc as gc
    n = 1 << 20
    x = gc.placeholder((n,))
    f = gc.compile(gc.sigmoid(x) * 2 + 1, target="cpu")
    a = np.linspace(-3, 3, n).astype(np.float32)
    want = 2 / (1 + np.exp(-a)) + 1
    assert np.allclose(f(a).numpy(), want, atol=1e-5)
    assert "prange" in f.source and next(iter(f._runner.programs.values())).parallel
    errors = []
    def work():
        for _ in range(5):
            if not np.allclose(f(a).numpy(), want, atol=1e-5):
                errors.append(1)
    ts = [threading.Thread(target=work) for _ in range(3)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert not errors
    pid = os.fork()
    if pid == 0:
        ok = np.allclose(f(a).numpy(), want, atol=1e-5)
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    print("ok")
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_parallel_kernels_survive_threads_and_fork(tmp_path):
    script = tmp_path / "threads.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, GRAPHC_NUM_THREADS="2")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
