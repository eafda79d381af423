"""Connectionist temporal classification loss (F.ctc_loss, nn.CTCLoss) with PyTorch's
arguments and reductions, as a composite: the forward (alpha) recursion over time in log
space, written with graphc ops, so gradients come from autodiff and it compiles.

Impossible alignments use a large finite negative number instead of -inf, so that no
gradient is 0 * inf; a loss that stays below that level is infinite (or 0 with
zero_infinity), as in PyTorch. Lengths must be concrete (they decide the alignment lattice).
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..errors import UnsupportedError
from ..ir.graph import Value
from .constants import on_device_of
from .module import Module
from .reduction import check

_NEG = -1e30  # log(0) stand-in: exp(_NEG - m) underflows to exactly 0 for any finite m


def _concrete(x, name):
    if isinstance(x, Value):
        raise UnsupportedError(f"ctc_loss: {name} must be concrete (a tensor, array or list), "
                               f"not a symbolic value")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, np.int64).reshape(-1)


def _logsumexp3(a, b, c):
    m = G.maximum(G.maximum(a, b), c)
    return G.add(m, G.log(G.add(G.add(G.exp(G.sub(a, m)), G.exp(G.sub(b, m))),
                                G.exp(G.sub(c, m)))))


def _extended_targets(targets, target_lengths, batch, blank):
    """(N, 2 S + 1) labels with blanks interleaved, and where the s-2 skip is allowed."""
    targets = np.asarray(targets)
    longest = int(target_lengths.max()) if batch else 0
    ext = np.full((batch, 2 * longest + 1), blank, np.int64)
    if targets.ndim == 2:
        rows = [targets[n, :target_lengths[n]] for n in range(batch)]
    else:  # concatenated 1-D targets
        starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
        rows = [targets[s:s + n] for s, n in zip(starts, target_lengths)]
    for n, row in enumerate(rows):
        ext[n, 1:2 * len(row):2] = row
    skip = np.zeros(ext.shape, bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """log_probs (T, N, C) (or (T, C) unbatched), targets (N, S) or concatenated; the loss
    of each sample is -log of the summed probability of its alignments."""
    check(reduction, "ctc_loss")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = G.unsqueeze(log_probs, 1)
        targets = np.asarray(_concrete(targets, "targets"))[None]
    T, N, C = log_probs.shape
    if not all(isinstance(d, int) for d in (T, N, C)):
        raise UnsupportedError(f"ctc_loss: the shape of log_probs must be known, got "
                               f"{list(log_probs.shape)}")
    input_lengths = _concrete(input_lengths, "input_lengths")
    target_lengths = _concrete(target_lengths, "target_lengths")
    if hasattr(targets, "detach") or isinstance(targets, Value):
        targets = _concrete(targets, "targets").reshape(np.shape(
            targets.detach().cpu().numpy() if hasattr(targets, "detach") else targets))
    ext, skip = _extended_targets(targets, target_lengths, N, blank)
    width = ext.shape[1]
    valid = np.arange(width)[None] < (2 * target_lengths[:, None] + 1)
    dt = log_probs.dtype.np

    def c(arr):  # a constant next to log_probs (a CUDA tensor for CUDA input)
        return on_device_of(log_probs, arr)
    one_hot = c((ext[:, :, None] == np.arange(C)).astype(dt))  # (N, S', C)
    # emissions of every extended label at every step: (T, N, S')
    emit = G.sum(G.mul(G.unsqueeze(log_probs, 2), one_hot), -1)
    neg = c(np.full((N, 1), _NEG, dt))
    start = c(np.full((N, width), _NEG, dt))
    start_mask = np.zeros((N, width), bool)
    start_mask[:, 0] = True
    start_mask[:, 1] = target_lengths > 0
    alpha = G.where(c(start_mask & valid), emit[0], start)
    skip, valid_c = c(skip), c(valid)
    alphas = [alpha]
    for t in range(1, T):
        prev1 = G.cat([neg, alpha[:, :-1]], 1)
        prev2 = G.where(skip, G.cat([neg, neg, alpha[:, :-2]], 1), _NEG)
        alpha = G.where(valid_c, G.add(_logsumexp3(alpha, prev1, prev2), emit[t]), _NEG)
        alphas.append(alpha)
    # per sample: alpha at its last step, at its last label and the blank after it
    stacked = G.stack(alphas, 0)  # (T, N, S')
    pick_t = (np.arange(T)[:, None] == (input_lengths - 1)[None]).astype(dt)
    last = G.sum(G.mul(stacked, c(pick_t[:, :, None])), 0)  # (N, S')
    ends = np.stack([2 * target_lengths, 2 * target_lengths - 1], 1)
    a = G.sum(G.mul(last, c((np.arange(width)[None] == ends[:, :1]).astype(dt))), 1)
    b_mask = (np.arange(width)[None] == ends[:, 1:]) & (target_lengths[:, None] > 0)
    b = G.add(G.sum(G.mul(last, c(b_mask.astype(dt))), 1),
              c(np.where(target_lengths > 0, 0.0, _NEG).astype(dt)))
    m = G.maximum(a, b)
    loss = G.neg(G.add(m, G.log(G.add(G.exp(G.sub(a, m)), G.exp(G.sub(b, m))))))
    impossible = G.gt(loss, -_NEG / 2)
    loss = G.where(impossible, 0.0 if zero_infinity else np.inf, loss)
    if reduction == "mean":
        lengths = np.maximum(target_lengths, 1).astype(dt)
        return G.mean(G.div(loss, c(lengths)))
    if reduction == "sum":
        return G.sum(loss)
    return G.squeeze(loss, 0) if unbatched else loss


class CTCLoss(Module):
    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__()
        self.blank, self.reduction = blank, check(reduction, "CTCLoss")
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)
