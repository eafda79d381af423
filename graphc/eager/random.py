"""Seedable random numbers for eager tensors (graphc.manual_seed, rand, randn, ...)."""
from __future__ import annotations

import numpy as np


class Generator:
    """A seedable source of randomness, like torch.Generator (backed by NumPy's PCG64)."""

    def __init__(self, device="cpu"):
        self._rng = np.random.default_rng()
        self._seed = None

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    @property
    def numpy(self):
        return self._rng

    def __getattr__(self, name):  # uniform, normal, integers, permutation, ...
        return getattr(self.__dict__["_rng"], name)


_default = Generator().manual_seed(0)


def generator(gen=None) -> Generator:
    return _default if gen is None else gen


def manual_seed(seed):
    """Seed graphc's global generator (eager random ops, initializers, dropout)."""
    return _default.manual_seed(seed)


def initial_seed():
    return _default.initial_seed()
