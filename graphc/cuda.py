"""graphc.cuda: whether a CUDA device is usable (PyTorch's torch.cuda names).

Tensors and models live on the CPU; a CUDA compile target may use the GPU when one is
present. Programs written for PyTorch that check `torch.cuda.is_available()` take their CPU
path here unless a device is usable.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def is_available() -> bool:
    """True when numba can see a usable CUDA device (never raises)."""
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:  # no numba-cuda, no driver, a broken install: all mean "no"
        return False


def device_count() -> int:
    if not is_available():
        return 0
    from numba import cuda
    return len(cuda.gpus)


def manual_seed(seed):
    """Accepted for PyTorch compatibility: graphc's generator is graphc.manual_seed."""


manual_seed_all = manual_seed


def synchronize(device=None):
    if is_available():
        from numba import cuda
        cuda.synchronize()
