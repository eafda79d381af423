"""graphc.nn.parallel: data-parallel training (torch.nn.parallel's names)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
