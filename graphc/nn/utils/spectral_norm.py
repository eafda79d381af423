"""torch.nn.utils.spectral_norm: weight = weight_orig / sigma, sigma the largest singular
value of weight_orig (as a matrix over `dim`), estimated by power iteration on the buffers
weight_u and weight_v, which advance at every training forward (PyTorch's layout and
arithmetic).

The power iteration runs without gradients (u and v are constants of sigma), which needs
eager tensors in training mode: a symbolic forward in training mode raises; in eval mode
(the stored u and v) it compiles."""
from __future__ import annotations

from ... import functional as G
from ...eager.grad_mode import no_grad
from ...errors import UnsupportedError
from ...ir.graph import Value
from ..parameter import Parameter


def _normalize(x, eps):
    return G.div(x, G.clamp(G.sqrt(G.sum(G.square(x))), min=eps))


class SpectralNorm:
    _graphc_loadable = True  # graphc.load may rebuild it (a saved module's hook)

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.dim = name, dim
        self.n_power_iterations, self.eps = n_power_iterations, eps

    def reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            order = (self.dim,) + tuple(d for d in range(weight.ndim) if d != self.dim)
            weight = G.permute(weight, *order)
        return G.reshape(weight, (weight.shape[0], -1))

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            if isinstance(weight, Value):
                raise UnsupportedError("spectral_norm: the power iteration of a training "
                                       "forward runs without gradients, on eager tensors; "
                                       "compile the module in eval mode")
            with no_grad():
                w = mat.detach()
                for _ in range(self.n_power_iterations):
                    v_new = _normalize(G.matmul(G.t(w), u), self.eps)
                    u_new = _normalize(G.matmul(w, v_new), self.eps)
                    v._assign(v_new)
                    u._assign(u_new)
                u, v = u.clone(), v.clone()
        sigma = G.sum(G.mul(u, G.matmul(mat, v)))
        return G.div(weight, sigma)

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name,
                           self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        from ...eager.creation import randn
        with no_grad():
            h, w = fn.reshape_weight_to_matrix(weight.detach()).shape
            u = _normalize(randn(h, dtype=weight.dtype, device=weight.device), eps)
            v = _normalize(randn(w, dtype=weight.dtype, device=weight.device), eps)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        object.__setattr__(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        fn.handle = module.register_forward_pre_hook(fn)
        object.__setattr__(module, "_spectral_norm_" + name, fn)
        return fn

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False).detach()
        self.handle.remove()
        del module._parameters[self.name + "_orig"]
        del module._buffers[self.name + "_u"]
        del module._buffers[self.name + "_v"]
        module.__dict__.pop(self.name, None)
        module.__dict__.pop("_spectral_norm_" + self.name, None)
        module.register_parameter(self.name, Parameter(weight))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    if dim is None:
        transposed = type(module).__name__.startswith("ConvTranspose")
        dim = 1 if transposed else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    fn = module.__dict__.get("_spectral_norm_" + name)
    if fn is None:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    fn.remove(module)
    return module
