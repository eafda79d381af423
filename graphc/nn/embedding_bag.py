"""EmbeddingBag: sums, means or maxima of bags of embeddings without building the
(bags, bag length, dim) tensor in user code. Bags are the rows of a 2-D input, or the
segments of a 1-D input cut at `offsets` (concrete: they decide the reduction's shape)."""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..eager.creation import empty
from ..errors import UnsupportedError
from ..ir.graph import Value
from ..ops import shape as S
from . import functional as F, init
from .module import Module
from .parameter import Parameter
from .constants import on_device_of


def _concrete(x, name):
    if isinstance(x, Value):
        raise UnsupportedError(f"embedding_bag: {name} must be concrete with a 1-D input")
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.int64)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    if scale_grad_by_freq:  # (sparse=True: the gradient stays dense, see nn.Embedding)
        raise UnsupportedError("embedding_bag: scale_grad_by_freq is not supported")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None")
        rows, width = input.shape
        idx = G.reshape(input, (-1,))
        psw = None if per_sample_weights is None else G.reshape(per_sample_weights, (-1,))
        bags = np.repeat(np.arange(rows), width) if isinstance(rows, int) else None
        if bags is None:
            raise UnsupportedError("embedding_bag: a 2-D input needs a known number of bags")
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offs = _concrete(offsets, "offsets")
        total = input.shape[0]
        ends = np.append(offs[1:], total) if not include_last_offset else offs[1:]
        starts = offs if not include_last_offset else offs[:-1]
        bags = np.concatenate([np.full(e - s, b) for b, (s, e) in enumerate(zip(starts, ends))]
                              ) if len(starts) else np.zeros(0, np.int64)
        rows, idx, psw = len(starts), input, per_sample_weights
    else:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D, got shape "
                         f"{list(input.shape)}")
    vectors = F.embedding(idx, weight, None, max_norm, norm_type)  # (total, dim)
    keep = np.ones(len(bags), bool)
    if padding_idx is not None:  # padding entries take no part in any bag
        ids = _concrete(idx, "input") if not isinstance(idx, Value) else None
        if ids is None:
            raise UnsupportedError("embedding_bag: padding_idx needs concrete indices")
        keep = ids.reshape(-1) != padding_idx % weight.shape[0]
    if psw is not None:
        vectors = G.mul(vectors, G.unsqueeze(psw, 1))
    membership = ((bags[None] == np.arange(rows)[:, None]) & keep[None]).astype(
        weight.dtype.np)  # (bags, total)
    placed = on_device_of(weight, membership)
    if mode == "max":
        out = []
        for b in range(rows):
            members = np.nonzero(membership[b])[0]
            out.append(G.amax(S.index(vectors, members, axis=0), 0, keepdim=True)
                       if len(members) else G.full_like(vectors[:1], 0.0))
        return G.cat(out, 0)
    summed = G.matmul(placed, vectors)
    if mode == "sum":
        return summed
    counts = np.maximum(membership.sum(1, keepdims=True), 1)
    return G.div(summed, on_device_of(weight, counts))


class EmbeddingBag(Module):
    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if scale_grad_by_freq:
            raise UnsupportedError("EmbeddingBag: scale_grad_by_freq is not supported")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.mode = max_norm, norm_type, mode
        self.include_last_offset, self.padding_idx = include_last_offset, padding_idx
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is not None:
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), dtype=dtype))
            init.normal_(self.weight)
            if padding_idx is not None:
                self.weight._data[padding_idx] = 0
        self._place(device)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             mode=self.mode, per_sample_weights=per_sample_weights,
                             include_last_offset=self.include_last_offset,
                             padding_idx=self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
