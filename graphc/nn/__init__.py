"""graphc.nn: modules, layers, losses and initializations with PyTorch's names.

One model definition serves both execution models: called on eager tensors a module runs at
once; called on symbolic values (graphc.placeholder) it builds graph nodes whose parameters
are variables bound to the same storage.
"""
from . import functional, init
from .activation import (CELU, ELU, GELU, SELU, Hardshrink, Hardtanh, Identity, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                         Threshold)
from .containers import ModuleDict, ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d
from .linear import Bilinear, Dropout, Embedding, Flatten, Linear, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss, SmoothL1Loss)
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .parameter import Parameter
from .rnn import LSTM, RNN
from . import parallel, utils
from .parallel import SyncBatchNorm

__all__ = [
    "functional", "init", "parallel", "utils", "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Bilinear", "CELU", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Embedding", "Flatten", "GELU",
    "Hardshrink", "Hardtanh", "HuberLoss", "Identity", "L1Loss", "LSTM", "LayerNorm",
    "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MSELoss", "MaxPool2d", "Mish", "Module",
    "ModuleDict", "ModuleList", "NLLLoss", "PReLU", "Parameter", "RNN", "ReLU", "ReLU6", "SELU",
    "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softmin", "Softplus",
    "Softshrink", "Softsign", "SyncBatchNorm", "Tanh", "Tanhshrink", "Threshold",
    "Unflatten",
]
