"""Activation modules: thin wrappers over graphc.nn.functional."""
from __future__ import annotations

from ..eager.creation import full
from . import activation_functions, functional as F
from .module import Module
from .parameter import Parameter


class _Activation(Module):
    """An activation whose forward is one functional call with fixed keyword arguments."""

    fn = None
    args: tuple = ()
    inplace = False  # (a class default too: modules saved before it was an attribute load)
    repr_inplace = True  # PyTorch's Hardsigmoid/Hardswish never print it

    def __init__(self, **kwargs):
        super().__init__()
        for name in self.args:
            setattr(self, name, kwargs[name])

    def forward(self, input):
        args = self.args
        if not args:  # (Sigmoid, Tanh: no keyword dict to build)
            return type(self).fn(input)
        kwargs = {}
        for name in args:
            kwargs[name] = getattr(self, name)
        return type(self).fn(input, **kwargs)

    def extra_repr(self):  # as PyTorch prints it: strings quoted, inplace only when True
        shown = [n for n in self.args if n != "inplace"]
        parts = [f"{n}={getattr(self, n)!r}" if isinstance(getattr(self, n), str)
                 else f"{n}={getattr(self, n)}" for n in shown]
        if "inplace" in self.args and self.inplace and self.repr_inplace:
            parts.append("inplace=True")
        return ", ".join(parts)


def _activation(name, fn, **defaults):
    """Define an activation class `name` calling `fn` with keyword arguments `defaults`."""
    args = tuple(defaults)

    def __init__(self, *pos, **kwargs):
        if len(pos) > len(args):
            raise TypeError(f"{name} takes at most {len(args)} positional arguments")
        values = dict(defaults)
        values.update(zip(args, pos))
        unknown = set(kwargs) - set(args)
        if unknown:
            raise TypeError(f"{name}: unexpected argument(s) {sorted(unknown)}")
        values.update(kwargs)
        _Activation.__init__(self, **values)

    doc = f"Applies {name} elementwise (see graphc.nn.functional)."
    return type(name, (_Activation,), {"fn": staticmethod(fn), "args": args,
                                       "__init__": __init__, "__doc__": doc})


ReLU = _activation("ReLU", F.relu, inplace=False)
ReLU6 = _activation("ReLU6", F.relu6, inplace=False)
LeakyReLU = _activation("LeakyReLU", F.leaky_relu, negative_slope=0.01, inplace=False)
ELU = _activation("ELU", F.elu, alpha=1.0, inplace=False)
SELU = _activation("SELU", F.selu, inplace=False)
CELU = _activation("CELU", F.celu, alpha=1.0, inplace=False)
GELU = _activation("GELU", F.gelu, approximate="none")
Sigmoid = _activation("Sigmoid", F.sigmoid)
LogSigmoid = _activation("LogSigmoid", F.logsigmoid)
Tanh = _activation("Tanh", F.tanh)
Hardtanh = _activation("Hardtanh", F.hardtanh, min_val=-1.0, max_val=1.0, inplace=False)
Hardshrink = _activation("Hardshrink", F.hardshrink, lambd=0.5)
Softshrink = _activation("Softshrink", F.softshrink, lambd=0.5)
Hardshrink.extra_repr = Softshrink.extra_repr = lambda self: f"{self.lambd}"  # PyTorch's
Softsign = _activation("Softsign", F.softsign)
Softplus = _activation("Softplus", F.softplus, beta=1.0, threshold=20.0)
Tanhshrink = _activation("Tanhshrink", F.tanhshrink)
Threshold = _activation("Threshold", F.threshold, threshold=None, value=None, inplace=False)
SiLU = _activation("SiLU", F.silu, inplace=False)
Mish = _activation("Mish", F.mish, inplace=False)
Hardsigmoid = _activation("Hardsigmoid", F.hardsigmoid, inplace=False)
Hardswish = _activation("Hardswish", F.hardswish, inplace=False)
Hardsigmoid.repr_inplace = Hardswish.repr_inplace = False
GLU = _activation("GLU", F.glu, dim=-1)
Softmax = _activation("Softmax", F.softmax, dim=None)
Softmin = _activation("Softmin", F.softmin, dim=None)
LogSoftmax = _activation("LogSoftmax", F.log_softmax, dim=None)


def _implicit_dim(fn):
    def call(input, dim):
        return fn(input, activation_functions._dim(input, dim, "softmax"))
    return call


Softmax.fn = staticmethod(_implicit_dim(F.softmax))
LogSoftmax.fn = staticmethod(_implicit_dim(F.log_softmax))


class RReLU(Module):
    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                            else "")


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected 3-D or 4-D input, got shape "
                             f"{list(input.shape)}")
        return F.softmax(input, -3)


class PReLU(Module):
    """max(0, x) + a * min(0, x) with a learned slope (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype))
        self._place(device)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
