"""Op table cases for the one-op softmax cross-entropy (graphc/ops/loss.py): F.cross_entropy on
(N, C) logits with each reduction, class weights and ignore_index, and its backward op on its
own (so that finite differences check the second-derivative rule), each against NumPy.
Assembled with the others in tests/op_table_more.py."""
from __future__ import annotations

import numpy as np
import scipy.special

import graphc as gc
import graphc.nn.functional as F
from graphc.ops.loss import cross_entropy_backward
from graphc.ops.scans import like_device
from op_table import Case, normal, positive

TARGET = np.array([1, 0, 4, 2])
IGNORED = np.array([3, -100, 0, 4])  # the second row is ignored
WEIGHT = positive(5)


def _np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean"):
    logp = scipy.special.log_softmax(x, axis=1)
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    w = np.ones(len(t)) if weight is None else weight[safe]
    w = np.where(keep, w, 0.0)
    rows = -w * logp[np.arange(len(t)), safe]
    if reduction == "none":
        return rows
    return rows.sum() if reduction == "sum" else rows.sum() / w.sum()


def _np_backward(x, lse, g, t):
    """reduction 'sum', no weights: g * (softmax - one-hot) with the given lse."""
    onehot = np.arange(x.shape[1]) == t[:, None]
    return g * (np.exp(x - lse[:, None]) - onehot)


def _ce(name, make, ref, target=TARGET):
    return Case(name, "cross_entropy", make, [normal(4, 5), target], ref, grad_inputs=[0],
                rtol=1e-6, atol=1e-9)


def _const(a, like):
    """a as a constant of like's dtype on like's device (as torch, cross_entropy wants its
    class weights in the logits' dtype; eager CUDA tensors need them on the device)."""
    return like_device(gc.tensor(a.astype(like.dtype.np)), like)


LOSS = [
    _ce("cross_entropy-mean", lambda x, t: F.cross_entropy(x, t), _np_cross_entropy),
    _ce("cross_entropy-sum-ignored", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
        lambda x, t: _np_cross_entropy(x, t, reduction="sum"), IGNORED),
    _ce("cross_entropy-weighted-mean-ignored",
        lambda x, t: F.cross_entropy(x, t, weight=_const(WEIGHT, x)),
        lambda x, t: _np_cross_entropy(x, t, WEIGHT), IGNORED),
    _ce("cross_entropy-none-weighted-ignore4",
        lambda x, t: F.cross_entropy(x, t, weight=_const(WEIGHT, x), ignore_index=4,
                                     reduction="none"),
        lambda x, t: _np_cross_entropy(x, t, WEIGHT, 4, "none"), np.array([3, 4, 0, 4])),
    Case("cross_entropy_backward-sum", "cross_entropy_backward",
         lambda x, lse, g, t: cross_entropy_backward(x, t, lse, g, reduction="sum"),
         [normal(3, 4), normal(3), np.asarray(1.7), np.array([2, 0, 3])],
         lambda x, lse, g, t: _np_backward(x, lse, g, t), grad_inputs=[0, 1, 2]),
]
