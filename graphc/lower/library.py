"""Precompiled helpers that generated programs call (cached on disk by Numba, once).

Typing np.dot inside every generated program costs seconds of compile time per call site;
calling these cached wrappers costs a cache load instead. Generated modules import them by
name, and their cache key includes this file's hash (runtime.cache), so a change here
recompiles the programs that call them.
"""
import numpy as np
from numba import njit

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_FLAGS)
def gemm(a, b, out):
    """out = a @ b for 2-D float arrays (C or Fortran order), by BLAS."""
    np.dot(a, b, out)


@njit(**_FLAGS)
def inverse(a):
    return np.linalg.inv(a)
