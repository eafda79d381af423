"""DataLoader worker processes (num_workers > 0), as PyTorch's: each worker has its own copy
of the dataset, a seed (base_seed + worker id, applied to graphc's generator), runs
worker_init_fn, and answers get_worker_info(). Map-style batches come back in sampler order;
iterable datasets are read by every worker (shard them with get_worker_info()) and their
batches interleave worker by worker, as in PyTorch.

Processes start with the 'fork' method on Linux (PyTorch's default there) and 'spawn'
elsewhere, or the given multiprocessing_context. Results cross processes as NumPy arrays
(tensors are rebuilt in the main process)."""
from __future__ import annotations

import multiprocessing as mp
import queue
import sys
from collections import deque, namedtuple

import numpy as np

from ..eager.tensor import Tensor

WorkerInfo = namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])
_worker_info = None
_DONE = "__graphc_worker_done__"


def get_worker_info():
    """Inside a DataLoader worker: (id, num_workers, seed, dataset); else None."""
    return _worker_info


class _TensorBox:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _to_plain(x):
    if isinstance(x, Tensor):
        return _TensorBox(np.asarray(x.cpu()._data))
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_to_plain(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_to_plain(v) for v in x) if type(x) in (list, tuple) \
            else [_to_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    return x


def _from_plain(x):
    if isinstance(x, _TensorBox):
        return Tensor._wrap(x.array)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_from_plain(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_from_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _from_plain(v) for k, v in x.items()}
    return x


def _worker_loop(worker_id, num_workers, seed, dataset, fetch, index_queue, result_queue,
                 worker_init_fn, iterable):
    global _worker_info
    from ..eager.random import manual_seed
    manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        if iterable:
            for batch in fetch(None):
                result_queue.put((worker_id, None, _to_plain(batch), None))
            result_queue.put((worker_id, None, _DONE, None))
            return
        while True:
            job = index_queue.get()
            if job is None:
                return
            number, indices = job
            result_queue.put((worker_id, number, _to_plain(fetch(indices)), None))
    except Exception as e:  # re-raised in the main process with the worker's traceback text
        import traceback
        result_queue.put((worker_id, None, None, f"{type(e).__name__}: {e}\n"
                                                 f"{traceback.format_exc()}"))


def _context(name):
    if name is not None:
        return mp.get_context(name) if isinstance(name, str) else name
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def run_workers(loader, jobs, fetch, iterable):
    """Yield the loader's batches computed by worker processes."""
    ctx = _context(loader.multiprocessing_context)
    n = loader.num_workers
    from ..eager.random import generator as _generator
    base_seed = int(_generator().integers(0, 2 ** 62))
    results = ctx.Queue()
    index_queues = [ctx.Queue() for _ in range(n)]
    procs = [ctx.Process(target=_worker_loop, daemon=True,
                         args=(i, n, base_seed + i, loader.dataset, fetch, index_queues[i],
                               results, loader.worker_init_fn, iterable))
             for i in range(n)]
    for p in procs:
        p.start()
    timeout = loader.timeout if loader.timeout > 0 else None

    def receive():
        try:
            worker, number, data, error = results.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"DataLoader timed out after {loader.timeout} seconds") from None
        if error is not None:
            raise RuntimeError(f"Caught an error in DataLoader worker process {worker}:\n"
                               f"{error}")
        return worker, number, data

    try:
        if iterable:
            yield from _round_robin(receive, n)
            return
        jobs = list(jobs)
        sent, buffered, next_out = 0, {}, 0
        for _ in range(min(len(jobs), n * loader.prefetch_factor)):
            index_queues[sent % n].put((sent, jobs[sent]))
            sent += 1
        while next_out < len(jobs):
            while next_out not in buffered:
                _, number, data = receive()
                buffered[number] = data
            yield _from_plain(buffered.pop(next_out))
            next_out += 1
            if sent < len(jobs):
                index_queues[sent % n].put((sent, jobs[sent]))
                sent += 1
    finally:
        for q in index_queues:
            q.put(None)
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()


def _is_done(data):
    return isinstance(data, str) and data == _DONE


def _round_robin(receive, n):
    """PyTorch's order for iterable datasets: the next batch of each live worker in turn."""
    buffers, done = {i: deque() for i in range(n)}, set()
    order, pos = list(range(n)), 0
    while order:
        w = order[pos % len(order)]
        while not buffers[w] and w not in done:
            source, _, data = receive()
            if _is_done(data):
                done.add(source)
            else:
                buffers[source].append(data)
        if buffers[w]:
            yield _from_plain(buffers[w].popleft())
            pos = (pos % len(order)) + 1
        else:  # exhausted: the next worker takes its place in the cycle
            pos = order.index(w)
            order.remove(w)
