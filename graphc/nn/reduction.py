"""The `reduction=` argument of every loss, and the legacy `size_average=` / `reduce=` pair
that PyTorch still accepts (and maps to `reduction`, with a deprecation warning).

PyTorch (torch/nn/_reduction.py): when either legacy argument is given it *replaces*
`reduction`; a missing one counts as True; reduce=False means 'none' whatever size_average
says, size_average=False means 'sum', both true means 'mean'.
"""
from __future__ import annotations

import warnings

from .. import functional as G

REDUCTIONS = ("mean", "sum", "none")


def legacy_get_string(size_average, reduce, emit_warning=True):
    """PyTorch's _Reduction.legacy_get_string: the reduction the legacy pair asks for."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", UserWarning, stacklevel=4)
    return ret


def resolve(size_average, reduce, reduction):
    """The reduction a loss must apply: the legacy pair wins when either is given."""
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    return reduction


def check(reduction, name, extra=()):
    if reduction not in REDUCTIONS and reduction not in extra:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS + tuple(extra)}, got "
                         f"{reduction!r}")
    return reduction


def apply(loss, reduction, name):
    """mean / sum / identity of an elementwise loss."""
    if reduction == "mean":
        return G.mean(loss)
    if reduction == "sum":
        return G.sum(loss)
    check(reduction, name)
    return loss
