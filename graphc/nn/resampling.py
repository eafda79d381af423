"""Resampling with PyTorch's index arithmetic: F.interpolate / Upsample (nearest,
nearest-exact, linear / bilinear / trilinear, area; align_corners), pixel shuffle and unshuffle,
channel shuffle.

Interpolation gathers each spatial dim with index arrays computed here (float32 coordinates
for nearest, as PyTorch's CPU kernels), so gradients add up where a source feeds several
outputs; linear modes are separable blends of two gathers per dim.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import functional as G
from ..errors import UnsupportedError
from ..ops import shape as S
from .module import Module
from .constants import on_device_of

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _output_sizes(input, size, scale_factor, name):
    spatial = list(input.shape[2:])
    n = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [size] * n if isinstance(size, int) else list(size)
        if len(sizes) != n:
            raise ValueError(f"{name}: size {size} does not fit input of shape "
                             f"{list(input.shape)} ({n} spatial dims)")
        return [int(s) for s in sizes], [None] * n
    scales = [scale_factor] * n if isinstance(scale_factor, (int, float)) \
        else list(scale_factor)
    if len(scales) != n:
        raise ValueError(f"{name}: scale_factor {scale_factor} does not fit input of shape "
                         f"{list(input.shape)} ({n} spatial dims)")
    return [int(math.floor(float(s) * f)) for s, f in zip(spatial, scales)], \
        [float(f) for f in scales]


def _nearest_index(n_in, n_out, scale, exact):
    if n_out == n_in:
        return np.arange(n_out)
    s = np.float32(1.0 / scale) if scale is not None else np.float32(n_in) / np.float32(n_out)
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor(((dst + np.float32(0.5)) if exact else dst) * s).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _linear_weights(n_in, n_out, scale, align_corners, dtype):
    """(i0, i1, lambda) of PyTorch's area_pixel_compute_source_index for linear modes."""
    ft = np.float32 if dtype == np.float32 else np.float64
    if align_corners:
        s = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        src = s * np.arange(n_out, dtype=ft)
    else:
        s = ft(1.0 / scale) if scale is not None else ft(n_in) / ft(n_out)
        src = np.maximum(s * (np.arange(n_out, dtype=ft) + ft(0.5)) - ft(0.5), ft(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0, 0, 1).astype(dtype)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, lam


def _cubic_taps(n_in, n_out, scale, align_corners, dtype):
    """[(input index, weight)] * 4 of PyTorch's bicubic (A = -0.75; source coordinates not
    clamped, the four taps clamped to the edges)."""
    ft = np.float32 if dtype == np.float32 else np.float64
    a = ft(-0.75)
    if align_corners:
        s = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        src = s * np.arange(n_out, dtype=ft)
    else:
        s = ft(1.0 / scale) if scale is not None else ft(n_in) / ft(n_out)
        src = s * (np.arange(n_out, dtype=ft) + ft(0.5)) - ft(0.5)
    base = np.floor(src).astype(np.int64)
    t = (src - base).astype(ft)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [(np.clip(base - 1 + k, 0, n_in - 1), w.astype(dtype))
            for k, w in enumerate(weights)]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    name = "interpolate"
    if antialias:
        raise UnsupportedError(f"{name}: antialias=True is not supported")
    known = ("nearest", "nearest-exact", "area", "bicubic") + tuple(_LINEAR)
    if mode not in known:
        raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {known}")
    if align_corners is not None and mode not in _LINEAR and mode != "bicubic":
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode in _LINEAR and input.ndim - 2 != _LINEAR[mode] or mode == "bicubic" \
            and input.ndim != 4:
        need = 4 if mode == "bicubic" else _LINEAR[mode] + 2
        raise ValueError(f"{name}: mode {mode!r} needs a {need}-D input, got shape "
                         f"{list(input.shape)}")
    if input.ndim < 3:
        raise ValueError(f"{name}: expected a 3-D or higher input (N, C, ...), got shape "
                         f"{list(input.shape)}")
    sizes, scales = _output_sizes(input, size, scale_factor, name)
    if recompute_scale_factor:
        scales = [None] * len(sizes)
    if mode == "area":
        from . import functional as F
        if input.ndim == 3:
            return F.adaptive_avg_pool1d(input, sizes[0])
        if input.ndim == 4:
            return F.adaptive_avg_pool2d(input, tuple(sizes))
        raise UnsupportedError(f"{name}: mode 'area' supports 3-D and 4-D input only")
    out = input
    for k, (n_out, scale) in enumerate(zip(sizes, scales)):
        axis = 2 + k
        n_in = input.shape[axis]
        if mode in ("nearest", "nearest-exact"):
            out = S.index(out, _nearest_index(n_in, n_out, scale, mode == "nearest-exact"),
                          axis=axis)
            continue
        shape = [1] * input.ndim
        shape[axis] = n_out
        if mode == "bicubic":
            taps = _cubic_taps(n_in, n_out, scale, bool(align_corners), input.dtype.np)
            terms = [G.mul(S.index(out, idx, axis=axis), on_device_of(input, w.reshape(shape)))
                     for idx, w in taps]
            out = G.add(G.add(terms[0], terms[1]), G.add(terms[2], terms[3]))
            continue
        i0, i1, lam = _linear_weights(n_in, n_out, scale, bool(align_corners), input.dtype.np)
        lam = lam.reshape(shape)
        out = G.add(G.mul(S.index(out, i0, axis=axis), on_device_of(input, 1 - lam)),
                    G.mul(S.index(out, i1, axis=axis), on_device_of(input, lam)))
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def _dims(input):
    return [(-1 if not isinstance(d, int) else d) for d in input.shape]


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    r = int(upscale_factor)
    *lead, c, h, w = _dims(input)
    if input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: {input.shape[-3]} channels are not divisible by "
                         f"upscale_factor^2 = {r * r}")
    x = G.reshape(input, (-1, c // (r * r), r, r, h, w))
    x = G.permute(x, 0, 1, 4, 2, 5, 3)
    return G.reshape(x, tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    r = int(downscale_factor)
    *lead, c, h, w = _dims(input)
    if input.shape[-1] % r or input.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: height and width of shape {list(input.shape)} must "
                         f"be divisible by downscale_factor {r}")
    x = G.reshape(input, (-1, c, h // r, r, w // r, r))
    x = G.permute(x, 0, 1, 3, 5, 2, 4)
    return G.reshape(x, tuple(lead) + (c * r * r, h // r, w // r))


def channel_shuffle(input, groups):
    """(N, g * k, *) -> channels regrouped as (N, k * g, *)."""
    n, c, *rest = _dims(input)
    if input.shape[1] % groups:
        raise ValueError(f"channel_shuffle: {input.shape[1]} channels are not divisible by "
                         f"groups={groups}")
    x = G.reshape(input, (n, groups, c // groups) + tuple(rest))
    return G.reshape(G.transpose(x, 1, 2), (n, c) + tuple(rest))


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = (tuple(float(f) for f in scale_factor)
                             if isinstance(scale_factor, (tuple, list))
                             else float(scale_factor) if scale_factor is not None else None)
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
