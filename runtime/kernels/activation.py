"""ReLU and its gradient, one pass each, for eager mode on large arrays.

NumPy's `maximum(x, 0)` checks for NaN element by element and `where(x > 0, g, 0)` runs a
masked loop that mispredicts on every sign change: on a 64x16x32x32 float32 activation
(a ResNet block's), 0.35 ms and 4.7 ms against 0.08 ms and 0.13 ms here, where LLVM turns
the comparison into a vector select. Arrays are flat and contiguous; outputs preallocated.
"""
from __future__ import annotations

from ._jit import kernel


@kernel
def relu(x, out):
    """relu(x[n], out[n]): max(x, 0), NaN kept (PyTorch's relu)"""
    for i in range(x.size):
        v = x[i]
        out[i] = v if not v < 0 else 0


@kernel
def relu_backward(g, x, out):
    """relu_backward(g[n], x[n], out[n]): g where x > 0, else 0 (PyTorch's threshold_backward:
    0 where x <= 0 or x is NaN, even for a NaN or infinite g)"""
    for i in range(x.size):
        out[i] = g[i] if x[i] > 0 else 0
