"""More samplers with torch.utils.data's names: SubsetRandomSampler, WeightedRandomSampler.
(Random streams are graphc's, not PyTorch's: the same distributions, not the same draws.)"""
from __future__ import annotations

import numpy as np

from ..eager.random import generator as _generator


def _rng(generator):
    if generator is None:  # a fresh stream per epoch, seeded from graphc's global generator
        return np.random.default_rng(int(_generator().integers(0, 2 ** 63 - 1)))
    return generator


class SubsetRandomSampler:
    """The given indices in a random order (a new one each epoch)."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        order = _rng(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in order])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler:
    """num_samples indices drawn with probability proportional to weights."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.detach().numpy() if hasattr(weights, "detach") else weights,
                       np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (weights must be finite, "
                               "non-negative and not all zero)")
        if not replacement and num_samples > (w > 0).sum():
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        self.weights, self.num_samples = w, num_samples
        self.replacement, self.generator = replacement, generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        picks = _rng(self.generator).choice(len(p), self.num_samples, self.replacement, p)
        return iter(picks.tolist())

    def __len__(self):
        return self.num_samples
