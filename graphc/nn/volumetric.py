"""3-D convolution and pooling over (N, C, D, H, W) as composites of the 2-D ops: each
output depth slice sums (or takes the max of) the 2-D op over the depth taps of its window.
The number of 2-D calls is (output depth) x (kernel depth); fine for the small volumes of
tests and examples, a dedicated kernel would be faster."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..ops import elementwise as E
from . import functional as F
from .conv import _ConvNd, _ntuple
from .module import Module
from .constants import on_device_of
from .indexed_pool import max_with_indices, strided_taps


def _unbatched(fn, input, name):
    if input.ndim == 4:
        return G.squeeze(fn(G.unsqueeze(input, 0)), 0)
    if input.ndim != 5:
        raise ValueError(f"{name}: expected 4-D or 5-D input, got shape {list(input.shape)}")
    return fn(input)


def _out_size(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape (a last window must start inside the input or the
    left padding)."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    s, d = _ntuple(stride, 3), _ntuple(dilation, 3)
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0, 0)
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError("padding='same' is not supported for strided convolutions")
            total = [dd * (kk - 1) for dd, kk in zip(d, k)]
            pads = tuple(v for t in reversed(total) for v in (t // 2, t - t // 2))
            return conv3d(F.pad(input, pads), weight, bias, s, 0, d, groups)
        else:
            raise ValueError(f"conv3d: invalid padding string {padding!r}")
    p = _ntuple(padding, 3)

    def run(x):
        if p[0]:
            x = G.pad(x, (0, 0, 0, 0, p[0], p[0]))
        depth = (x.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
        if depth < 1:
            raise ValueError(f"conv3d: kernel depth {k[0]} larger than the padded input depth "
                             f"{x.shape[2]}")
        slices = []
        for od in range(depth):
            acc = None
            for kd in range(k[0]):
                term = F.conv2d(x[:, :, od * s[0] + kd * d[0]], weight[:, :, kd], None,
                                s[1:], p[1:], d[1:], groups)
                acc = term if acc is None else G.add(acc, term)
            slices.append(acc)
        out = G.stack(slices, 2)
        return out if bias is None else G.add(out, G.reshape(bias, (1, -1, 1, 1, 1)))
    return _unbatched(run, input, "conv3d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """The adjoint of conv3d: input depth slice i, kernel tap k lands on output depth
    i * stride - padding + k * dilation (the 2-D transposed conv does height and width)."""
    s, p, op = _ntuple(stride, 3), _ntuple(padding, 3), _ntuple(output_padding, 3)
    d = _ntuple(dilation, 3)
    k = tuple(weight.shape[2:])

    def run(x):
        depth_in = x.shape[2]
        depth = (depth_in - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
        slices = [None] * depth
        for i in range(depth_in):
            for kd in range(k[0]):
                od = i * s[0] - p[0] + kd * d[0]
                if not 0 <= od < depth:
                    continue
                term = F.conv_transpose2d(x[:, :, i], weight[:, :, kd], None, s[1:], p[1:],
                                          op[1:], groups, d[1:])
                slices[od] = term if slices[od] is None else G.add(slices[od], term)
        filled = next(t for t in slices if t is not None)
        slices = [G.full_like(filled, 0.0) if t is None else t for t in slices]
        out = G.stack(slices, 2)
        return out if bias is None else G.add(out, G.reshape(bias, (1, -1, 1, 1, 1)))
    return _unbatched(run, input, "conv_transpose3d")


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    k = _ntuple(kernel_size, 3)
    s = k if stride is None or stride == [] else _ntuple(stride, 3)
    p, d = _ntuple(padding, 3), _ntuple(dilation, 3)
    if return_indices:  # one gather over a window table (indexed_pool.py)
        return _max_pool3d_with_indices(input, k, s, p, d, ceil_mode)

    def run(x):
        n = x.shape[2]
        depth = _out_size(n, k[0], s[0], p[0], d[0], ceil_mode)
        out = []
        for od in range(depth):
            taps = [od * s[0] - p[0] + kd * d[0] for kd in range(k[0])]
            taps = [t for t in taps if 0 <= t < n]  # padding taps are -inf: never the max
            pooled = [F.max_pool2d(x[:, :, t], k[1:], s[1:], p[1:], d[1:], ceil_mode)
                      for t in taps]
            acc = pooled[0]
            for other in pooled[1:]:  # PyTorch's scan: a later tap wins if larger, or NaN
                later = G.logical_or(G.gt(other, acc), E.isnan(other))
                acc = G.where(later, other, acc)  # (maximum would share the gradient at ties)
            out.append(acc)
        return G.stack(out, 2)
    return _unbatched(run, input, "max_pool3d")


def _max_pool3d_with_indices(input, k, s, p, d, ceil_mode):
    if input.ndim not in (4, 5):
        raise ValueError(f"max_pool3d: expected 4-D or 5-D input, got shape "
                         f"{list(input.shape)}")
    spatial = tuple(input.shape[-3:])
    if any(2 * p[i] > k[i] for i in range(3)):
        raise ValueError(f"max_pool3d: pad should be at most half of effective kernel size, "
                         f"but got pad={p} and kernel_size={k}")
    taps = []
    for i in range(3):
        out = _out_size(spatial[i], k[i], s[i], p[i], d[i], ceil_mode)
        if out <= 0:
            raise ValueError(f"max_pool3d: output size is too small for input "
                             f"{list(input.shape)}")
        taps.append(strided_taps(spatial[i], out, k[i], s[i], p[i], d[i]))
    return max_with_indices(input, 3, taps)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _window_divisors(n, k, s, p, out, count_include_pad):
    starts = np.arange(out) * s - p
    ends = np.minimum(starts + k, n + p)
    if count_include_pad:
        return (ends - starts).astype(np.float64)
    return (np.minimum(ends, n) - np.maximum(starts, 0)).astype(np.float64)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    k = _ntuple(kernel_size, 3)
    s = k if stride is None or stride == [] else _ntuple(stride, 3)
    p = _ntuple(padding, 3)

    def run(x):
        sizes = x.shape[2:]
        outs = [_out_size(sizes[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(3)]
        slices = []
        for od in range(outs[0]):
            taps = [od * s[0] - p[0] + kd for kd in range(k[0])]
            sums = [F.avg_pool2d(x[:, :, t], k[1:], s[1:], p[1:], ceil_mode, True, 1)
                    for t in taps if 0 <= t < sizes[0]]
            acc = sums[0]
            for other in sums[1:]:
                acc = G.add(acc, other)
            slices.append(acc)
        total = G.stack(slices, 2)
        if divisor_override:
            return G.div(total, float(divisor_override))
        div = [_window_divisors(sizes[i], k[i], s[i], p[i], outs[i], count_include_pad)
               for i in range(3)]
        divisor = div[0][:, None, None] * div[1][None, :, None] * div[2][None, None, :]
        return G.div(total, on_device_of(x, divisor.astype(x.dtype.np)))
    return _unbatched(run, input, "avg_pool3d")


class Conv3d(_ConvNd):
    """3-D cross-correlation; weight (out_channels, in_channels/groups, kD, kH, kW)."""
    dims = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, (out_channels, in_channels // groups),
                         dtype)
        self._place(device)

    def forward(self, input):
        x, padding = self._conv_input(input)
        return conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups)


class ConvTranspose3d(_ConvNd):
    """The gradient of Conv3d as a layer; weight (in_channels, out_channels/groups, kD, kH, kW)."""
    dims = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        self.output_padding = _ntuple(output_padding, 3)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, (in_channels, out_channels // groups),
                         dtype, transposed=True)
        self._place(device)

    def forward(self, input, output_size=None):
        from .conv import ConvTranspose2d
        pads = ConvTranspose2d._output_padding(self, input, output_size)
        return conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                pads, self.groups, self.dilation)


class MaxPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
