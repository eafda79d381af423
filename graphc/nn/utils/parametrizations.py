"""torch.nn.utils.parametrizations.weight_norm: weight = g * v / ||v|| as a parametrization
(state_dict keys parametrizations.weight.original0 = g, original1 = v)."""
from __future__ import annotations

from ... import functional as G
from ..module import Module
from .parametrize import register_parametrization


def _norm_except_dim(v, dim):
    if dim == -1 or dim is None:
        return G.sqrt(G.sum(G.square(v)))
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return G.sqrt(G.sum(G.square(v), others, keepdim=True))


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return G.mul(weight_v, G.div(weight_g, _norm_except_dim(weight_v, self.dim)))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
