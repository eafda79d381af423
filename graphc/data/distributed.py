"""DistributedSampler: each rank of a data-parallel job iterates over its own share."""
from __future__ import annotations

import math

import numpy as np


class DistributedSampler:
    """Indices of `dataset` for one rank (torch.utils.data.DistributedSampler's meaning).

    Every rank draws the same permutation (seeded by `seed + epoch`; call `set_epoch` each
    epoch for a new order) and takes every num_replicas-th index starting at its rank. The
    dataset is padded by repeating indices so that every rank gets the same number of
    samples (drop_last=False), or its tail is dropped (drop_last=True). num_replicas and rank
    default to the process group's. The permutation comes from NumPy's generator, so the
    order differs from PyTorch's for the same seed (the split rule is the same).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """A new epoch: a new permutation (the same on every rank)."""
        self.epoch = epoch
