"""Softmax cross-entropy over class indices as one op, forward and backward.

`F.cross_entropy(logits, target)` on (N, C) logits is the loss of nearly every classifier; as
log_softmax + a one-hot NLL it was eight kernels of a compiled step and a dozen eager tape
entries. Here it is two ops, each one pass over the logits (runtime/kernels/loss.py), with
PyTorch's meaning: optional class weights, ignore_index, reduction 'none' | 'sum' | 'mean'
('mean' divides by the sum of the weights of the rows not ignored).

cross_entropy(x, target[, weight]) -> (loss, lse): lse[i] = logsumexp(x[i]) is kept for the
backward op, which then needs no reduction. The backward op has its own gradient rule, so
second derivatives (gradient penalties, Hessian-vector products) work too. Like PyTorch, the
loss has no gradient with respect to the class weights: asking for one raises.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError, op_error
from ..types import TensorType, is_static_dim
from .elementwise import add, cast, div, eq, exp, mul, ne, neg, sub
from .reduce import sum
from .registry import Op
from .scans import like_device
from .shape import unsqueeze

REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}


def _check(in_types):
    x, target = in_types[:2]
    if not x.dtype.is_floating_point:
        raise TypeError(f"input must be a floating point tensor, got {x.dtype.name}")
    if not target.dtype.is_integer:
        raise TypeError(f"class-index targets must be integers, got {target.dtype.name}")
    if x.ndim != 2 or target.ndim != 1:
        raise ValueError(f"expects input (N, C) and target (N,), got "
                         f"{list(x.shape)} and {list(target.shape)}")
    n = x.shape[0]
    if is_static_dim(n) and is_static_dim(target.shape[0]) and n != target.shape[0]:
        raise ValueError(f"input of shape {list(x.shape)} needs a target of shape "
                         f"[{n}], got {list(target.shape)}")
    weight = in_types[-1] if len(in_types) in (3, 5) else None
    if weight is not None:
        if weight.ndim != 1 or (is_static_dim(weight.shape[0]) and is_static_dim(x.shape[1])
                                and weight.shape[0] != x.shape[1]):
            raise ValueError(f"weight must have one value per class ({x.shape[1]}), "
                             f"got shape {list(weight.shape)}")
        if weight.dtype != x.dtype:
            raise TypeError(f"weight must have the input's dtype {x.dtype.name}, got "
                            f"{weight.dtype.name}")
    return x


def _normalize(in_types, attrs):
    reduction = attrs["reduction"]
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction")
    return {"ignore_index": int(attrs["ignore_index"]), "reduction": reduction}


def _infer(in_types, ignore_index, reduction):
    x = _check(in_types)
    rows = TensorType((x.shape[0],), x.dtype)
    return [rows if reduction == "none" else TensorType((), x.dtype), rows]


# ---- NumPy references ---------------------------------------------------------------------------
def _row_weights(target, weight, ignore_index, dtype):
    """(w[target] with 0 where ignored, the rows not ignored)."""
    keep = target != ignore_index
    w = np.ones(target.shape, dtype) if weight is None else weight[np.where(keep, target, 0)]
    return np.where(keep, w, 0).astype(dtype), keep


def _reference(x, target, weight=None, *, ignore_index, reduction):
    keep = target != ignore_index
    if np.any(keep & ((target < 0) | (target >= x.shape[1]))):
        raise ValueError("target out of bounds (cross_entropy): class indices must be in "
                         "[0, number of classes) or equal ignore_index")
    top = np.max(x, axis=1, keepdims=True) if x.shape[1] else np.zeros((len(x), 1), x.dtype)
    lse = (top + np.log(np.sum(np.exp(x - top), axis=1, keepdims=True)))[:, 0].astype(x.dtype)
    picked = x[np.arange(len(x)), np.where(keep, target, 0)] if len(x) else lse
    w, _ = _row_weights(target, weight, ignore_index, x.dtype)
    rows = np.where(keep, w * (lse - picked), 0).astype(x.dtype)
    if reduction == "none":
        return rows, lse
    total = np.sum(rows, dtype=np.float64)
    value = total if reduction == "sum" else total / np.sum(w, dtype=np.float64)
    return np.asarray(value, x.dtype), lse


def _backward_reference(x, target, lse, grad, weight=None, *, ignore_index, reduction):
    w, keep = _row_weights(target, weight, ignore_index, x.dtype)
    g = np.asarray(grad, np.float64)
    if reduction == "mean":
        g = g / np.sum(w, dtype=np.float64)
    s = (g * w)[:, None] if reduction == "none" else g * w[:, None]
    onehot = np.arange(x.shape[1]) == np.where(keep, target, -1)[:, None]
    return (s * (np.exp(x - lse[:, None]) - onehot)).astype(x.dtype)


# ---- gradient rules (graphc ops: they build nodes in static mode, run in eager mode) -----------
def _parts(x, target, lse, weight, ignore_index):
    """(P, Y, w): softmax, one-hot target and per-row weight (0 where ignored), as values."""
    classes = x.shape[1]
    if not is_static_dim(classes):
        raise op_error(UnsupportedError, "cross_entropy", "second derivatives need a known "
                       "number of classes")
    Y = cast(eq(unsqueeze(target, dims=(1,)), like_device(np.arange(classes), x)), dtype=x.dtype)
    w = cast(ne(target, ignore_index), dtype=x.dtype)
    if weight is not None:
        w = mul(w, sum(mul(Y, unsqueeze(weight, dims=(0,))), dims=(1,)))
    return exp(sub(x, unsqueeze(lse, dims=(1,)))), Y, w


def _no_weight_grad(c):
    if len(c.inputs) in (3, 5) and c.needs_input_grad[-1]:
        raise op_error(UnsupportedError, "cross_entropy", "the derivative for 'weight' is not "
                       "implemented (as in PyTorch)")


def _vjp(c, g_loss, g_lse):
    _no_weight_grad(c)
    x, target = c.inputs[:2]
    loss, lse = c.outputs
    weight = c.inputs[2:]
    dx = None
    if g_loss is not None:
        dx = cross_entropy_backward(x, target, lse, g_loss, *weight, **c.attrs)
    if g_lse is not None:  # d lse / dx = softmax(x)
        term = mul(exp(sub(x, unsqueeze(lse, dims=(1,)))), unsqueeze(g_lse, dims=(1,)))
        dx = term if dx is None else add(dx, term)
    return [dx, None] + [None] * len(weight)


def _backward_vjp(c, G):
    """dx = s * (P - Y), s = per-row incoming gradient times w: differentiate in x (with lse
    held, its own path runs through the forward op's rule), lse and the incoming gradient."""
    _no_weight_grad(c)
    x, target, lse, grad = c.inputs[:4]
    weight = c.inputs[4] if len(c.inputs) == 5 else None
    reduction = c.attrs["reduction"]
    P, Y, w = _parts(x, target, lse, weight, c.attrs["ignore_index"])
    g = div(grad, sum(w)) if reduction == "mean" else grad
    spg = mul(mul(unsqueeze(mul(g, w), dims=(1,)), P), G)
    r = mul(w, sum(mul(G, sub(P, Y)), dims=(1,)))
    d_grad = r if reduction == "none" else sum(r)
    if reduction == "mean":
        d_grad = div(d_grad, sum(w))
    return [spg, None, neg(sum(spg, dims=(1,))), d_grad] + ([None] if weight is not None else [])


def _backward_infer(in_types, ignore_index, reduction):
    x = _check(in_types)
    grad = in_types[3]
    expect = (x.shape[0],) if reduction == "none" else ()
    if grad.ndim != len(expect):
        raise ValueError(f"the incoming gradient must have shape "
                         f"{list(expect)}, got {list(grad.shape)}")
    return [x]


cross_entropy = Op(
    "cross_entropy", infer=_infer, reference=_reference, vjp=_vjp, num_inputs=None,
    num_outputs=2, defaults={"ignore_index": -100, "reduction": "mean"}, normalize=_normalize,
    family="kernel", saves=("inputs", "outputs"),
    doc="Softmax cross-entropy of (N, C) logits against class indices (N,), optional class "
        "weights (C,): (loss, logsumexp of each row).")
cross_entropy_backward = Op(
    "cross_entropy_backward", infer=_backward_infer, reference=_backward_reference,
    vjp=_backward_vjp, num_inputs=None, defaults={"ignore_index": -100, "reduction": "mean"},
    normalize=_normalize, family="kernel",
    doc="Gradient of cross_entropy with respect to the logits, from its saved logsumexp.")
cross_entropy.takes_none = True  # lse's gradient is None unless something reads lse
