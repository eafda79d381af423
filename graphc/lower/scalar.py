"""Scalar expressions for the cpu target's generated modules.

The table of scalar semantics itself (`expression`, typed literals, the dtype constructors'
short names) is graphc/ops/scalar.py, shared with the CUDA target; this module adds what
only the cpu's generated modules need: their prelude and the fast float32 helpers.
"""
from __future__ import annotations

from ..ops.scalar import CTOR, expression, literal  # noqa: F401 - re-exported for lowering

PRELUDE = """\
import math
import numpy as np
from numba import njit, prange
u8, i8, i16, i32, i64 = np.uint8, np.int8, np.int16, np.int32, np.int64
f32, f64 = np.float32, np.float64
"""

_LIBRARY_NAMES = ("f32_from_bits", "gemm", "inverse")


def prelude(code):
    """PRELUDE, and the runtime/library.py helpers `code` calls (importing them costs a
    warm start a few ms: most kernels call none)."""
    used = [name for name in _LIBRARY_NAMES if name + "(" in code]
    return PRELUDE + (f"from runtime.library import {', '.join(used)}\n" if used else "")

# Rational tanh for float32 (the minimax approximation Eigen uses): |error| < 2e-7 relative
# over the clamped range, branch-free, so LLVM vectorizes it (no SVML here: math.tanh is a
# scalar libm call). Beyond |x| > 7.9 float32 tanh is +-1 exactly.
FAST_HELPERS = {
    "tanh": """
@njit(cache=True, nogil=True, error_model="numpy", fastmath={fastmath})
def fast_tanh(x):
    c = f32(7.90531110763549805)
    x = c if x > c else x
    x = -c if x < -c else x
    x2 = x * x
    p = x2 * f32(-2.76076847742355e-16) + f32(2.00018790482477e-13)
    p = p * x2 + f32(-8.60467152213735e-11)
    p = p * x2 + f32(5.12229709037114e-08)
    p = p * x2 + f32(1.48572235717979e-05)
    p = p * x2 + f32(6.37261928875436e-04)
    p = p * x2 + f32(4.89352455891786e-03)
    q = x2 * f32(1.19825839466702e-06) + f32(1.18534705686654e-04)
    q = q * x2 + f32(2.26843463243900e-03)
    q = q * x2 + f32(4.89352518554385e-03)
    return x * p / q
""",
    # Cephes' expf: Cody-Waite reduction by ln 2, degree-5 polynomial, 2**n built from its
    # bits. Relative error < 2e-7 (about 2 ulp) where the result is a normal float32;
    # overflow gives inf, results below 1e-38 flush to 0; NaN stays NaN.
    "exp": """
@njit(cache=True, nogil=True, error_model="numpy", fastmath={fastmath})
def fast_exp(x):
    t = f32(88.7) if x > f32(88.7) else x
    t = f32(-87.3) if t < f32(-87.3) else t
    n = np.floor(t * f32(1.44269504088896341) + f32(0.5))
    r = t - n * f32(0.693359375) + n * f32(2.12194440e-4)
    y = f32(1.9875691500e-4) * r + f32(1.3981999507e-3)
    y = y * r + f32(8.3334519073e-3)
    y = y * r + f32(4.1665795894e-2)
    y = y * r + f32(1.6666665459e-1)
    y = y * r + f32(5.0000001201e-1)
    y = y * r * r + r + f32(1.0)
    y = y * f32_from_bits(i32(n + f32(127.0)) << i32(23))
    y = np.float32(np.inf) if x > f32(88.72283) else y
    y = f32(0.0) if x < f32(-87.3) else y
    return y if x == x else x
""",
}
