"""torch.nn.utils.weight_norm: weight = g * v / ||v|| (norm over every dim but `dim`),
with g and v the trained parameters (`weight_g`, `weight_v`, as PyTorch's checkpoints).

The weight is recomputed by a forward pre-hook from the parameters, so it is part of the
graph in a symbolic forward (and gradients reach g and v in both modes)."""
from __future__ import annotations

from ... import functional as G
from ..parameter import Parameter


def _norm_except(v, dim):
    if dim is None or dim == -1 and v.ndim == 0:
        return G.sqrt(G.sum(G.square(v)))
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return G.sqrt(G.sum(G.square(v), others, keepdim=True))


class WeightNorm:
    _graphc_loadable = True  # graphc.load may rebuild it (a saved module's hook)

    def __init__(self, name, dim):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return G.mul(v, G.div(g, _norm_except(v, None if self.dim == -1 else self.dim)))

    @staticmethod
    def apply(module, name, dim):
        fn = WeightNorm(name, dim)
        weight = module._parameters[name]
        del module._parameters[name]
        norm = _norm_except(weight.detach(), None if fn.dim == -1 else fn.dim)
        module.register_parameter(name + "_g", Parameter(norm.detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
        object.__setattr__(module, name, fn.compute_weight(module))
        fn.handle = module.register_forward_pre_hook(fn)
        object.__setattr__(module, "_weight_norm_" + name, fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module).detach()
        self.handle.remove()
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        module.__dict__.pop(self.name, None)
        module.__dict__.pop("_weight_norm_" + self.name, None)
        module.register_parameter(self.name, Parameter(weight))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    fn = module.__dict__.get("_weight_norm_" + name)
    if fn is None:
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    fn.remove(module)
    return module
