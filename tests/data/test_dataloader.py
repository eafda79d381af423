"""Datasets and DataLoader: batching, drop_last, shuffling per epoch, seeds, collate."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.utils.data import (DataLoader, Dataset, TensorDataset, Subset, random_split,
                               default_collate)


def make(n=10):
    return TensorDataset(gc.arange(n), gc.arange(n) * 10)


def test_batches_in_order_with_and_without_drop_last():
    batches = [x.tolist() for x, _ in DataLoader(make(), batch_size=4)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = DataLoader(make(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [x.tolist() for x, _ in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(make(), batch_size=4)) == 3


def test_pairs_stay_together_and_each_epoch_is_a_permutation():
    loader = DataLoader(make(), batch_size=3, shuffle=True)
    orders = []
    for _ in range(2):
        seen = []
        for x, y in loader:
            np.testing.assert_array_equal(y.numpy(), x.numpy() * 10)
            seen += x.tolist()
        assert sorted(seen) == list(range(10))
        orders.append(seen)
    assert orders[0] != orders[1]  # a new permutation each epoch


def test_shuffle_is_reproducible_from_the_global_seed_and_from_a_generator():
    def order(**kw):
        return [v for x, _ in DataLoader(make(), batch_size=4, shuffle=True, **kw)
                for v in x.tolist()]
    gc.manual_seed(3)
    a = order()
    gc.manual_seed(3)
    assert order() == a
    g1, g2 = gc.Generator().manual_seed(7), gc.Generator().manual_seed(7)
    assert order(generator=g1) == order(generator=g2)
    assert order(generator=gc.Generator().manual_seed(8)) != order(
        generator=gc.Generator().manual_seed(7))


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i * i, "name": f"s{i}"}


def test_default_collate_of_dicts_arrays_numbers_and_strings():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype is gc.float32
    assert batch["y"].tolist() == [0, 1, 4] and batch["y"].dtype is gc.int64
    assert batch["name"] == ["s0", "s1", "s2"]
    floats = default_collate([1.5, 2.5])
    assert floats.dtype is gc.float64


def test_custom_collate_and_unbatched_loading():
    loader = DataLoader(make(4), batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2]
    singles = list(DataLoader(make(3), batch_size=None))
    assert [x.item() for x, _ in singles] == [0, 1, 2]


def test_subset_and_random_split():
    ds = make()
    a, b = random_split(ds, [7, 3], generator=gc.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    idx = sorted(a.indices + b.indices)
    assert idx == list(range(10))
    sub = Subset(ds, [4, 2])
    x, y = next(iter(DataLoader(sub, batch_size=2)))
    assert x.tolist() == [4, 2] and y.tolist() == [40, 20]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(gc.zeros(3), gc.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make(), batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(make(), sampler=range(3), shuffle=True)
