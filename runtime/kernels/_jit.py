"""The one decorator every library kernel uses.

cache=True: compiled once per (argument types, CPU) and loaded from disk afterwards, so a new
graph pays only for its own code. error_model="numpy": no zero-division checks, which would
block vectorization. nogil: kernels may run from several Python threads. A damaged cache file is rebuilt.
"""
from numba import njit

from ..cache import guard_numba_cache

_njit = njit(cache=True, error_model="numpy", nogil=True)


def kernel(fn):
    """A damaged cache file of a library kernel is rebuilt, never a crash (runtime/cache.py)."""
    return guard_numba_cache(_njit(fn))
