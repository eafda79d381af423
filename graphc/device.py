"""Devices: `graphc.device("cpu")`, `graphc.device("cuda")`."""
from __future__ import annotations


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

    def __repr__(self):
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"


device = Device
cpu = Device("cpu")


def set_default_device(device):
    """torch.set_default_device: the CPU (or None) is what graphc creates tensors on; making
    CUDA the default for every creation function is not supported yet: move with .to()."""
    if device is not None and Device(device).type != "cpu":
        from .errors import UnsupportedError
        raise UnsupportedError(f"set_default_device({str(device)!r}): only the CPU can be the "
                               f"default device; create tensors and move them with "
                               f".to({str(device)!r})")


def get_default_device():
    return cpu
