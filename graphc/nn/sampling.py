"""Spatial transformers: F.affine_grid (a matmul of the normalized pixel grid) and
F.grid_sample (bilinear or nearest; zeros, border or reflection padding), with PyTorch's
coordinate conventions (align_corners). Sampling gathers at data-dependent positions, so
gradients reach both the input (scatter-add) and the grid (through the bilinear weights)."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..errors import UnsupportedError
from ..ops import shape as S
from .constants import on_device_of


def _linspace(n, align_corners, dtype):
    """PyTorch's normalized pixel centers in [-1, 1]."""
    if n <= 1:
        return np.zeros(max(n, 0), dtype)
    base = np.linspace(-1.0, 1.0, n)
    return (base if align_corners else base * (n - 1) / n).astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """theta (N, 2, 3), size (N, C, H, W) -> grid (N, H, W, 2) of (x, y) sample positions."""
    align_corners = bool(align_corners)
    if len(size) != 4:
        raise UnsupportedError(f"affine_grid: only 4-D sizes (2-D images) are supported, got "
                               f"{list(size)}")
    n, _, h, w = size
    if tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                         f"{list(size)}. Got {list(theta.shape)}.")
    dt = theta.dtype.np
    xs, ys = _linspace(w, align_corners, dt), _linspace(h, align_corners, dt)
    base = np.stack([np.broadcast_to(xs[None, :], (h, w)), np.broadcast_to(ys[:, None], (h, w)),
                     np.ones((h, w), dt)], -1).reshape(1, h * w, 3)
    grid = G.matmul(on_device_of(theta, base), G.transpose(theta, 1, 2))  # (N, HW, 2)
    return G.reshape(grid, (-1, h, w, 2))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return G.mul(G.add(coord, 1), (size - 1) / 2)
    return G.div(G.sub(G.mul(G.add(coord, 1), size), 1), 2)


def _floor(x):
    """floor for floats via truncation (cast) corrected below zero; no gradient flows."""
    t = G.cast(G.cast(x, "int64"), x.dtype)
    return G.sub(t, G.cast(G.lt(x, t), x.dtype))


def _round_half_even(x):
    """nearbyint: round to nearest, ties to even (PyTorch's nearest sampling)."""
    r = _floor(G.add(x, 0.5))
    tie = G.eq(G.sub(r, x), 0.5)
    odd = G.eq(G.sub(r, G.mul(_floor(G.div(r, 2)), 2)), 1)
    return G.where(G.logical_and(tie, odd), G.sub(r, 1), r)


def _reflect(coord, size, align_corners):
    """PyTorch's reflect_coordinates then clip: mirror at the borders, repeatedly."""
    low, span = (0.0, size - 1.0) if align_corners else (-0.5, float(size))
    if span <= 0:
        return G.mul(coord, 0.0)
    dist = G.abs(G.sub(coord, low))
    flips = _floor(G.div(dist, span))
    extra = G.sub(dist, G.mul(flips, span))
    even = G.eq(G.sub(flips, G.mul(_floor(G.div(flips, 2)), 2)), 0)
    out = G.where(even, G.add(extra, low), G.add(G.sub(span, extra), low))
    return G.clamp(out, 0, size - 1)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """mode 'bilinear' or 'nearest'; padding_mode 'zeros', 'border' or 'reflection'."""
    if mode not in ("bilinear", "nearest"):
        raise UnsupportedError(f"grid_sample: mode {mode!r} is not supported yet (bilinear "
                               f"and nearest are)")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid_sample: expected input (N, C, H, W) and grid (N, H_out, W_out, "
                         f"2), got {list(input.shape)} and {list(grid.shape)}")
    n, c, h, w = input.shape
    if not isinstance(n, int):
        raise UnsupportedError("grid_sample: the batch size must be known")
    align_corners = bool(align_corners)
    ho, wo = grid.shape[1], grid.shape[2]
    x = _unnormalize(grid[..., 0], w, align_corners)  # (N, Ho, Wo)
    y = _unnormalize(grid[..., 1], h, align_corners)
    if padding_mode == "border":
        x, y = G.clamp(x, 0, w - 1), G.clamp(y, 0, h - 1)
    elif padding_mode == "reflection":
        x, y = _reflect(x, w, align_corners), _reflect(y, h, align_corners)
    flat = G.reshape(G.permute(input, 0, 2, 3, 1), (n, h * w, c))  # (N, HW, C)
    rows = on_device_of(input, np.broadcast_to(np.arange(n).reshape(n, 1, 1), (n, ho, wo)))
    if mode == "nearest":
        cx, cy = _round_half_even(x), _round_half_even(y)
        inside = G.logical_and(G.logical_and(G.ge(cx, 0), G.le(cx, w - 1)),
                               G.logical_and(G.ge(cy, 0), G.le(cy, h - 1)))
        index = G.cast(G.add(G.mul(G.clamp(cy, 0, h - 1), w), G.clamp(cx, 0, w - 1)), "int64")
        picked = S.index(flat, rows, index, axis=0)
        out = G.mul(picked, G.unsqueeze(G.cast(inside, input.dtype), -1))
        return G.permute(out, 0, 3, 1, 2)
    x0, y0 = _floor(x), _floor(y)
    wx1, wy1 = G.sub(x, x0), G.sub(y, y0)
    wx0, wy0 = G.sub(1, wx1), G.sub(1, wy1)
    out = None
    for dx, dy, weight in ((0, 0, G.mul(wx0, wy0)), (1, 0, G.mul(wx1, wy0)),
                           (0, 1, G.mul(wx0, wy1)), (1, 1, G.mul(wx1, wy1))):
        cx, cy = G.add(x0, dx), G.add(y0, dy)
        inside = G.logical_and(G.logical_and(G.ge(cx, 0), G.le(cx, w - 1)),
                               G.logical_and(G.ge(cy, 0), G.le(cy, h - 1)))
        index = G.cast(G.add(G.mul(G.clamp(cy, 0, h - 1), w), G.clamp(cx, 0, w - 1)), "int64")
        picked = S.index(flat, rows, index, axis=0)  # (N, Ho, Wo, C)
        term = G.mul(picked, G.unsqueeze(G.where(inside, weight, 0.0), -1))
        out = term if out is None else G.add(out, term)
    return G.permute(out, 0, 3, 1, 2)
