"""Is CUDA usable here (a real GPU, Numba's simulator, or neither), imported lazily."""
from __future__ import annotations

import os

_module = None


class CudaUnavailable(RuntimeError):
    """CUDA was asked for but cannot be used on this machine."""


def import_numba_cuda():
    """numba.cuda (not yet the device): CudaUnavailable, not ImportError, without numba-cuda."""
    global _module
    if _module is None:
        try:
            from numba import cuda as module
        except ImportError as e:  # numba without its CUDA part
            raise CudaUnavailable(f"CUDA support needs numba-cuda (pip install 'graphc[cuda]'): "
                                  f"{e}") from None
        _module = module
    return _module


def simulated() -> bool:
    """True when Numba's CUDA simulator is on (it must be chosen before numba is imported)."""
    try:
        from numba import config
        return bool(config.ENABLE_CUDASIM)
    except (ImportError, AttributeError):
        return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def is_available() -> bool:
    try:
        module = import_numba_cuda()
        return bool(module.is_available())
    except Exception:  # no driver, no toolkit, broken install: all mean "not usable"
        return False


def require():
    """The numba.cuda module, or CudaUnavailable explaining why CUDA cannot be used."""
    if not is_available():
        raise CudaUnavailable(
            "CUDA is not available: no usable NVIDIA GPU and driver were found "
            "(numba.cuda.is_available() is False). Install graphc[cuda] on a machine with a "
            "GPU, or set NUMBA_ENABLE_CUDASIM=1 before numba is imported to use the simulator.")
    return import_numba_cuda()


def cuda():
    return require()


def device_count() -> int:
    if not is_available():
        return 0
    return 1 if simulated() else len(import_numba_cuda().gpus)


def synchronize():
    require().synchronize()


def is_device_array(a) -> bool:
    """A CUDA device array (a numba device array, or the simulator's stand-in)."""
    return hasattr(a, "copy_to_host")
