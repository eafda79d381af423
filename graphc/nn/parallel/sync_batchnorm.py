"""SyncBatchNorm: batch statistics over the global batch of all ranks (eager training).

Each rank sums its inputs and their squares per channel; one `all_reduce` op adds them (and
the sample counts) over the ranks, so every rank normalizes with the mean and variance of
the whole batch, exactly as one process with the concatenated batch would. The `all_reduce`
op is recorded on the tape like any op: its gradient rule all-reduces the cotangents, so
backward is synchronized too. Sums are taken in float64 for float32 inputs (the one-pass
variance E[x^2] - E[x]^2 needs the extra precision).
"""
from __future__ import annotations

from ... import distributed as dist
from ... import functional as G
from ...eager.tensor import Tensor
from ...errors import UnsupportedError
from ...ir.graph import Value
from ...ops.collective import all_reduce as all_reduce_op
from ...types import float32, float64
from .. import functional as F
from ..normalization import _BatchNorm


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm: BatchNorm whose training statistics cover every rank's batch.

    Outside training, without a process group or with one rank it is BatchNorm (in compiled
    steps too). Compiled steps on several ranks do not support it (its forward and backward
    would each communicate).
    """
    expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        dist.process_group._check_group(process_group)

    def forward(self, input):
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2-D input, got shape "
                             f"{list(input.shape)}")
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)  # the local batch is the global one: BatchNorm
        if isinstance(input, Value) or Tensor._trace is not None:
            raise UnsupportedError("SyncBatchNorm in a compiled step: its statistics and their "
                                   "gradients would each need an allreduce inside the step; "
                                   "use BatchNorm (DistributedDataParallel broadcasts its "
                                   "statistics) or train eagerly")
        if self.momentum is None:
            raise UnsupportedError("SyncBatchNorm(momentum=None) is not supported")
        channels = input.shape[1]
        dims = (0,) + tuple(range(2, input.ndim))
        wide = input.to(float64) if input.dtype is float32 else input
        count = G.full_like(G.sum(wide, dims), float(input.numel() // channels))
        totals = all_reduce_op(G.cat([G.sum(wide, dims), G.sum(wide * wide, dims), count]),
                               reduce="sum")
        n = totals[2 * channels:]
        mean = totals[:channels] / n
        var = totals[channels:2 * channels] / n - mean * mean
        stat_shape = (1, channels) + (1,) * (input.ndim - 2)
        out = (input - mean.to(input.dtype).reshape(stat_shape)) * G.rsqrt(
            var.to(input.dtype).reshape(stat_shape) + self.eps)
        if self.weight is not None:
            out = out * self.weight.reshape(stat_shape)
        if self.bias is not None:
            out = out + self.bias.reshape(stat_shape)
        if self.track_running_stats:
            batch_mean, unbiased_var = mean.detach(), (var * n / (n - 1)).detach()
            m = self.momentum
            F.write_state(self.running_mean, self.running_mean * (1 - m)
                          + batch_mean.to(self.running_mean.dtype) * m)
            F.write_state(self.running_var, self.running_var * (1 - m)
                          + unbiased_var.to(self.running_var.dtype) * m)
            self.num_batches_tracked._data += 1
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """`module` with every BatchNorm*d replaced by a SyncBatchNorm sharing its parameters
        and statistics (torch.nn.SyncBatchNorm.convert_sync_batchnorm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            sync = cls.__new__(cls)
            _BatchNorm.__init__(sync, module.num_features, module.eps, module.momentum,
                                module.affine, module.track_running_stats,
                                bias=module.bias is not None or not module.affine)
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(sync, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, name) is not None:
                    sync.register_buffer(name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module
