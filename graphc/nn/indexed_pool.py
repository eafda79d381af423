"""Max pooling that returns where each maximum was, as PyTorch's indices: adaptive max pooling
(1-D / 2-D / 3-D, with or without indices) and max_pool3d(return_indices=True).

Every window is a row of a constant table of flat in-plane positions (windows shorter than the
longest are padded with masked slots), so one gather reads all windows at once; the maximum is
PyTorch's CPU choice, the first largest element in row-major order, or the last NaN
(`if (val > maxval || isnan(val))`), and a window of -inf only keeps its first element. The
output is that element alone (a one-hot sum), so the gradient goes to it only, as PyTorch's
does at ties (graphc's amax would share it). Written with graphc ops, so the same code runs
eagerly and on symbolic values (a symbolic batch size too); the table's size is fixed by the
spatial sizes, so the graph does not grow with the output size.
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..ops import elementwise as E, shape as S
from ..rearrange import flip, unflatten
from ..reductions import any as any_
from .constants import on_device_of


def adaptive_ranges(n_in, n_out):
    """PyTorch's adaptive windows: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [(i * n_in // n_out, -(-(i + 1) * n_in // n_out)) for i in range(n_out)]


def adaptive_taps(n_in, n_out):
    """(positions (n_out, k), valid (n_out, k)) of the adaptive windows along one dim."""
    ranges = adaptive_ranges(n_in, n_out)
    k = max(stop - start for start, stop in ranges)
    starts = np.array([start for start, _ in ranges]).reshape(-1, 1)
    lengths = np.array([stop - start for start, stop in ranges]).reshape(-1, 1)
    taps = np.arange(k).reshape(1, -1)
    return np.minimum(starts + taps, n_in - 1), taps < lengths


def strided_taps(n_in, n_out, kernel, stride, padding, dilation):
    """(positions, valid) of sliding windows along one dim; taps in the padding are invalid."""
    pos = (np.arange(n_out) * stride - padding).reshape(-1, 1) + \
        (np.arange(kernel) * dilation).reshape(1, -1)
    valid = (pos >= 0) & (pos < n_in)
    return np.clip(pos, 0, n_in - 1), valid


def _table(spatial, taps):
    """Per-dim taps combined into flat in-plane positions: (P, K) positions and validity, P the
    output positions and K the window slots, both row-major (PyTorch's scan order)."""
    dims = len(spatial)
    flat, valid = 0, True
    stride = 1
    for d in reversed(range(dims)):
        pos_d, valid_d = taps[d]
        shape = [1] * (2 * dims)
        shape[d], shape[dims + d] = pos_d.shape
        flat = flat + pos_d.reshape(shape) * stride
        valid = valid & valid_d.reshape(shape)
        stride *= spatial[d]
    out_size = tuple(t[0].shape[0] for t in taps)
    full = out_size + tuple(t[0].shape[1] for t in taps)
    p, k = int(np.prod(out_size)), int(np.prod(full[dims:]))
    return (np.broadcast_to(flat, full).reshape(p, k).astype(np.int64),
            np.broadcast_to(valid, full).reshape(p, k), out_size)


def max_with_indices(input, dims, taps):
    """(values, indices) of max pooling over the windows `taps` (one (positions, valid) pair
    per spatial dim) of input's last `dims` dims; indices are flat within each plane."""
    spatial = tuple(input.shape[-dims:])
    positions, valid, out_size = _table(spatial, taps)
    planes = G.flatten(input, input.ndim - dims)  # (..., H * W)
    values = S.index(planes, on_device_of(input, positions), axis=planes.ndim - 1)  # (..., P, K)
    floating = input.dtype.is_floating_point
    lowest = -np.inf if floating else np.iinfo(input.dtype.np).min
    mask = on_device_of(input, valid)
    masked = G.where(mask, values, lowest)
    window = positions.shape[1]
    pick = G.argmax(masked, dim=-1, keepdim=True)
    # a window with nothing above -inf keeps its first valid element (the scan's start)
    first_valid = np.argmax(valid, axis=1).reshape(-1, 1)
    pick = G.where(G.eq(G.amax(masked, -1, keepdim=True), lowest),
                   on_device_of(input, first_valid), pick)
    if floating:
        nan = E.isnan(masked)
        last_nan = G.sub(window - 1, G.argmax(flip(G.cast(nan, "int64"), (-1,)), dim=-1,
                                              keepdim=True))
        pick = G.where(any_(nan, dim=-1, keepdim=True), last_nan, pick)
    chosen = G.eq(pick, on_device_of(input, np.arange(window)))  # one-hot over the slots
    out = G.sum(G.where(chosen, values, 0), -1)
    indices = G.sum(G.where(chosen, on_device_of(input, positions), 0), -1)
    return unflatten(out, -1, out_size), unflatten(indices, -1, out_size)


def _sizes(output_size, dims, spatial):
    sizes = (output_size,) * dims if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != dims:
        raise ValueError(f"adaptive_max_pool{dims}d: output_size must be an int or a tuple of "
                         f"{dims}, got {output_size}")
    return tuple(n if o is None else int(o) for o, n in zip(sizes, spatial))


def adaptive_max_pool(input, output_size, return_indices, dims):
    name = f"adaptive_max_pool{dims}d"
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{name}: expected {dims + 1}-D or {dims + 2}-D input, got shape "
                         f"{list(input.shape)}")
    spatial = tuple(input.shape[-dims:])
    if not all(isinstance(n, int) and n > 0 for n in spatial):
        raise ValueError(f"{name}: expected non-empty, known spatial sizes, got shape "
                         f"{list(input.shape)}")
    sizes = _sizes(output_size, dims, spatial)
    if any(o <= 0 for o in sizes):
        raise ValueError(f"{name}: output_size must be positive, got {output_size}")
    taps = [adaptive_taps(n, o) for n, o in zip(spatial, sizes)]
    values, indices = max_with_indices(input, dims, taps)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, return_indices, 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, return_indices, 2)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, return_indices, 3)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, True, 1)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, True, 2)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool(input, output_size, True, 3)
