"""torch.nn.modules.* import paths (`from torch.nn.modules.loss import _Loss`, ...).

graphc's layers live in files named for what they hold; each PyTorch submodule name is an
alias module here holding the same names PyTorch's has (every layer class, plus the base
classes programs subclass: _Loss, _WeightedLoss, _BatchNorm, _ConvNd, _RNNBase ...).
"""
from __future__ import annotations

import sys
import types

from .. import (activation, adaptive, attention, containers, conv, ctc, dropout, embedding_bag,
                fractional_pool, lazy, linear,
                loss, module, normalization, padding, parameter, pooling, resampling, rnn,
                transformer, volumetric)
from ..parallel import sync_batchnorm
from .. import *  # noqa: F401,F403  (torch.nn.modules exports every layer, as torch.nn does)

_SOURCES = {
    "activation": (activation, attention),
    "adaptive": (adaptive,),
    "batchnorm": (normalization, lazy, sync_batchnorm),
    "channelshuffle": (resampling,),
    "container": (containers,),
    "conv": (conv, volumetric, lazy),
    "distance": (linear,),
    "dropout": (dropout, linear),
    "flatten": (linear,),
    "fold": (pooling,),
    "instancenorm": (normalization,),
    "lazy": (lazy,),
    "linear": (linear, lazy),
    "loss": (loss, ctc),
    "module": (module,),
    "normalization": (normalization,),
    "padding": (padding,),
    "pixelshuffle": (resampling,),
    "pooling": (conv, pooling, volumetric, fractional_pool),
    "rnn": (rnn,),
    "sparse": (linear, embedding_bag),
    "transformer": (transformer,),
    "upsampling": (resampling,),
}


def _alias(name, sources):
    alias = types.ModuleType(f"{__name__}.{name}", f"torch.nn.modules.{name} names")
    for source in sources:
        alias.__dict__.update({k: v for k, v in vars(source).items()
                               if not k.startswith("__")})
    alias.Parameter = parameter.Parameter
    sys.modules[alias.__name__] = alias
    return alias


for _name, _sources in _SOURCES.items():
    globals()[_name] = _alias(_name, _sources)
