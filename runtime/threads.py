"""Threads: one setting for graphc's parallel loops and every BLAS library (runtime never
imports graphc).

Numba's threading layers each fail somewhere (NUMBA_NOTES): `omp` aborts in a child forked
after parallel work, `workqueue` aborts when two Python threads enter parallel code at once.
graphc picks `workqueue` (fork-safe, no extra library) unless the user chose a layer
(NUMBA_THREADING_LAYER), and serializes entry into parallel code with one process-wide lock,
which makes calls from several Python threads safe. Programs without parallel loops (most:
on 2 cores memory-bound loops gain little) never take the lock.

The thread count is GRAPHC_NUM_THREADS, else set_num_threads(), else the cores this process
may run on. It governs, from `import graphc` on, graphc's parallel loops and the threads of
*every* BLAS library loaded (NumPy's, used by eager matmul and by the GEMMs of compiled
programs, and SciPy's, used by np.dot inside Numba code such as the conv kernels; they are two
different OpenBLAS copies), through
threadpoolctl. On top of that, compiled programs run GEMMs smaller than
BLAS_PARALLEL_MIN_WORK on one thread (`narrow_blas`): a 2-thread 128x256 GEMM gains little
on a quiet 2-core machine and stalls 10-40x when another process holds the second core.
"""
from __future__ import annotations

import os
import sys
import threading

PARALLEL_LOCK = threading.RLock()
# A GEMM (or conv) with fewer multiply-adds runs on one BLAS thread in compiled programs: at
# ~50 GMAC/s a thread does it in about 1 ms, the scale of one scheduler time slice, which a
# second thread waiting for a busy core can easily lose.
BLAS_PARALLEL_MIN_WORK = 1 << 26

_configured = False
_num_threads = None      # the user's setting, or None for the default
_blas = []               # threadpoolctl controllers of the BLAS libraries loaded
_kernel_blas = []        # those that compiled code calls (all of them)
_kernel_blas_now = None  # the thread count last set on them


def default_num_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def configure():
    """Choose the threading layer before Numba starts its thread pool, and apply the thread
    count to every BLAS library (idempotent; `import graphc` calls it)."""
    global _configured, _num_threads
    if _configured:
        return
    _configured = True
    import numba
    if not os.environ.get("NUMBA_THREADING_LAYER"):
        numba.config.THREADING_LAYER = "workqueue"
    env = os.environ.get("GRAPHC_NUM_THREADS")
    if env and _num_threads is None:
        try:
            _num_threads = max(1, int(env))
        except ValueError:
            raise ValueError(f"GRAPHC_NUM_THREADS must be a whole number, got {env!r}") from None
    _find_blas()
    _limit_blas(get_num_threads())


def _find_blas():
    """Load SciPy's BLAS (Numba's np.dot calls it) so that it is limited from the start,
    then remember every BLAS library's controller."""
    global _blas, _kernel_blas
    _load_scipy_blas()
    from threadpoolctl import ThreadpoolController
    _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    _kernel_blas = list(_blas)  # programs call NumPy's (matmul) and SciPy's (np.dot in kernels)


def _load_scipy_blas():
    """Import scipy.linalg.cython_blas (and with it SciPy's OpenBLAS) by itself, without
    scipy.linalg, whose package import takes 0.1-0.2 s: Numba's np.dot needs only this
    module, and finds it in sys.modules when it types its first BLAS call."""
    import importlib.machinery
    import importlib.util
    if "scipy.linalg" in sys.modules:
        return _import_scipy_blas()
    # OpenBLAS starts its worker threads when loaded, and they spin for ~60 ms of CPU: on
    # one thread (set by _limit_blas right after) it needs none
    unset = "OPENBLAS_NUM_THREADS" not in os.environ
    if unset:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        scipy = importlib.util.find_spec("scipy")
        folder = os.path.join(os.path.dirname(scipy.origin), "linalg")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "cython_blas" + suffix)
            if os.path.exists(path):
                spec = importlib.util.spec_from_file_location("scipy.linalg.cython_blas", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                # registered only once loaded: a failure leaves the usual import below
                sys.modules[spec.name] = module
                sys.meta_path.insert(0, _LinalgFinder())
                return
    except (AttributeError, ImportError, OSError, TypeError):
        pass
    finally:
        if unset:
            del os.environ["OPENBLAS_NUM_THREADS"]
    _import_scipy_blas()


class _LinalgFinder:
    """When scipy.linalg is imported after its cython_blas was imported by itself, the
    package gets the `cython_blas` attribute that a normal import sets (the import system
    sets it only when it loads the submodule itself). Used once, then removed."""

    def find_spec(self, name, path=None, target=None):
        if name != "scipy.linalg":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)  # (by the finders after this one)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithCythonBlas(spec.loader)
        return spec


class _WithCythonBlas:
    """A package's loader that also binds the already imported cython_blas on it."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # (get_resource_reader, is_package, ...: the real loader's)
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        blas = sys.modules.get(module.__name__ + ".cython_blas")
        if blas is not None and not hasattr(module, "cython_blas"):
            module.cython_blas = blas


def _import_scipy_blas():
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (the slow, sure way)
    except ImportError:
        pass


def _limit_blas(n):
    global _kernel_blas_now
    for controller in _blas:
        controller.set_num_threads(n)
    _kernel_blas_now = n


def narrow_blas(wide):
    """Set the compiled code's BLAS to all configured threads (wide) or one; cheap when
    nothing changes."""
    global _kernel_blas_now
    n = get_num_threads() if wide else 1
    if n != _kernel_blas_now:
        for controller in _kernel_blas:
            controller.set_num_threads(n)
        _kernel_blas_now = n


def set_num_threads(n: int) -> None:
    """Threads for parallel loops of compiled programs and for every BLAS library (at most
    the cores Numba sees)."""
    global _num_threads
    import numba
    configure()
    n = int(n)
    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"set_num_threads: {n} is not between 1 and "
                         f"{numba.config.NUMBA_NUM_THREADS}")
    _num_threads = n
    _limit_blas(n)


def get_num_threads() -> int:
    import numba
    configure()
    return min(_num_threads or default_num_threads(), numba.config.NUMBA_NUM_THREADS)


def blas_threads() -> dict:
    """{BLAS library file: its thread count now} (for `graphc info` and tests)."""
    configure()
    return {c.filepath: c.get_num_threads() for c in _blas}


def apply_num_threads():
    """Set Numba's count for this thread before entering parallel code (under the lock)."""
    import numba
    numba.set_num_threads(get_num_threads())
