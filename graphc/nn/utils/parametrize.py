"""torch.nn.utils.parametrize: a tensor of a module computed from other tensors on every
access (module.weight = f(original)), with PyTorch's state_dict layout
('parametrizations.weight.original', or original0, original1, ... when right_inverse returns
several tensors). In a symbolic forward the originals are graph variables, so the
parametrization is part of the compiled graph."""
from __future__ import annotations

from contextlib import contextmanager

from ...eager.grad_mode import no_grad
from ...eager.tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..parameter import Parameter


class ParametrizationList(ModuleList):
    def __init__(self, modules, original):
        super().__init__(modules)
        first = modules[0]
        with no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            self.register_parameter("original", _like_original(new, original))
        else:
            self.ntensors = len(new)
            for i, t in enumerate(new):
                self.register_parameter(f"original{i}", _like_original(t, original))

    def _originals(self):
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def forward(self):
        mods = list(self)
        x = mods[0](*self._originals())
        for m in mods[1:]:
            x = m(x)
        return x

    def right_inverse_(self, value):
        """module.weight = value: store the originals that give `value` (PyTorch's assign)."""
        with no_grad():
            for m in reversed(list(self)):
                value = m.right_inverse(value) if hasattr(m, "right_inverse") else value
            values = (value,) if self.is_tensor else tuple(value)
            for original, v in zip(self._originals(), values):
                original._assign(v)


def _like_original(t, original):
    p = Parameter(t.detach().clone() if hasattr(t, "detach") else t)
    p.requires_grad = original.requires_grad
    return p


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    parametrizations = module._modules.get("parametrizations")
    if parametrizations is not None and tensor_name in parametrizations:
        parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name in module._parameters:
        original = module._parameters.pop(tensor_name)
    elif tensor_name in module._buffers:
        original = module._buffers.pop(tensor_name)
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    if parametrizations is None:
        parametrizations = ModuleDict()
        module._modules["parametrizations"] = parametrizations
    parametrizations[tensor_name] = ParametrizationList([parametrization], original)
    return module


def is_parametrized(module, tensor_name=None):
    parametrizations = module._modules.get("parametrizations")
    if parametrizations is None:
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    parametrizations = module._modules.get("parametrizations")
    if parametrizations is None or tensor_name not in parametrizations:
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = parametrizations[tensor_name]
    with no_grad():
        value = plist() if leave_parametrized else plist.original
    del parametrizations._modules[tensor_name]
    module.register_parameter(tensor_name, Parameter(value.detach().clone()))
    if not len(parametrizations):
        del module._modules["parametrizations"]
    return module


@contextmanager
def cached():
    """PyTorch caches parametrized tensors inside this context; graphc recomputes them
    (same values)."""
    yield
