"""Fractional max pooling (Graham, 2014): FractionalMaxPool2d/3d and their functions.

Each (sample, channel) plane gets pseudo-random window starts from a uniform sample u per
spatial dim, as PyTorch's ATen computes them in the input's dtype:
    start[i] = int((i + u) * alpha) - int(u * alpha),  alpha = (in - k) / (out - 1),
    start[out - 1] = in - k.
A window's maximum is its first largest element, or its last NaN (PyTorch's rule); the output
gathers the input at that position, so the gradient goes to it alone. Written with graphc ops
(window starts included), so the same code runs eagerly and on symbolic values; a symbolic
call needs `_random_samples` (its draw is eager only: a compiled step would replay one draw).
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..eager.creation import rand
from ..indexing import gather, select
from ..ops import elementwise as E, shape as S
from ..rearrange import flip
from ..reductions import any as any_
from ..errors import UnsupportedError
from ..ir.graph import Value
from .constants import on_device_of
from .module import Module


def _tuple(v, n, name):
    out = tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    if len(out) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n}")
    return out


def _starts(u, n_in, n_out, k, dtype):
    """(N, C, n_out) int64 window starts from the samples u (N, C) in the input's dtype."""
    last = G.full_like(G.unsqueeze(u, -1), n_in - k)
    if n_out == 1:
        return G.cast(last, "int64")
    alpha = (np.asarray(n_in - k, dtype.np) / np.asarray(n_out - 1, dtype.np)).item()
    steps = on_device_of(u, np.arange(n_out - 1, dtype=dtype.np))
    scaled = G.mul(G.add(G.unsqueeze(u, -1), steps), alpha)
    first = G.sub(G.cast(E.trunc(scaled), "int64"),
                  G.cast(E.trunc(G.mul(G.unsqueeze(u, -1), alpha)), "int64"))
    return G.cat([first, G.cast(last, "int64")], dim=-1)


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                         _random_samples, dims):
    name = f"fractional_max_pool{dims}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an "
                         f"output_ratio")
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{name}: expected a {dims + 1}-D or {dims + 2}-D input, got "
                         f"{input.ndim}-D {list(input.shape)}")
    unbatched = input.ndim == dims + 1
    x = G.unsqueeze(input, 0) if unbatched else input
    spatial = tuple(x.shape[2:])
    n, c = x.shape[0], x.shape[1]
    if not all(isinstance(d, int) for d in (n, c) + spatial):
        raise UnsupportedError(f"{name}: needs concrete sizes (got {list(x.shape)})")
    kernel = _tuple(kernel_size, dims, "kernel_size")
    if output_size is None:
        ratio = _tuple(output_ratio, dims, "output_ratio")
        output_size = tuple(int(s * r) for s, r in zip(spatial, ratio))
    out_size = _tuple(output_size, dims, "output_size")
    for d, (s, k, o) in enumerate(zip(spatial, kernel, out_size)):
        axis = ("time", "height", "width")[3 - dims + d]
        if o + k - 1 > s - (dims == 3):  # (PyTorch's 3-D check is strict, its 2-D one not)
            raise ValueError(f"{name}(): pool {axis} {k} too large relative to input {axis} {s}"
                             f" (output {axis} {o})")
    if _random_samples is None:
        if isinstance(input, Value):
            raise UnsupportedError(f"{name} on symbolic values needs _random_samples (a "
                                   f"({n}, {c}, {dims}) tensor in [0, 1)): its random draw runs "
                                   f"eagerly only, and a compiled step would replay one draw")
        _random_samples = rand(n, c, dims, dtype=input.dtype, device=input.device)
    if tuple(_random_samples.shape) != (n, c, dims):
        raise ValueError(f"{name}: _random_samples must have shape {[n, c, dims]}, got "
                         f"{list(_random_samples.shape)}")
    samples = G.cast(_random_samples, input.dtype)
    # the flat in-plane index of every element of every window: (N, C, *out, K)
    flat = None
    stride = 1
    for d in reversed(range(dims)):
        starts = _starts(select(samples, 2, _sample_slot(d, dims)), spatial[d], out_size[d],
                         kernel[d], input.dtype)
        pos = G.add(G.unsqueeze(starts, -1), on_device_of(x, np.arange(kernel[d])))
        pos = G.mul(pos, stride)
        shape = [n, c] + [1] * dims + [1] * dims
        shape[2 + d], shape[2 + dims + d] = out_size[d], kernel[d]
        pos = G.reshape(pos, tuple(shape))
        flat = pos if flat is None else G.add(flat, pos)
        stride *= spatial[d]
    window = int(np.prod(kernel))
    flat = G.reshape(G.broadcast_to(flat, (n, c) + out_size + kernel),
                     (n, c) + out_size + (window,))
    # every plane's elements in one flat array: plane (n, c) starts at (n * C + c) * H * W
    elements = G.reshape(x, (-1,))
    plane_start = np.arange(n * c, dtype=np.int64).reshape((n, c) + (1,) * (dims + 1)) * stride
    values = S.index(elements, G.add(flat, on_device_of(x, plane_start)), axis=0)
    nan = E.isnan(values)
    last_nan = G.sub(window - 1, G.argmax(flip(G.cast(nan, "int64"), (-1,)), dim=-1,
                                          keepdim=True))
    pick = G.where(any_(nan, dim=-1, keepdim=True), last_nan,
                   G.argmax(G.where(nan, 0.0, values), dim=-1, keepdim=True))
    indices = G.squeeze(gather(flat, -1, pick), -1)
    out = S.index(elements, G.add(indices, on_device_of(x, plane_start[..., 0])), axis=0)
    if unbatched:
        out, indices = G.squeeze(out, 0), G.squeeze(indices, 0)
    return (out, indices) if return_indices else out


def _sample_slot(d, dims):
    """Which sample drives spatial dim d: PyTorch reads the samples last-dim first
    (2-D: [0] width, [1] height; 3-D: [0] time, [1] height, [2] width)."""
    if dims == 2:
        return 1 - d
    return d


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                                _random_samples, 2)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                                _random_samples, 3)


fractional_max_pool2d_with_indices = fractional_max_pool2d
fractional_max_pool3d_with_indices = fractional_max_pool3d


class _FractionalMaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        cls = type(self).__name__
        self.kernel_size = _tuple(kernel_size, self.dims, "kernel_size")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else _tuple(output_size, self.dims,
                                                                   "output_size")
        self.output_ratio = None if output_ratio is None else _tuple(output_ratio, self.dims,
                                                                     "output_ratio")
        if output_size is None and output_ratio is None:
            raise ValueError(f"{cls} requires specifying either an output size, or a pooling "
                             f"ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return _fractional_max_pool(input, self.kernel_size, self.output_size,
                                    self.output_ratio, self.return_indices,
                                    self._random_samples, self.dims)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    dims = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    dims = 3
