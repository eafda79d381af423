"""graphc.nn: modules, layers, losses and initializations with PyTorch's names.

One model definition serves both execution models: called on eager tensors a module runs at
once; called on symbolic values (graphc.placeholder) it builds graph nodes whose parameters
are variables bound to the same storage.
"""
from . import functional, init
from .activation import (CELU, ELU, GELU, GLU, SELU, RReLU, Hardshrink, Hardsigmoid, Hardswish,
                         Hardtanh, Identity, LeakyReLU, Softmax2d,
                         LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                         Threshold)
from .attention import MultiheadAttention
from .ctc import CTCLoss
from .embedding_bag import EmbeddingBag
from .volumetric import AvgPool3d, Conv3d, MaxPool3d
from .pooling import AdaptiveMaxPool1d, AdaptiveMaxPool2d, Fold, LPPool1d, LPPool2d, Unfold
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d,
                   ConvTranspose1d, ConvTranspose2d, MaxPool1d, MaxPool2d)
from .padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d,
                      ConstantPad2d, ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
                      ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                      ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .dropout import AlphaDropout, Dropout1d, Dropout2d, Dropout3d
from .linear import (Bilinear, CosineSimilarity, Dropout, Embedding, Flatten, Linear,
                     PairwiseDistance, Unflatten)
from .resampling import (ChannelShuffle, PixelShuffle, PixelUnshuffle, Upsample,
                         UpsamplingBilinear2d, UpsamplingNearest2d)
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                   GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss,
                   MarginRankingLoss, MSELoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
                   NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss, TripletMarginLoss,
                   TripletMarginWithDistanceLoss)
from .module import Module
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d, LayerNorm, LocalResponseNorm,
                            RMSNorm)
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from . import utils
from . import parallel
from .parallel import DataParallel
from . import modules  # torch.nn.modules.* import paths (after every layer is defined)

__all__ = [
    "functional", "init", "utils", "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Bilinear", "CELU", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Embedding", "Flatten", "GELU",
    "Hardshrink", "Hardtanh", "HuberLoss", "Identity", "L1Loss", "LSTM", "LayerNorm",
    "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MSELoss", "MaxPool2d", "Mish", "Module",
    "ModuleDict", "ModuleList", "NLLLoss", "PReLU", "Parameter", "RNN", "ReLU", "ReLU6", "SELU",
    "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softmin", "Softplus",
    "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold", "Unflatten",
    "AdaptiveAvgPool1d", "AvgPool1d", "Conv1d", "ConvTranspose1d", "MaxPool1d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
    "GLU", "Hardsigmoid", "Hardswish", "Softmax2d",
    "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LocalResponseNorm", "RMSNorm",
    "AlphaDropout", "Dropout1d", "Dropout2d", "Dropout3d", "CosineSimilarity",
    "PairwiseDistance", "ChannelShuffle", "PixelShuffle", "PixelUnshuffle", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d",
    "MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
    "TransformerEncoder", "TransformerEncoderLayer",
    "AvgPool3d", "Conv3d", "MaxPool3d", "CTCLoss", "ParameterDict", "ParameterList", "RReLU", "EmbeddingBag",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Fold", "LPPool1d", "LPPool2d", "Unfold", "DataParallel", "parallel", "modules",
    "GRU", "GRUCell", "LSTMCell", "RNNCell",
    "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "KLDivLoss",
    "MarginRankingLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss",
    "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
]
