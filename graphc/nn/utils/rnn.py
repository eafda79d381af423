"""torch.nn.utils.rnn: padding and packing variable-length sequences.

A PackedSequence holds PyTorch's layout: `data` is the valid steps, time-major, of the
sequences sorted by decreasing length (`batch_sizes[t]` of them at step t). Packing and
unpacking are gathers with index arrays computed from the (concrete) lengths, so they are
differentiable and work on symbolic data as well.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import functional as G
from ...eager.creation import tensor
from ...ir.graph import Value
from ...ops import shape as S


def _lengths(lengths):
    if isinstance(lengths, Value):
        raise ValueError("sequence lengths must be concrete (a list, array or tensor), not "
                         "symbolic")
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    return np.asarray(lengths, np.int64).reshape(-1)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = tensor(np.argsort(_lengths(sorted_indices)))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        return self._replace(data=self.data.to(*args, **kwargs))

    def lengths(self):
        """Length of each sequence in sorted order."""
        sizes = _lengths(self.batch_sizes)
        return (np.arange(sizes[0])[:, None] < sizes[None]).sum(1)

    @property
    def is_cuda(self):
        return getattr(self.data, "is_cuda", False)


def _packed_positions(lengths_sorted):
    """(t, n) of every packed row, time-major, and batch_sizes."""
    steps = int(lengths_sorted.max())
    batch_sizes = (lengths_sorted[None] > np.arange(steps)[:, None]).sum(1)
    t_idx = np.concatenate([np.full(b, t) for t, b in enumerate(batch_sizes)])
    n_idx = np.concatenate([np.arange(b) for b in batch_sizes])
    return t_idx, n_idx, batch_sizes


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lengths = _lengths(lengths)
    if (lengths <= 0).any():
        raise RuntimeError("Length of all samples has to be greater than 0")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    x = G.transpose(input, 0, 1) if batch_first else input  # (T, N, *)
    if order is not None:
        x = S.index(x, order, axis=1)
    t_idx, n_idx, batch_sizes = _packed_positions(lengths)
    data = S.index(x, t_idx, n_idx, axis=0)
    sorted_indices = None if order is None else tensor(order)
    unsorted = None if order is None else tensor(np.argsort(order))
    return PackedSequence(data, tensor(batch_sizes.astype(np.int64)), sorted_indices, unsorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None,
                        unsort=True):
    """(padded (T, N, *) or (N, T, *), lengths); unsort=False keeps the sorted order (what
    the recurrent layers use internally)."""
    data, batch_sizes = sequence.data, _lengths(sequence.batch_sizes)
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the "
                             f"longest sequence ({steps}), got {total_length}")
        steps = total_length
    lengths = (np.arange(batch)[:, None] < batch_sizes[None]).sum(1)
    position = np.full((steps, batch), -1, np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    for t, b in enumerate(batch_sizes):
        position[t, :b] = offsets[t] + np.arange(b)
    total = int(offsets[-1])
    position[position < 0] = total  # the padding row appended below
    pad_row = G.full_like(data[:1], float(padding_value))
    padded = S.index(G.cat([data, pad_row], 0), position, axis=0)  # (T, N, *)
    if unsort and sequence.unsorted_indices is not None:
        restore = _lengths(sequence.unsorted_indices)
        padded = S.index(padded, restore, axis=1)
        lengths = lengths[restore]
    if batch_first:
        padded = G.transpose(padded, 0, 1)
    return padded, tensor(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack (L_i, *) sequences into (T, N, *) (or (N, T, *)) padded with padding_value."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        pads = (0, 0) * (s.ndim - 1) + ((0, extra) if padding_side == "right" else (extra, 0))
        padded.append(G.pad(s, pads, value=padding_value) if extra else s)
    return G.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    x = padded_sequences if batch_first else G.transpose(padded_sequences, 0, 1)
    return [x[n, :int(length)] for n, length in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
