"""The one decorator every library kernel uses.

cache=True: compiled once per (argument types, CPU) and loaded from disk afterwards, so a new
graph pays only for its own code. error_model="numpy": no zero-division checks, which would
block vectorization. nogil: kernels may run from several Python threads.
"""
from numba import njit

kernel = njit(cache=True, error_model="numpy", nogil=True)
