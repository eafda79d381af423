"""F.pad with PyTorch's four modes, and the padding modules (ZeroPad, ConstantPad,
ReflectionPad, ReplicationPad, CircularPad for 1-D, 2-D and 3-D).

'constant' is the `pad` op; 'reflect', 'replicate' and 'circular' gather each padded dim with
an index array computed here (so their gradients add up the reused elements, as PyTorch's).
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..ops import shape as S
from .module import Module

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n, before, after, mode):
    """For a dim of size n padded by (before, after): the input index of each output index."""
    out = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(out, 0, n - 1)
    if mode == "circular":
        return out % n
    period = 2 * (n - 1)  # reflect about the edges (the edge itself is not repeated)
    folded = np.abs(out) % period if period else np.zeros_like(out)
    return np.where(folded >= n, period - folded, folded)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: `pad` lists (before, after) pairs from the last dim back."""
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length {len(pad)} must be even and at most twice the "
                         f"number of dims ({input.ndim}) of the input of shape "
                         f"{list(input.shape)}")
    if mode == "constant":
        return G.pad(input, pad, value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    dims = len(pad) // 2
    out = input
    for k in range(dims):
        before, after = pad[2 * k], pad[2 * k + 1]
        if not before and not after:
            continue
        axis = input.ndim - 1 - k
        n = input.shape[axis]
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than "
                             f"the dim of size {n} (input shape {list(input.shape)})")
        if mode == "circular" and (before > n or after > n):
            raise ValueError(f"pad: circular padding ({before}, {after}) must not exceed the "
                             f"dim of size {n} (input shape {list(input.shape)})")
        if min(before, after) < 0:
            raise ValueError("pad: negative padding is supported only in constant mode")
        index = _source_index(n, before, after, mode)
        out = S.index(G.transpose(out, axis, 0), index, axis=0)
        out = G.transpose(out, 0, axis)
    return out


def _tuple(padding, n):
    return (padding,) * (2 * n) if isinstance(padding, int) else tuple(padding)


class _PadNd(Module):
    mode, dims = "constant", 1

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = _tuple(padding, self.dims)
        if len(self.padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: expected {2 * self.dims} padding values, "
                             f"got {self.padding}")
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, self.mode, self.value)

    def extra_repr(self):
        if self.mode == "constant":
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _pad_class(name, mode, dims, constant=False, zero=False):
    if zero:
        def __init__(self, padding):
            _PadNd.__init__(self, padding, 0.0)

        def extra_repr(self):
            return f"{self.padding}"
        body = {"__init__": __init__, "extra_repr": extra_repr}
    elif constant:
        def __init__(self, padding, value):
            _PadNd.__init__(self, padding, value)
        body = {"__init__": __init__}
    else:
        def __init__(self, padding):
            _PadNd.__init__(self, padding)
        body = {"__init__": __init__}
    body.update(mode=mode, dims=dims, __doc__=f"{mode} padding of the last {dims} dim(s).")
    return type(name, (_PadNd,), body)


ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, constant=True)
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2, constant=True)
ConstantPad3d = _pad_class("ConstantPad3d", "constant", 3, constant=True)
ZeroPad1d = _pad_class("ZeroPad1d", "constant", 1, zero=True)
ZeroPad2d = _pad_class("ZeroPad2d", "constant", 2, zero=True)
ZeroPad3d = _pad_class("ZeroPad3d", "constant", 3, zero=True)
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1)
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2)
ReflectionPad3d = _pad_class("ReflectionPad3d", "reflect", 3)
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1)
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2)
ReplicationPad3d = _pad_class("ReplicationPad3d", "replicate", 3)
CircularPad1d = _pad_class("CircularPad1d", "circular", 1)
CircularPad2d = _pad_class("CircularPad2d", "circular", 2)
CircularPad3d = _pad_class("CircularPad3d", "circular", 3)

PAD_MODULES = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
               "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
               "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
               "CircularPad2d", "CircularPad3d"]
