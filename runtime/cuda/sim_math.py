"""`math` for kernels run by Numba's CUDA simulator, with a GPU's answers at special values.

The simulator runs a kernel's `math.log(x)` as Python's, which raises ValueError or
OverflowError where CUDA's libdevice returns an IEEE value (log(0) = -inf, sqrt(-1) = nan,
exp(1000) = inf). Simulated elementwise kernels import `ieee_math` as `math` instead: the same
functions, falling back to NumPy's IEEE result where Python's would raise, so tests on the
simulator see what a GPU computes.
"""
from __future__ import annotations

import math
import types

import numpy as np

# math functions whose NumPy twin gives the IEEE result (same argument order)
_NUMPY = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
          "log10": np.log10, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
          "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
          "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh,
          "atanh": np.arctanh, "atan2": np.arctan2, "hypot": np.hypot, "pow": np.power,
          "fmod": np.fmod}


def _ieee(name, fn):
    def call(*args):
        try:
            return fn(*args)
        except (ValueError, OverflowError, ZeroDivisionError):
            if name == "lgamma":  # poles at 0 and the negative integers
                return math.inf
            twin = _NUMPY.get(name)
            if twin is None:
                return math.nan
            with np.errstate(all="ignore"):
                return float(twin(*(np.float64(a) for a in args)))
    call.__name__ = name
    return call


ieee_math = types.SimpleNamespace(**{
    name: _ieee(name, value) if callable(value) else value
    for name, value in vars(math).items() if not name.startswith("_")})
