"""Devices: `graphc.device("cpu")`, `graphc.device("cuda")`."""
from __future__ import annotations

import threading


class Device:
    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            index = int(idx)
        if spec not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {spec!r} (expected 'cpu' or 'cuda')")
        self.type, self.index = spec, index

    def __eq__(self, other):
        try:
            other = Device(other)
        except (ValueError, TypeError):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __enter__(self):
        """`with graphc.device('cuda'):` the default device inside the block (torch's
        DeviceContext); the previous default comes back on exit."""
        _DEFAULT.stack = getattr(_DEFAULT, "stack", [])
        _DEFAULT.stack.append(_DEFAULT.device)
        _DEFAULT.device = self
        return self

    def __exit__(self, *exc):
        _DEFAULT.device = _DEFAULT.stack.pop()
        return False

    def __repr__(self):
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"


device = Device
cpu = Device("cpu")


class _DefaultDevice(threading.local):
    """The device factory functions use when given none (torch keeps it per thread)."""
    device = None  # None: the CPU


_DEFAULT = _DefaultDevice()


def set_default_device(device):
    """torch.set_default_device: the device that factory functions (`tensor`, `zeros`, `rand`,
    `arange`, ...) and modules' parameters are created on when no `device=` is given; None
    or 'cpu' restores the CPU. Nothing is checked here: as in PyTorch, creating a CUDA tensor
    without a usable CUDA device raises then (CudaUnavailable, a RuntimeError)."""
    _DEFAULT.device = None if device is None else Device(device)


def get_default_device():
    """torch.get_default_device: the CPU, or the default device with its index (as PyTorch's,
    this creates an empty tensor on it to find the index, so CUDA without a GPU raises)."""
    dev = default_device()
    if dev is None or dev.type == "cpu":
        return Device("cpu")
    if dev.index is not None:
        return dev
    from .eager.creation import empty
    return empty(0).device


def default_device():
    """The set default device (a Device), or None when it is the CPU's default."""
    return _DEFAULT.device


