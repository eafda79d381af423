"""graphc.nn.parallel (torch.nn.parallel's names): DataParallel on one device is its module
(state_dict keys keep PyTorch's 'module.' prefix); multi-process data-parallel training is
DistributedDataParallel on MPI (graphc.distributed)."""
from __future__ import annotations

from ...errors import UnsupportedError
from ..module import Module
from .distributed import DistributedDataParallel
from .sync_batchnorm import SyncBatchNorm

__all__ = ["DataParallel", "DistributedDataParallel", "SyncBatchNorm", "data_parallel"]


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            raise UnsupportedError("DataParallel: graphc runs on one device; give at most one "
                                   "device id (DistributedDataParallel trains on several "
                                   "processes)")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
