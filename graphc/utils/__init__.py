"""graphc.utils: PyTorch's torch.utils namespace for the covered parts (data)."""
from . import data

__all__ = ["data"]
