"""Seedable random numbers for eager tensors (graphc.manual_seed, rand, randn, ...)."""
from __future__ import annotations

import numpy as np


class Generator:
    """A seedable source of randomness, like torch.Generator (backed by NumPy's PCG64)."""

    def __init__(self, device="cpu"):
        self._rng = np.random.default_rng()
        self._seed = None
        # The seed of the next random op (dropout) call, eager or compiled: each call uses it
        # and advances it by one (see graphc.ops.nn.random_counter). Written in place, so
        # compiled steps bound to it see manual_seed.
        self.random_counter = np.zeros((), np.int64)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        # derived from the seed alone: drawing parameters does not shift the dropout masks
        start = np.random.SeedSequence(self._seed).generate_state(1, np.uint64)[0] >> 2
        self.random_counter[...] = np.int64(start)
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
