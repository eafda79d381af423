"""BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d/3d, RMSNorm and
LocalResponseNorm.

Running statistics are buffers (persistent tensors, graph variables). An eager forward in
training mode overwrites them at once; a symbolic forward records their new values with
`record_update`, and `model.buffer_updates()` hands those to graphc.compile(updates=...), so
that a compiled training step updates them too.
"""
from __future__ import annotations

from .. import functional as G
from ..eager.creation import ones, tensor, zeros
from ..errors import UnsupportedError
from ..ir.graph import Value
from . import functional as F, norm_functions as NF
from .module import Module
from .parameter import Parameter


def _per_channel_state(module, num_features, eps, momentum, affine, track_running_stats,
                       dtype, bias):
    """The attributes, parameters and buffers BatchNorm and InstanceNorm share (PyTorch's
    names)."""
    module.num_features, module.eps, module.momentum = num_features, eps, momentum
    module.affine, module.track_running_stats = affine, track_running_stats
    module.weight = Parameter(ones(num_features, dtype=dtype)) if affine else None
    module.bias = Parameter(zeros(num_features, dtype=dtype)) if affine and bias else None
    if track_running_stats:
        module.register_buffer("running_mean", zeros(num_features, dtype=dtype))
        module.register_buffer("running_var", ones(num_features, dtype=dtype))
        module.register_buffer("num_batches_tracked", tensor(0))
    else:
        module.running_mean = module.running_var = module.num_batches_tracked = None


class _BatchNorm(Module):
    expected_dims: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        _per_channel_state(self, num_features, eps, momentum, affine, track_running_stats,
                           dtype, bias)
        self._place(device)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def forward(self, input):
        if input.ndim not in self.expected_dims:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(map(str, self.expected_dims))}"
                             f"-D input, got shape {list(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): input has "
                             f"{input.shape[1]} channels (shape {list(input.shape)})")
        use_batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        momentum = self.momentum
        if update and momentum is None:  # cumulative average: weight 1/num_batches
            if isinstance(input, Value):
                raise UnsupportedError(f"{type(self).__name__}(momentum=None) keeps a "
                                       f"cumulative average that compiled steps do not support")
            momentum = 1.0 / (float(self.num_batches_tracked.item()) + 1)
        out, new_mean, new_var = F.batch_norm_with_stats(
            input, self.running_mean if update or not use_batch_stats else None,
            self.running_var if update or not use_batch_stats else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps)
        if update:
            if isinstance(out, Value):
                self.record_update(self.running_mean, new_mean)
                self.record_update(self.running_var, new_var)
                count = G.add(self.num_batches_tracked, 1)
                self.record_update(self.num_batches_tracked, count)
            else:
                F.write_state(self.running_mean, new_mean)
                F.write_state(self.running_var, new_var)
                count = self.num_batches_tracked
                if count.is_cuda:  # (a device array has no +=)
                    F.write_state(count, count + 1)
                else:
                    count._data += 1
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalizes (N, C) or (N, C, L) input over all dims but C."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalizes (N, C, H, W) input over N, H and W."""
    expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Normalizes (N, C, D, H, W) input over N, D, H and W."""
    expected_dims = (5,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(ones(self.normalized_shape, dtype=dtype)) \
            if elementwise_affine else None
        self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype)) \
            if elementwise_affine and bias else None
        self._place(device)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        self.weight = Parameter(ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(zeros(num_channels, dtype=dtype)) if affine and bias else None
        self._place(device)

    def forward(self, input):
        return NF.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(Module):
    spatial_dims = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        _per_channel_state(self, num_features, eps, momentum, affine, track_running_stats,
                           dtype, bias)
        self._place(device)

    def forward(self, input):
        name = type(self).__name__
        batched = self.spatial_dims + 2
        if input.ndim not in (batched - 1, batched):
            raise ValueError(f"{name}: expected {batched - 1}-D or {batched}-D input, got shape "
                             f"{list(input.shape)}")
        if input.ndim == batched - 1:
            return G.squeeze(self.forward(G.unsqueeze(input, 0)), 0)
        if self.training or not self.track_running_stats:
            out, mean, var = NF.instance_stats(input, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(G.mean(G.reshape(mean, (-1, self.num_features)), 0),
                                     G.mean(G.reshape(var, (-1, self.num_features)), 0), out)
            shape = (1, self.num_features) + (1,) * self.spatial_dims
            if self.weight is not None:
                out = G.mul(out, G.reshape(self.weight, shape))
            if self.bias is not None:
                out = G.add(out, G.reshape(self.bias, shape))
            return out
        return NF.instance_norm(input, self.running_mean, self.running_var, self.weight,
                                self.bias, False, self.momentum, self.eps)

    def _update_running(self, batch_mean, batch_var, out):
        if self.momentum is None:
            raise UnsupportedError(f"{type(self).__name__}(momentum=None) is not supported")
        m = self.momentum
        new_mean = G.add(G.mul(self.running_mean, 1 - m), G.mul(batch_mean, m))
        new_var = G.add(G.mul(self.running_var, 1 - m), G.mul(batch_var, m))
        if isinstance(out, Value):  # (PyTorch leaves num_batches_tracked at 0 here)
            self.record_update(self.running_mean, new_mean)
            self.record_update(self.running_var, new_var)
        else:
            F.write_state(self.running_mean, new_mean)
            F.write_state(self.running_var, new_var)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    spatial_dims = 3


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(ones(self.normalized_shape, dtype=dtype)) \
            if elementwise_affine else None
        self._place(device)

    def forward(self, input):
        return NF.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return NF.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
