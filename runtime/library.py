"""Precompiled helpers that generated programs call (cached on disk by Numba, once).

Typing np.dot inside every generated program costs seconds of compile time per call site;
calling these cached wrappers costs a cache load instead. Generated modules import them by
name, and their cache key includes this file's hash (runtime.cache), so a change here
recompiles the programs that call them.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from runtime.cache import guard_numba_cache

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")


@guard_numba_cache
@njit(**_FLAGS)
def gemm(a, b, out):
    """out = a @ b for 2-D float arrays (C or Fortran order), by BLAS."""
    np.dot(a, b, out)


@guard_numba_cache
@njit(**_FLAGS)
def inverse(a):
    return np.linalg.inv(a)


@intrinsic
def f32_from_bits(typingctx, bits):
    """The float32 whose bits are the low 32 bits of an integer (an LLVM bitcast, inlined:
    loops using it stay vectorizable)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        if bits.bitwidth > 32:
            value = builder.trunc(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())
    return types.float32(bits), codegen
