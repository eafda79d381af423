"""torch.accelerator: the current accelerator, here CUDA when numba sees a usable GPU."""
from __future__ import annotations

from . import cuda
from .device import Device


def is_available():
    return cuda.is_available()


def current_accelerator(check_available=False):
    """device('cuda') when a GPU is usable, else None (PyTorch's answer without one)."""
    return Device("cuda") if cuda.is_available() else None


def device_count():
    return cuda.device_count()


def current_device_index():
    return 0 if cuda.is_available() else -1


current_device_idx = current_device_index


def set_device_index(device):
    if cuda.is_available() and int(getattr(device, "index", device) or 0) != 0:
        from .errors import UnsupportedError
        raise UnsupportedError("graphc uses one GPU (index 0)")


set_device_idx = set_device_index


def synchronize(device=None):
    cuda.synchronize()
