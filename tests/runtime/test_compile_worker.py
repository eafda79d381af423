"""The compile helper process (runtime/compile_worker.py): it shares a cold compile's kernels
through claims and the on-disk cache, and a helper that fails costs time, never results."""
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from runtime import compile_worker


def _program(c):
    """A step of several distinct kernels (three shapes, three kinds of loop); `c` makes
    their text new to this process."""
    x, m = gc.placeholder((7,), name="x"), gc.placeholder((3, 5), name="m")
    outs = [gc.sin(x) * c, gc.exp(m) + c, m.sum(1) * c, gc.tanh(x) - x.sum() * c, m.amax(0) * c]
    feeds = [np.linspace(-1, 1, 7, dtype=np.float32),
             np.linspace(-2, 2, 15, dtype=np.float32).reshape(3, 5)]
    want = [np.sin(feeds[0]) * c, np.exp(feeds[1]) + c, feeds[1].sum(1) * c,
            np.tanh(feeds[0]) - feeds[0].sum() * c, feeds[1].max(0) * c]
    return gc.compile(outs, [x, m], target="cpu", layout="kernels"), feeds, want


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache, a helper for any cold compile, spawned (a new process)."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compile_worker, "MIN_KERNELS", 2)
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    monkeypatch.setattr(compile_worker, "FORK", False)
    return tmp_path


def _check(exe, feeds, want):
    for got, expected in zip(exe(*feeds), want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-6, atol=1e-6)
    return exe.compile_report()


def test_a_cold_compile_is_shared_with_a_helper(fresh_cache, monkeypatch):
    helpers, real_finish = [], compile_worker.Helper.finish

    def finish(self):
        helpers.append(self)
        real_finish(self)
    monkeypatch.setattr(compile_worker.Helper, "finish", finish)
    exe, feeds, want = _program(3.0)
    report = _check(exe, feeds, want)
    # (kernels another test of this process compiled or cached come from memory or its cache)
    assert report.compiled + report.by_helper + report.reused + report.from_cache == \
        report.functions
    (helper,) = helpers
    assert helper.process.returncode == 0 and not os.path.exists(helper.claims)


def test_a_helper_that_dies_leaves_its_kernels_to_this_process(fresh_cache, monkeypatch):
    """The helper claims the last kernel and exits without compiling it."""
    real_init = compile_worker.Helper.__init__

    def dying_helper(self, jobs):
        real_init(self, [])  # a real helper process with no work: it exits at once
        module, _, dtypes = jobs[-1]
        assert compile_worker._claim(self.claims, compile_worker._job_id(module, dtypes))
    monkeypatch.setattr(compile_worker.Helper, "__init__", dying_helper)
    exe, feeds, want = _program(5.0)
    report = _check(exe, feeds, want)
    assert report.compiled + report.reused == report.functions and report.by_helper == 0


def test_no_helper_for_few_kernels_no_idle_core_or_when_turned_off(monkeypatch):
    jobs = [("m", "/nowhere.py", ["float32"])] * 3
    assert compile_worker.Helper.start(jobs) is None  # fewer than MIN_KERNELS
    monkeypatch.setattr(compile_worker, "MIN_KERNELS", 2)
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 0)
    assert compile_worker.Helper.start(jobs) is None
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    monkeypatch.setenv("GRAPHC_COMPILE_HELPER", "0")
    assert compile_worker.Helper.start(jobs) is None


def test_claims_go_to_exactly_one_process(tmp_path):
    script = ("import sys; from runtime.compile_worker import _claim; "
              "print(sum(_claim(sys.argv[1], str(k)) for k in range(50)))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    children = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    mine = sum(compile_worker._claim(str(tmp_path), str(k)) for k in range(50))
    theirs = sum(int(c.communicate()[0]) for c in children)
    assert mine + theirs == 50


def test_idle_cores_follow_the_load(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(compile_worker, "_running_now", lambda: 1.0)  # this process alone
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 3.0, 3.0))  # (a minute ago: busy)
    assert compile_worker.idle_cores() == 1  # this process takes one of the two
    monkeypatch.setattr(compile_worker, "_running_now", lambda: 2.0)
    assert compile_worker.idle_cores() < 1
    # without /proc/loadavg: the 1-minute load average
    monkeypatch.setattr(compile_worker, "_running_now", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert compile_worker.idle_cores() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert compile_worker.idle_cores() < 1


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="Linux's /proc/loadavg")
def test_tasks_running_now_count_this_process():
    assert compile_worker._running_now() >= 1


# ---- the forked helper (Linux) ------------------------------------------------------------------
forking = pytest.mark.skipif(not compile_worker.can_fork(), reason="no fork here")


@forking
def test_a_cold_compile_is_shared_with_a_forked_helper(fresh_cache, monkeypatch):
    monkeypatch.setattr(compile_worker, "FORK", True)
    monkeypatch.setattr(compile_worker, "MIN_FORKED_KERNELS", 2)
    helpers, real_finish = [], compile_worker.ForkedHelper.finish

    def finish(self, kill=False):
        helpers.append(self)
        real_finish(self, kill)
    monkeypatch.setattr(compile_worker.ForkedHelper, "finish", finish)
    exe, feeds, want = _program(7.0)
    report = _check(exe, feeds, want)
    assert report.compiled + report.by_helper + report.reused + report.from_cache == \
        report.functions
    (helper,) = helpers
    assert not os.path.exists(helper.claims)
    with pytest.raises(ChildProcessError):
        os.waitpid(helper.pid, os.WNOHANG)  # reaped


