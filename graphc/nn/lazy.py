"""Lazy modules: the input size is inferred at the first call (LazyLinear, LazyConv*d,
LazyConvTranspose*d, LazyBatchNorm*d, LazyInstanceNorm*d), as PyTorch's.

Until then the parameters are UninitializedParameter objects (empty); an optimizer may hold
them. The first call builds the real layer (PyTorch's default initialization), moves its
arrays into those same parameter objects, and the module becomes the real class
(`LazyLinear` -> `Linear`)."""
from __future__ import annotations

import numpy as np

from .. import serialization
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d)
from .parameter import Parameter
from .volumetric import Conv3d, ConvTranspose3d

_TABLES = {"_parameters", "_buffers", "_modules", "_non_persistent", "_pending_updates",
           "training", "_hooks", "_lazy_args"}


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (its data is empty until materialized)."""

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), np.float32 if dtype is None else dtype.np),
                         requires_grad)

    def detach(self):
        """Still uninitialized (what a lazy module's state_dict holds, as PyTorch's)."""
        return UninitializedParameter(False, dtype=self.dtype)


serialization.TENSOR_CLASSES["uninitialized_parameter"] = UninitializedParameter


class LazyModuleMixin:
    cls_to_become = None
    dim_attr = "in_features"

    def _lazy_setup(self, args, kwargs):
        object.__setattr__(self, "_lazy_args", (args, kwargs))
        for name, p in list(self._parameters.items()):
            if p is not None:
                self._parameters[name] = UninitializedParameter(p.requires_grad, dtype=p.dtype)
        object.__setattr__(self, self.dim_attr, 0)

    def has_uninitialized_params(self):
        return "_lazy_args" in self.__dict__

    def _inferred_size(self, input):
        raise NotImplementedError

    def initialize_parameters(self, input):
        args, kwargs = self.__dict__["_lazy_args"]
        real = self.cls_to_become(int(self._inferred_size(input)), *args, **kwargs)
        for name, built in real._parameters.items():
            mine = self._parameters.get(name)
            if isinstance(mine, UninitializedParameter) and built is not None:
                mine._data = built._data  # the same Parameter object: optimizers keep it
                mine._vc[0] += 1
                object.__setattr__(mine, "__class__", Parameter)
        for name, buf in real._buffers.items():
            self._buffers[name] = buf
        for key, value in real.__dict__.items():
            if key not in _TABLES:
                object.__setattr__(self, key, value)
        del self.__dict__["_lazy_args"]
        object.__setattr__(self, "__class__", self.cls_to_become)

    def __call__(self, *args, **kwargs):
        if "_lazy_args" in self.__dict__:
            self.initialize_parameters(args[0])
        return type(self).__call__(self, *args, **kwargs)  # (the real class's, now)


def _channels(batched_ndim):
    def inferred(self, input):
        return input.shape[1] if input.ndim == batched_ndim else input.shape[0]
    return inferred


def _lazy(name, real, dim_attr, inferred, doc):
    def __init__(self, *args, **kwargs):
        real.__init__(self, 1, *args, **kwargs)
        self._lazy_setup(args, kwargs)
    return type(name, (LazyModuleMixin, real), {
        "__init__": __init__, "cls_to_become": real, "dim_attr": dim_attr,
        "_inferred_size": inferred, "__doc__": doc})


LazyLinear = _lazy("LazyLinear", Linear, "in_features",
                   lambda self, input: input.shape[-1], "Linear with in_features inferred.")
LazyConv1d = _lazy("LazyConv1d", Conv1d, "in_channels", _channels(3), "Conv1d, lazy.")
LazyConv2d = _lazy("LazyConv2d", Conv2d, "in_channels", _channels(4), "Conv2d, lazy.")
LazyConv3d = _lazy("LazyConv3d", Conv3d, "in_channels", _channels(5), "Conv3d, lazy.")
LazyConvTranspose1d = _lazy("LazyConvTranspose1d", ConvTranspose1d, "in_channels",
                            _channels(3), "ConvTranspose1d, lazy.")
LazyConvTranspose2d = _lazy("LazyConvTranspose2d", ConvTranspose2d, "in_channels",
                            _channels(4), "ConvTranspose2d, lazy.")
LazyConvTranspose3d = _lazy("LazyConvTranspose3d", ConvTranspose3d, "in_channels",
                            _channels(5), "ConvTranspose3d, lazy.")


def _features(self, input):
    return input.shape[1] if input.ndim > 1 else input.shape[0]


LazyBatchNorm1d = _lazy("LazyBatchNorm1d", BatchNorm1d, "num_features", _features,
                        "BatchNorm1d, lazy.")
LazyBatchNorm2d = _lazy("LazyBatchNorm2d", BatchNorm2d, "num_features", _features,
                        "BatchNorm2d, lazy.")
LazyBatchNorm3d = _lazy("LazyBatchNorm3d", BatchNorm3d, "num_features", _features,
                        "BatchNorm3d, lazy.")
LazyInstanceNorm1d = _lazy("LazyInstanceNorm1d", InstanceNorm1d, "num_features",
                           _channels(3), "InstanceNorm1d, lazy.")
LazyInstanceNorm2d = _lazy("LazyInstanceNorm2d", InstanceNorm2d, "num_features",
                           _channels(4), "InstanceNorm2d, lazy.")
LazyInstanceNorm3d = _lazy("LazyInstanceNorm3d", InstanceNorm3d, "num_features",
                           _channels(5), "InstanceNorm3d, lazy.")

LAZY_MODULES = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
                "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d",
                "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
                "LazyInstanceNorm2d", "LazyInstanceNorm3d"]
