"""CUDA runtime: device detection, device buffers, launch configuration and kernels.

Knows arrays and kernels only (never imports graphc). Everything here imports without
numba-cuda or a GPU; asking for the device then raises CudaUnavailable with the reason.
Tests run on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 set before numba is imported).
"""
from .device import (CudaUnavailable, cuda, device_count, import_numba_cuda, is_available,
                     is_device_array, require, simulated, synchronize)

__all__ = ["CudaUnavailable", "cuda", "device_count", "import_numba_cuda", "is_available",
           "is_device_array", "require", "simulated", "synchronize"]
