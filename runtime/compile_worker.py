"""A second process that compiles kernels while this one does too (cold compiles).

Numba compiles one function at a time under a process-wide lock, ~0.1 s for even the smallest
kernel. A cold step of twenty kernels on a machine with a spare core therefore compiles
nearly twice as fast when a helper process takes half of them: it compiles into the shared
on-disk cache, and this process then loads those kernels (~4 ms each) instead of compiling.

Work is shared by claims: before compiling a kernel, a process creates its claim file
(O_EXCL, so exactly one process wins). This process walks the kernels from the first, the
helper from the last; they meet where the work splits evenly, however fast each runs. If
the helper fails, hangs or is killed, this process compiles what it left (a cache miss costs
a compile, never a wrong result).

On Linux the helper is a fork of this process (`ForkedHelper`): it inherits the imported
Numba, so it has nothing to start. Elsewhere it is a new Python process:

    python -m runtime.compile_worker CLAIMS_DIR < jobs.json   # the spawned helper's side

The runtime library's kernels (conv, pooling, losses, ...) are compiled at their first call,
with the argument types of the real program. On a cold library cache the forked helper first
runs that call with stub kernels (`warm`), so the library compiles into Numba's cache while
this process compiles the step's own kernels.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

# Fewer uncached kernels than this compile in this process only: starting the helper
# (Python, NumPy, Numba: ~0.4 s of CPU) would cost more than it saves.
MIN_KERNELS = 6
# A forked helper starts for free, but its first compile sets up Numba's target (~0.4 s of
# CPU, as this process's first does)
MIN_FORKED_KERNELS = 3
FORK = True  # (tests turn it off to exercise the spawned helper)
# After its own kernels this process waits at most this long for the helper, then kills it
# and compiles what the helper left.
WAIT_S = 120.0


def kernel_signature(dtypes):
    """Numba's types of a kernel call: 1-D C arrays of these dtypes, "size" an int64."""
    import numpy as np
    from numba import from_dtype
    from numba.core import types as nbtypes
    return tuple(nbtypes.int64 if d == "size" else
                 nbtypes.Array(from_dtype(np.dtype(d)), 1, "C") for d in dtypes)


def idle_cores():
    """Cores that neither this process nor any other is using now (this process counting as
    one): on Linux by the tasks running at this instant (/proc/loadavg); elsewhere by the
    1-minute load average, which trails a burst by a minute (a cold compile right after
    another would see that one's helper and go without its own)."""
    from runtime.threads import default_num_threads
    cores = default_num_threads()
    busy = _running_now()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            busy = 1.0
    return int(cores - max(busy, 1.0) + 0.5)


def _running_now():
    """Tasks running or ready to run at this instant, this process's included, or None."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _claim(directory, job_id):
    """True if this process is the first to ask for job_id."""
    try:
        os.close(os.open(os.path.join(directory, job_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _job_id(module, dtypes):
    return f"{module}.{'-'.join(dtypes)}"


class Helper:
    """The helper process for one batch of kernels: jobs are (module name, file, dtypes)."""

    def __init__(self, jobs):
        self.claims = tempfile.mkdtemp(prefix="graphc-claims-")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", GRAPHC_PROGRESS="0")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime.compile_worker", self.claims],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env)
        try:
            self.process.stdin.write(json.dumps(jobs[::-1]).encode())
            self.process.stdin.close()
        except OSError:  # it died at once: everything stays unclaimed, for this process
            pass

    @classmethod
    def start(cls, jobs):
        """A helper for these jobs, or None where it would not pay (few jobs, no idle core,
        GRAPHC_COMPILE_HELPER=0) or cannot start."""
        if len(jobs) < MIN_KERNELS or idle_cores() < 1 or not _helpers_allowed():
            return None
        try:
            return cls(jobs)
        except OSError:
            return None

    def claim(self, module, dtypes):
        """True if this process compiles the kernel; False if the helper has it."""
        return _claim(self.claims, _job_id(module, dtypes))

    def finish(self, kill=False):
        """Wait for the helper (it has finished or is finishing what it claimed); kill: stop
        it now (this process's compile failed)."""
        if not kill:
            try:
                self.process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.claims, ignore_errors=True)


def _helpers_allowed():
    return os.environ.get("GRAPHC_COMPILE_HELPER", "1") != "0"


def can_fork():
    """Whether a helper may be a fork of this process (Linux; not under MPI, whose transport
    a fork breaks). A fork inherits the imported Numba: nothing to start."""
    return FORK and sys.platform.startswith("linux") and hasattr(os, "fork") and \
        "mpi4py.MPI" not in sys.modules


class ForkedHelper:
    """The helper as a forked child: first `warm(claim)` (the runtime library's first call,
    each library call made by whichever process claims it first: CompiledProgram.
    _warm_library in graphc/backends/cpu.py), then the jobs it can claim, last first. Its
    only lasting effect is the on-disk cache."""

    def __init__(self, jobs, warm=None):
        from numba.core.compiler_lock import global_compiler_lock
        self.claims = tempfile.mkdtemp(prefix="graphc-claims-")
        # Numba's compiler lock is held across the fork, so that no other thread of this
        # process is inside a compile at that moment (the child would wait for it forever);
        # the child's copy is released by the same thread, its only one
        with warnings.catch_warnings(), global_compiler_lock:  # (Python 3.12 warns of a fork
            warnings.simplefilter("ignore", DeprecationWarning)  # in a threaded process)
            self.pid = os.fork()
        if self.pid:
            return
        try:  # the child: silent, bounded in time, never back into the caller's code
            signal.alarm(int(WAIT_S))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if warm is not None:
                try:
                    warm(self.claim_library)
                except Exception:
                    pass  # (a library call failed on stand-in data: it compiles at its call)
            compile_jobs(self.claims, jobs[::-1])
        except BaseException:
            pass
        finally:
            os._exit(0)

    def claim(self, module, dtypes):
        """True if this process compiles the kernel; False if the helper has it."""
        return _claim(self.claims, _job_id(module, dtypes))

    def claim_library(self, key):
        """True if this process makes the warm-up run's library calls named `key` (a kernel
        and its argument types)."""
        return _claim(self.claims, "library." + key)

    def finish(self, kill=False):
        """Wait for the child (at most WAIT_S), then reap it."""
        deadline = time.monotonic() + (0 if kill else WAIT_S)
        try:
            while not os.waitpid(self.pid, os.WNOHANG)[0]:
                if time.monotonic() >= deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.005)
        except ChildProcessError:
            pass
        shutil.rmtree(self.claims, ignore_errors=True)


def start(jobs, warm=None):
    """A helper for a cold compile (forked where possible, else a new process), or None where
    it would not pay: too few kernels and nothing to warm, no idle core, or
    GRAPHC_COMPILE_HELPER=0."""
    if not _helpers_allowed() or idle_cores() < 1:
        return None
    if can_fork():
        if len(jobs) < MIN_FORKED_KERNELS and not warm:
            return None
        return ForkedHelper(jobs, warm)
    return Helper.start(jobs)


def compile_jobs(claims, jobs):
    """Compile every job that can be claimed, in order, into the on-disk cache; stop at the
    first taken by another process (it has come this far: the rest is its own)."""
    from runtime import cache
    for module, path, dtypes in jobs:
        if not _claim(claims, _job_id(module, dtypes)):
            return
        kernel = cache.load_file(module, path).kernel
        kernel.compile(kernel_signature(dtypes))


def main(claims):
    """The spawned helper: compile every job it can claim, last first."""
    compile_jobs(claims, json.loads(sys.stdin.read()))


if __name__ == "__main__":
    main(sys.argv[1])
