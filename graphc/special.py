"""`graphc.special`: torch.special's names for the functions graphc has (aliases and a few
composites: expit, ndtr, log_ndtr, ndtri, entr, xlog1py)."""
from __future__ import annotations

import math

from .functional import log_softmax, logsumexp, softmax  # noqa: F401
from .ops import elementwise as E
from .pointwise import (digamma, erfc, erfinv, exp2, expm1, lgamma as gammaln, logit,  # noqa: F401
                        round, sinc, xlogy)

erf, log1p, expit, psi = E.erf, E.log1p, E.sigmoid, digamma


def ndtr(input):
    """The standard normal CDF."""
    return E.mul(E.erfc(E.mul(input, -1 / math.sqrt(2))), 0.5)


def log_ndtr(input):
    return E.log(ndtr(input))


def ndtri(input):
    """The inverse of ndtr."""
    return E.mul(erfinv(E.sub(E.mul(input, 2), 1)), math.sqrt(2))


def entr(input):
    """-x log x (0 at 0, -inf below 0)."""
    out = E.neg(E.mul(input, E.log(E.where(E.gt(input, 0), input, 1))))
    return E.where(E.lt(input, 0), -math.inf, out)


def xlog1py(input, other):
    """x * log1p(y), 0 where x == 0."""
    ly = E.log1p(other)
    return E.where(E.logical_and(E.eq(input, 0), E.isinf(ly)), 0.0, E.mul(input, ly))


__all__ = ["digamma", "psi", "erf", "erfc", "erfinv", "exp2", "expm1", "expit", "gammaln",
           "log1p", "logit", "xlogy", "xlog1py", "sinc", "round", "ndtr", "log_ndtr", "ndtri",
           "entr", "softmax", "log_softmax", "logsumexp"]
