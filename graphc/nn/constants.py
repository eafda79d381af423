"""NumPy constants (masks, index weights, one-hot tables) next to tensors of any device.

Eager ops do not mix devices, so a constant array used with a CUDA tensor must be a CUDA
tensor too; with CPU tensors and symbolic values the array itself is used (a graph constant
for symbolic values)."""
from __future__ import annotations

import numpy as np


def on_device_of(x, arr):
    """`arr` where x lives: a CUDA tensor for a CUDA x, else the array."""
    if getattr(x, "is_cuda", False):
        from ..eager.creation import tensor
        return tensor(np.asarray(arr), device="cuda")
    return arr
