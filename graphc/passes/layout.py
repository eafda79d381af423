"""Strided layouts: most shape ops are free views of their input's buffer.

A value's layout is (root, offset, strides, shape) in elements of its root value's buffer.
reshape (of a contiguous layout), squeeze, unsqueeze, broadcast_to, expand_like, permute and
basic slicing only change the layout; the generated code reads through literal strides.
"""
from __future__ import annotations

import builtins

from ..ops import shape as shape_ops


def contiguous_strides(shape):
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


class Layout:
    __slots__ = ("root", "offset", "strides", "shape")

    def __init__(self, root, offset, strides, shape):
        self.root, self.offset = root, offset
        self.strides, self.shape = tuple(strides), tuple(shape)

    @classmethod
    def of_root(cls, value):
        return cls(value, 0, contiguous_strides(value.type.shape), value.type.shape)

    @property
    def is_contiguous(self):
        """Row-major and dense (strides of size-1 dims do not matter)."""
        want = contiguous_strides(self.shape)
        return all(s == w for s, w, d in zip(self.strides, want, self.shape) if d != 1)

    @property
    def is_identity(self):
        """The whole root buffer, in its own order."""
        return (self.offset == 0 and self.is_contiguous
                and self.shape == tuple(self.root.type.shape))

    def __repr__(self):
        return f"Layout(+{self.offset}, strides={self.strides}, shape={self.shape})"


def _reshape(attrs, src, out):
    if not src.is_contiguous:
        return None
    return Layout(src.root, src.offset, contiguous_strides(out), out)


def _squeeze(attrs, src, out):
    keep = [i for i in range(len(src.shape)) if i not in attrs["dims"]]
    return Layout(src.root, src.offset, [src.strides[i] for i in keep], out)


def _unsqueeze(attrs, src, out):
    strides = list(src.strides)
    for d in attrs["dims"]:
        strides.insert(d, 0)
    return Layout(src.root, src.offset, strides, out)


def _broadcast(attrs, src, out):
    lead = len(out) - len(src.shape)
    strides = [0] * lead + [0 if s == 1 and d != 1 else st
                            for s, d, st in zip(src.shape, out[lead:], src.strides)]
    return Layout(src.root, src.offset, strides, out)


def _permute(attrs, src, out):
    return Layout(src.root, src.offset, [src.strides[d] for d in attrs["dims"]], out)


def _slice(attrs, src, out):
    return _slice_layout(attrs["index"], src, out)


# op -> (attrs, input layout, output shape) -> the output's layout, or None if it needs a copy
VIEW_LAYOUTS = {shape_ops.reshape: _reshape, shape_ops.squeeze: _squeeze,
                shape_ops.unsqueeze: _unsqueeze, shape_ops.broadcast_to: _broadcast,
                shape_ops.expand_like: _broadcast, shape_ops.permute: _permute,
                shape_ops.slice: _slice}


def view_layout(node, src: Layout):
    """The layout of a view node's output, or None if it needs a copy."""
    return VIEW_LAYOUTS[node.op](node.attrs, src, node.outputs[0].type.shape)


def _slice_layout(index, src, out):
    offset, strides, d = src.offset, [], 0
    for e in index:
        if e[0] == "new":
            strides.append(0)
            continue
        size, stride = src.shape[d], src.strides[d]
        if e[0] == "int":
            offset += (e[1] % size) * stride
        else:
            start, _, step = builtins.slice(*e[1:]).indices(size)
            offset += start * stride
            strides.append(stride * step)
        d += 1
    strides.extend(src.strides[d:])
    return Layout(src.root, offset, strides, out)
