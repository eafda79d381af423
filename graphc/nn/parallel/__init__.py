"""graphc.nn.parallel: data-parallel training (torch.nn.parallel's names)."""
from .distributed import DistributedDataParallel
from .sync_batchnorm import SyncBatchNorm

__all__ = ["DistributedDataParallel", "SyncBatchNorm"]
