"""The one decorator of the CUDA library's kernels (runtime/cuda/kernels_*.py).

On a real GPU each kernel is cached on disk per argument types and compute capability, as
the generated elementwise kernels are (runtime/cuda/elementwise.py): a warm start loads it
instead of compiling it again. The simulator runs kernels as Python and caches nothing. A
damaged cache file is rebuilt, never a crash (runtime/cache.py).
"""
from numba import cuda

from ..cache import guard_numba_cache
from .device import simulated


def library_kernel(fn):
    return guard_numba_cache(cuda.jit(cache=not simulated())(fn))
