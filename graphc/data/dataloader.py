"""DataLoader: batches of a dataset, optionally shuffled by a seedable generator."""
from __future__ import annotations

import numbers

import numpy as np

from ..eager.random import Generator, generator as _generator
from ..eager.tensor import Tensor
from .dataset import IterableDataset, _Batch


class SequentialSampler:
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler:
    """A permutation per epoch. Without a generator, each epoch draws a seed from graphc's
    global generator, so graphc.manual_seed makes the order reproducible (as in PyTorch)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        if self.generator is None:
            rng = np.random.default_rng(int(_generator().integers(0, 2 ** 63 - 1)))
        else:
            rng = self.generator
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        order = []
        while len(order) < self.num_samples:
            order.extend(rng.permutation(n).tolist())
        return iter(order[:self.num_samples])

    def __len__(self):
        return self.num_samples


class BatchSampler:
    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def default_collate(batch):
    """Stack a list of samples: tensors and arrays along a new first dim, numbers into a
    tensor, tuples/lists/dicts element by element (as torch's default_collate)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._wrap(np.stack([b._data for b in batch]))
    if isinstance(elem, np.ndarray):
        return Tensor._wrap(np.stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor._wrap(np.asarray(batch, np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._wrap(np.asarray(batch, np.int64))
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, numbers.Real):
        return Tensor._wrap(np.asarray(batch, np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([b[k] for b in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


class DataLoader:
    """Iterate over a dataset in batches.

    batch_size (None: single samples, uncollated), shuffle (a new permutation each epoch,
    drawn from `generator` or graphc's global generator), drop_last, collate_fn, sampler,
    batch_sampler; num_workers > 0 runs worker processes (workers.py) with worker_init_fn,
    timeout, prefetch_factor and multiprocessing_context as PyTorch. pin_memory,
    persistent_workers and pin_memory_device change nothing here (the data is on the CPU;
    workers restart each epoch, with the same results).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if not in_order:
            from ..errors import UnsupportedError
            raise UnsupportedError("DataLoader(in_order=False) is not supported")
        self.iterable = isinstance(dataset, IterableDataset)
        if self.iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "sampler and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError("generator must be a graphc.Generator")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.num_workers, self.generator = num_workers, generator
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.pin_memory, self.persistent_workers = pin_memory, persistent_workers
        if self.iterable:
            self.sampler = self.batch_sampler = None
        else:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle \
                    else SequentialSampler(dataset)
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.sampler, self.batch_sampler = sampler, batch_sampler
        self._default_collate = collate_fn is None
        self.collate_fn = default_collate if collate_fn is None else collate_fn

    def __iter__(self):
        if self.num_workers > 0:
            from .workers import run_workers
            if self.iterable:
                return run_workers(self, None, self._iterate_stream, True)
            jobs = self.sampler if self.batch_sampler is None else self.batch_sampler
            fetch = self._fetch_one if self.batch_sampler is None else self._fetch
            return run_workers(self, list(jobs), fetch, False)
        if self.iterable:
            return self._iterate_stream(None)
        return self._iterate_in_process()

    def _iterate_in_process(self):
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.dataset[i]
            return
        for indices in self.batch_sampler:
            yield self._fetch(indices)

    def _fetch_one(self, index):
        return self.dataset[index]

    def _fetch(self, indices):
        fetch_many = getattr(self.dataset, "__getitems__", None)
        if fetch_many is not None:
            samples = fetch_many(indices)
            if isinstance(samples, _Batch) and self._default_collate:
                return list(samples)  # already collated by the dataset
            if isinstance(samples, _Batch):
                samples = [tuple(t[i] for t in samples) for i in range(len(indices))]
        else:
            samples = [self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def _iterate_stream(self, _):
        """Batches of an iterable dataset (in this process or in one worker)."""
        if self.batch_size is None:
            yield from iter(self.dataset)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self):
        if self.iterable:
            n = len(self.dataset)  # (TypeError when the stream has no length, as PyTorch)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
