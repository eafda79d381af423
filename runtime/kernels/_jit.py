"""The one decorator every library kernel uses.

cache=True: compiled once per (argument types, CPU) and loaded from disk afterwards, so a new
graph pays only for its own code. error_model="numpy": no zero-division checks, which would
block vectorization. nogil: kernels may run from several Python threads. A damaged cache file is rebuilt.

`@kernel(fastmath={...})` adds LLVM fast-math flags for kernels whose sums may be reordered
("reassoc": a running sum kept in vector registers, measured 5-7x faster for float64 sums of
float32 data) or fused ("contract": multiply-adds as FMA instructions); each kernel says why.
"""
from numba import njit

from ..cache import guard_numba_cache

_njit = njit(cache=True, error_model="numpy", nogil=True)


def kernel(fn=None, *, fastmath=False):
    """A damaged cache file of a library kernel is rebuilt, never a crash (runtime/cache.py)."""
    if fn is None:
        return lambda f: guard_numba_cache(njit(cache=True, error_model="numpy", nogil=True,
                                                fastmath=fastmath)(f))
    return guard_numba_cache(_njit(fn))
