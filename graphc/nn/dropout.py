"""Channel dropout (Dropout1d/2d/3d) and AlphaDropout, over the `dropout` op.

A channel mask is the dropout op applied to a (N, C, 1, ...) tensor of ones, so eager and
compiled steps draw masks the same way (and compiled steps advance the shared seed)."""
from __future__ import annotations

import math
import warnings

from .. import functional as G
from . import functional as F
from .module import Module


def _channel_mask(input, p, lead):
    """Dropout of ones shaped like input[:lead dims] + (1, ...): the per-channel scale."""
    index = tuple(slice(None) if k < lead else slice(0, 1) for k in range(input.ndim))
    ones = G.full_like(input[index], 1.0)
    return F.dropout(ones, p, True)


def _feature_dropout(input, p, training, batched_ndim, name, inplace=False):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{name}: expected {batched_ndim - 1}-D or {batched_ndim}-D input, "
                         f"got shape {list(input.shape)}")
    if not training or p == 0:
        return input
    lead = 2 if input.ndim == batched_ndim else 1
    mask = _channel_mask(input, p, lead)  # (drawn once, also when written in place)
    return F.write_into(input, G.mul, mask) if inplace else G.mul(input, mask)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, 3, "dropout1d", inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=2)
        return _feature_dropout(input, p, training, 3, "dropout2d", inplace)
    return _feature_dropout(input, p, training, 4, "dropout2d", inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, 5, "dropout3d", inplace)


_SELU_ALPHA_PRIME = 1.7580993408473766  # -scale * alpha of SELU


def alpha_dropout(input, p=0.5, training=False, inplace=False, feature=False):
    """Dropout that keeps SELU's self-normalization: dropped units become the saturation value
    -alpha', then an affine map a x + b restores mean and variance (PyTorch's formula).
    feature=True drops whole channels (feature_alpha_dropout)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return F.write_into(input, G.mul, 0.0) if inplace else G.mul(input, 0.0)
    a = 1.0 / math.sqrt((_SELU_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    ones = G.full_like(input, 1.0) if not feature else G.full_like(
        input[tuple(slice(None) if k < 2 else slice(0, 1) for k in range(input.ndim))], 1.0)
    keep = G.cast(G.gt(F.dropout(ones, p, True), 0), input.dtype)
    b = G.add(G.mul(G.sub(keep, 1), _SELU_ALPHA_PRIME * a), _SELU_ALPHA_PRIME * a * p)
    scale = G.mul(keep, a)
    return F.write_into(input, _affine, scale, b) if inplace else _affine(input, scale, b)


def _affine(x, scale, shift):
    return G.add(G.mul(x, scale), shift)


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    def forward(self, input):
        return _feature_dropout(input, self.p, self.training, 3, "Dropout1d",
                                self.inplace)


class Dropout2d(_DropoutNd):
    def forward(self, input):
        if input.ndim == 3:
            warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                          "channel-wise 1D dropout behavior is desired - input is interpreted as "
                          "shape (N, C, L)", UserWarning, stacklevel=2)
            return _feature_dropout(input, self.p, self.training, 3, "Dropout2d",
                                    self.inplace)
        return _feature_dropout(input, self.p, self.training, 4, "Dropout2d", self.inplace)


class Dropout3d(_DropoutNd):
    def forward(self, input):
        return _feature_dropout(input, self.p, self.training, 5, "Dropout3d",
                                self.inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    return alpha_dropout(input, p, training, inplace, feature=True)


class AlphaDropout(_DropoutNd):
    def forward(self, input):
        return alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    def forward(self, input):
        return alpha_dropout(input, self.p, self.training, self.inplace, feature=True)
