"""IterableDataset, the extra samplers and DataLoader worker processes."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.utils.data import (DataLoader, IterableDataset, SubsetRandomSampler,
                               TensorDataset, WeightedRandomSampler, get_worker_info)


class Squares(gc.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([i * i, -1 if info is None else info.id])


class Stream(IterableDataset):
    """0..n-1, each worker reading its own share (PyTorch's sharding idiom)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        step, start = (1, 0) if info is None else (info.num_workers, info.id)
        return iter(range(start, self.n, step))


def test_workers_give_the_same_batches_in_the_same_order():
    plain = [b.numpy()[:, 0].tolist() for b in DataLoader(Squares(), batch_size=3)]
    loader = DataLoader(Squares(), batch_size=3, num_workers=2, prefetch_factor=1)
    batches = [b.numpy() for b in loader]
    assert [b[:, 0].tolist() for b in batches] == plain
    workers = {int(w) for b in batches for w in b[:, 1]}
    assert workers == {0, 1}  # really computed in two worker processes


class Seeds(gc.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([info.id, info.seed, _INIT_CALLS.get(info.id, 0)])


_INIT_CALLS = {}


def _count_init(worker_id):
    assert get_worker_info().id == worker_id
    _INIT_CALLS[worker_id] = _INIT_CALLS.get(worker_id, 0) + 1  # (in the worker's memory)


def test_worker_init_fn_runs_once_per_worker_and_seeds_are_base_plus_id():
    rows = np.concatenate([b.numpy() for b in DataLoader(Seeds(), batch_size=1, num_workers=2,
                                                         worker_init_fn=_count_init)])
    seeds = {int(w): int(s) for w, s, _ in rows}
    assert seeds[1] - seeds[0] == 1
    assert set(rows[:, 2].tolist()) == {1}  # each worker ran worker_init_fn once
    assert _INIT_CALLS == {}  # ... in its own process, not in this one


def test_iterable_dataset_in_process_and_in_workers():
    assert [b.numpy().tolist() for b in DataLoader(Stream(7), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    batches = [b.numpy().tolist() for b in DataLoader(Stream(10), batch_size=2, num_workers=2)]
    # PyTorch's order: worker 0's first batch, worker 1's first batch, ...
    assert batches == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)


def test_worker_errors_reach_the_main_process():
    class Broken(gc.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise KeyError(f"no sample {i}")
    with pytest.raises(RuntimeError, match="no sample"):
        list(DataLoader(Broken(), num_workers=1))


def test_subset_and_weighted_samplers():
    gc.manual_seed(0)
    order = list(SubsetRandomSampler([3, 5, 7, 9]))
    assert sorted(order) == [3, 5, 7, 9]
    sampler = WeightedRandomSampler([0.0, 1.0, 3.0], 4000)
    counts = np.bincount(list(sampler), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3) < 0.4
    assert len(list(WeightedRandomSampler([1, 1, 1], 3, replacement=False))) == 3
    with pytest.raises(RuntimeError):
        WeightedRandomSampler([1, 0], 2, replacement=False)
    loader = DataLoader(TensorDataset(gc.arange(6)), batch_size=2,
                        sampler=SubsetRandomSampler([0, 2, 4]))
    assert sorted(int(v) for b in loader for v in b[0].numpy()) == [0, 2, 4]