@forking
def test_a_forked_helper_that_dies_leaves_its_kernels_to_this_process(fresh_cache,
                                                                        monkeypatch):
    """The child claims the last kernel and exits without compiling it."""
    monkeypatch.setattr(compile_worker, "FORK", True)
    monkeypatch.setattr(compile_worker, "MIN_FORKED_KERNELS", 2)

    def claim_last_and_die(claims, jobs):
        module, _, dtypes = jobs[0]
        compile_worker._claim(claims, compile_worker._job_id(module, dtypes))
    monkeypatch.setattr(compile_worker, "compile_jobs", claim_last_and_die)
    exe, feeds, want = _program(9.0)
    report = _check(exe, feeds, want)
    assert report.compiled + report.reused == report.functions and report.by_helper == 0


@forking
def test_a_hanging_forked_helper_is_killed(monkeypatch):
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    monkeypatch.setattr(compile_worker, "WAIT_S", 0.2)
    import time
    helper = compile_worker.start([], warm=lambda claim: time.sleep(60))
    start = time.monotonic()
    helper.finish()
    assert time.monotonic() - start < 5


def test_no_forked_helper_without_an_idle_core_or_when_turned_off(monkeypatch):
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 0)
    assert compile_worker.start([], warm=lambda claim: None) is None
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    monkeypatch.setenv("GRAPHC_COMPILE_HELPER", "0")
    assert compile_worker.start([], warm=lambda claim: None) is None


_COLD_LIBRARY = """
import os, numpy as np, graphc as gc, graphc.nn.functional as F
from runtime import compile_worker
from runtime.kernels import loss
compile_worker.idle_cores = lambda: 1
claim = compile_worker.ForkedHelper.claim_library

def logged(self, key):  # which process makes which library call of the warm-up run
    won = claim(self, key)
    if won:
        with open(os.environ["CLAIMS_LOG"], "a") as f:
            f.write(f"{os.getpid()} {key}\\n")
    return won
compile_worker.ForkedHelper.claim_library = logged
x, y = gc.placeholder((4, 3), name="x"), gc.placeholder((4,), gc.int64, name="y")
value = F.cross_entropy(x * 2.0, y)
exe = gc.compile([value, gc.grad(value, x)], [x, y], target="cpu", layout="kernels")
print(float(exe(np.arange(12, dtype=np.float32).reshape(4, 3) / 7, np.array([0, 2, 1, 2]))[0]))
print(os.getpid())
print(sum(sum(k.stats.cache_hits.values()) for k in (loss.cross_entropy,
                                                      loss.cross_entropy_backward)))
"""


@forking
@pytest.mark.parametrize("helpers", ["1", "0"])
def test_a_cold_library_is_compiled_before_the_first_call(tmp_path, helpers):
    """With an empty Numba cache, the library kernels the program calls (the loss forward and
    backward) are compiled by a stub run of the first call, each by whichever of this process
    and the forked helper claims it first: this process then loads the helper's from the
    cache. Turned off, this process compiles them at the call. The loss is the same."""
    log = tmp_path / "claims"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), GRAPHC_CACHE_DIR=str(tmp_path),
               GRAPHC_COMPILE_HELPER=helpers, CLAIMS_LOG=str(log),
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", _COLD_LIBRARY], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    loss_value, pid, hits = out.stdout.split()
    x = np.arange(12, dtype=np.float64).reshape(4, 3) / 7 * 2.0
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert float(loss_value) == pytest.approx(-logp[range(4), [0, 2, 1, 2]].mean(), rel=1e-5)
    if helpers == "0":
        assert not log.exists() and int(hits) == 0
        return
    claims = [line.split() for line in log.read_text().splitlines()]
    keys = [key for _, key in claims]
    assert len(keys) == len(set(keys))  # each call made once
    assert {k.split(".")[0] for k in keys} >= {"cross_entropy", "cross_entropy_backward"}
    helper_made = sum(1 for who, key in claims if who != pid and key.startswith("cross_"))
    assert int(hits) == helper_made  # what the helper compiled, this process loaded


def test_a_warm_start_starts_no_helper(tmp_path, monkeypatch):
    """Everything in the cache (kernels and library): nothing to share, no fork."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    exe, feeds, want = _program(11.0)
    _check(exe, feeds, want)  # compiles (and fills the cache)
    started = []
    monkeypatch.setattr(compile_worker, "ForkedHelper", lambda *a: started.append(a))
    monkeypatch.setattr(compile_worker.Helper, "start", classmethod(
        lambda cls, jobs: started.append(jobs)))
    exe, feeds, want = _program(11.0)
    _check(exe, feeds, want)
    assert started == []


@forking
def test_a_fork_waits_for_a_compile_in_another_thread(tmp_path, monkeypatch):
    """Numba's compiler lock is held across the fork: had another thread been compiling at
    that moment, the child would wait for a lock nobody in it can release."""
    import threading
    import time
    from numba import njit
    from numba.core.compiler_lock import global_compiler_lock
    monkeypatch.setattr(compile_worker, "idle_cores", lambda: 1)
    monkeypatch.setattr(compile_worker, "WAIT_S", 20)
    mark, held = tmp_path / "compiled", threading.Event()

    def compiling_thread():
        with global_compiler_lock:
            held.set()
            time.sleep(0.5)
    thread = threading.Thread(target=compiling_thread)
    thread.start()
    held.wait()

    def child_compiles(claim):
        njit(lambda x: x + 1)(1)  # needs the compiler lock in the child
        mark.write_text("yes")
    helper = compile_worker.start([], warm=child_compiles)
    helper.finish()
    thread.join()
    assert mark.read_text() == "yes"
