"""Threading setup for compiled programs (runtime never imports graphc).

Numba's threading layers each fail somewhere (NUMBA_NOTES): `omp` aborts in a child forked
after parallel work, `workqueue` aborts when two Python threads enter parallel code at once.
graphc picks `workqueue` (fork-safe, no extra library) unless the user chose a layer
(NUMBA_THREADING_LAYER), and serializes entry into parallel code with one process-wide lock,
which makes calls from several Python threads safe. Programs without parallel loops (most:
on 2 cores memory-bound loops gain little) never take the lock.

The thread count comes from GRAPHC_NUM_THREADS (default: all cores) and set_num_threads().
When it is set, it also caps the BLAS libraries' threads (through threadpoolctl, if
installed): on a busy 2-core machine a 2-thread GEMM can stall many times over, and
GRAPHC_NUM_THREADS=1 keeps step times steady.
"""
from __future__ import annotations

import os
import threading

PARALLEL_LOCK = threading.RLock()
_configured = False
_num_threads = None


def configure():
    """Choose the threading layer before Numba starts its thread pool (idempotent)."""
    global _configured, _num_threads
    if _configured:
        return
    _configured = True
    import numba
    if not os.environ.get("NUMBA_THREADING_LAYER"):
        numba.config.THREADING_LAYER = "workqueue"
    env = os.environ.get("GRAPHC_NUM_THREADS")
    if env and _num_threads is None:
        _num_threads = max(1, int(env))
        _limit_blas(_num_threads)


def _limit_blas(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own thread count
        return
    threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n: int) -> None:
    """Threads used by parallel loops of compiled programs (at most the cores Numba sees)."""
    global _num_threads
    import numba
    n = int(n)
    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"set_num_threads: {n} is not between 1 and "
                         f"{numba.config.NUMBA_NUM_THREADS}")
    _num_threads = n
    _limit_blas(n)


def get_num_threads() -> int:
    import numba
    configure()
    return _num_threads or numba.config.NUMBA_NUM_THREADS


def apply_num_threads():
    """Set Numba's count for this thread before entering parallel code (under the lock)."""
    import numba
    numba.set_num_threads(get_num_threads())
