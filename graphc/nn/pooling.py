"""Pooling that is a composite of graphc ops: adaptive max pooling (1-D / 2-D / 3-D), adaptive
average pooling (3-D), power-average (LP) pooling, max unpooling, and Unfold / Fold (im2col
and its adjoint)."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..errors import UnsupportedError
from ..ir.graph import Value
from ..ops import shape as S
from . import functional as F
from .module import Module
from .constants import on_device_of
from .indexed_pool import (adaptive_max_pool1d, adaptive_max_pool2d,  # noqa: F401
                           adaptive_max_pool3d)


def _adaptive_ranges(n_in, n_out):
    """PyTorch's adaptive windows: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [(i * n_in // n_out, -(-(i + 1) * n_in // n_out)) for i in range(n_out)]


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, dims):
    """(sum over the window of x^p)^(1/p), as PyTorch: avg_pool * window size, then the root of
    sign(s) relu(|s|); p = +-inf is the max of |x| (minus the max of -|x|)."""
    from .volumetric import avg_pool3d, max_pool3d  # (volumetric imports indexed_pool)
    avg = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: avg_pool3d}[dims]
    max_pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: max_pool3d}[dims]
    if norm_type == float("inf"):
        return max_pool(G.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return G.neg(max_pool(G.neg(G.abs(input)), kernel_size, stride, 0, 1, ceil_mode))
    window = int(np.prod((kernel_size,) * dims if isinstance(kernel_size, int)
                         else kernel_size))
    pooled = avg(G.pow(input, float(norm_type)), kernel_size, stride, 0, ceil_mode)
    total = G.mul(G.mul(G.sign(pooled), G.relu(G.abs(pooled))), window)
    return G.pow(total, 1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _blocks(size, kernel, dilation, padding, stride):
    return [(size[d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1
            for d in range(2)]


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kh * kw, L): every sliding block as a column (im2col)."""
    if input.ndim not in (3, 4):
        raise ValueError(f"unfold: expected 3-D or 4-D input, got shape {list(input.shape)}")
    if input.ndim == 3:
        return G.squeeze(unfold(G.unsqueeze(input, 0), kernel_size, dilation, padding,
                                stride), 0)
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    x = G.pad(input, (p[1], p[1], p[0], p[0])) if any(p) else input
    oh, ow = _blocks(input.shape[2:], k, d, p, s)
    cols = []
    for i in range(k[0]):
        for j in range(k[1]):
            cols.append(x[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0],
                          j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]])
    n, c = input.shape[0], input.shape[1]
    stacked = G.stack(cols, 2)  # (N, C, kh * kw, oh, ow)
    return G.reshape(stacked, (-1 if not isinstance(n, int) else n, c * k[0] * k[1], oh * ow))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: columns summed back into (N, C, H, W) (overlaps add up)."""
    if input.ndim not in (2, 3):
        raise ValueError(f"fold: expected 2-D or 3-D input, got shape {list(input.shape)}")
    if input.ndim == 2:
        return G.squeeze(fold(G.unsqueeze(input, 0), output_size, kernel_size, dilation,
                              padding, stride), 0)
    size, k = _pair(output_size), _pair(kernel_size)
    d, p, s = _pair(dilation), _pair(padding), _pair(stride)
    oh, ow = _blocks(size, k, d, p, s)
    channels_k = input.shape[1]
    if channels_k % (k[0] * k[1]) or oh * ow != input.shape[2]:
        raise ValueError(f"fold: input of shape {list(input.shape)} does not fit kernel "
                         f"{k} and output size {size} ({oh * ow} blocks)")
    c = channels_k // (k[0] * k[1])
    blocks = G.reshape(input, (-1, c, k[0] * k[1], oh, ow))
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    like = G.add(on_device_of(input, np.zeros((1, c, hp, wp), input.dtype.np)),
                 G.reshape(G.full_like(input[:, :1, :1], 0.0), (-1, 1, 1, 1)))
    out = None
    for i in range(k[0]):
        for j in range(k[1]):
            index = (("slice", None, None, None), ("slice", None, None, None),
                     ("slice", i * d[0], i * d[0] + s[0] * (oh - 1) + 1, s[0]),
                     ("slice", j * d[1], j * d[1] + s[1] * (ow - 1) + 1, s[1]))
            placed = S.slice_backward(blocks[:, :, i * k[1] + j], like, index=index)
            out = placed if out is None else G.add(out, placed)
    if any(p):
        out = out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return out


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    def forward(self, input):
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)


class LPPool2d(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        return lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(LPPool2d):
    def forward(self, input):
        return lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


class LPPool3d(LPPool2d):
    def forward(self, input):
        return lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


class Unfold(Module):
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")




# ---- max unpooling: values written back where max pooling found them --------------------------------
def _max_unpool(input, indices, kernel_size, stride, padding, output_size, dims, name):
    k = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
    s = k if stride is None else ((stride,) * dims if isinstance(stride, int) else tuple(stride))
    p = (padding,) * dims if isinstance(padding, int) else tuple(padding)
    batched = input.ndim == dims + 2
    if not batched:
        input, indices = G.unsqueeze(input, 0), G.unsqueeze(indices, 0)
    n, c = input.shape[0], input.shape[1]
    spatial_in = input.shape[2:]
    default = [(spatial_in[d] - 1) * s[d] - 2 * p[d] + k[d] for d in range(dims)]
    size = default if output_size is None else list(output_size)[-dims:]
    if not isinstance(n, int):
        raise UnsupportedError(f"{name}: the batch size must be known (got input shape "
                               f"{list(input.shape)})")
    if isinstance(indices, Value) and any(sd < kd for sd, kd in zip(s, k)):
        raise UnsupportedError(f"{name}: overlapping windows (stride < kernel_size) with "
                               f"symbolic indices: a position picked twice would be written "
                               f"twice; use eager indices")
    total = int(np.prod(size))
    flat_in = int(np.prod(spatial_in))
    values = G.reshape(input, (n, c, flat_in))
    positions = G.reshape(indices, (n, c, flat_in))
    if not isinstance(indices, Value):  # a position picked by two windows is written once
        pos = np.asarray(indices.detach().cpu().numpy()).reshape(n, c, flat_in)
        first = np.zeros(pos.shape, bool)
        for a in range(n):
            for b in range(c):
                _, keep = np.unique(pos[a, b], return_index=True)
                first[a, b, keep] = True
        if not first.all():
            values = G.mul(values, on_device_of(input, first.astype(input.dtype.np)))
    like = G.add(on_device_of(input, np.zeros((n, c, total), input.dtype.np)),
                 G.reshape(G.full_like(values[:, :, :1], 0.0), (n, c, 1)))
    rows = np.arange(n).reshape(n, 1, 1)
    chans = np.arange(c).reshape(1, c, 1)
    out = S.index_backward(values, like, np.broadcast_to(rows, (n, c, flat_in)),
                           np.broadcast_to(chans, (n, c, flat_in)), positions, axis=0)
    out = G.reshape(out, (n, c) + tuple(size))
    return out if batched else G.squeeze(out, 0)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2,
                       "max_unpool2d")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1,
                       "max_unpool1d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3,
                       "max_unpool3d")


class MaxUnpool2d(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        n = self.dims
        self.kernel_size = (kernel_size,) * n if isinstance(kernel_size, int) else kernel_size
        stride = kernel_size if stride is None else stride
        self.stride = (stride,) * n if isinstance(stride, int) else stride
        self.padding = (padding,) * n if isinstance(padding, int) else padding

    def forward(self, input, indices, output_size=None):
        return _max_unpool(input, indices, self.kernel_size, self.stride, self.padding,
                           output_size, self.dims, type(self).__name__)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(MaxUnpool2d):
    dims = 1


class MaxUnpool3d(MaxUnpool2d):
    dims = 3


# ---- adaptive pooling of any rank: separable window reductions --------------------------------
def _adaptive_along(x, axis, n_out, reduce):
    n_in = x.shape[axis]
    parts = []
    for start, stop in _adaptive_ranges(n_in, n_out):
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, stop)
        parts.append(reduce(x[tuple(index)], axis, keepdim=True))
    return G.cat(parts, axis)


def _adaptive3d(input, output_size, reduce, name):
    if input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected 4-D or 5-D input, got shape {list(input.shape)}")
    sizes = (output_size,) * 3 if isinstance(output_size, int) else tuple(output_size)
    out = input
    for k, size in enumerate(sizes):
        axis = input.ndim - 3 + k
        out = _adaptive_along(out, axis, input.shape[axis] if size is None else size, reduce)
    return out


def adaptive_avg_pool3d(input, output_size):
    return _adaptive3d(input, output_size, G.mean, "adaptive_avg_pool3d")


class AdaptiveAvgPool3d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return adaptive_avg_pool3d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    def forward(self, input):
        return adaptive_max_pool3d(input, self.output_size, self.return_indices)
