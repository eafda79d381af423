"""Collectives on eager tensors (in place, as in torch.distributed) and on symbolic values.

Eager collectives write their result into the tensors they are given and bump their version
counters. On a symbolic value (inside graphc.jit or a static graph) `all_reduce` returns a
new value made by the `all_reduce` op, a node of the graph.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.graph import Value
from .process_group import _check_group, _require, _state, wait


class ReduceOp:
    """Reductions of all_reduce / reduce_scatter (PyTorch's names)."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX"}


def _mpi_op(op, what):
    if op not in _MPI_OPS:
        raise ValueError(f"{what}: unknown op {op!r}; use graphc.distributed.ReduceOp.SUM, "
                         f"AVG, PRODUCT, MIN or MAX")
    return getattr(_state.MPI, _MPI_OPS[op])


def _array(t, what):
    if isinstance(t, Value):
        raise UnsupportedError(f"{what} on a symbolic value is not supported (only all_reduce "
                               f"has a graph node)")
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a graphc Tensor, got {type(t).__name__}")
    if type(t._data) is not np.ndarray:
        raise UnsupportedError(f"{what}: tensors on {t.device} are not supported by the MPI "
                               f"backend; move them to the CPU")
    return t._data


def _buffer(arr, what):
    """The MPI buffer spec of a contiguous array, or a clear error for dtypes MPI lacks."""
    MPI = _state.MPI
    try:
        return [arr, MPI._typedict[arr.dtype.char]]
    except KeyError:
        raise UnsupportedError(f"{what}: dtype {arr.dtype.name} has no MPI datatype") from None


class Work:
    """An asynchronous collective (async_op=True): wait() completes it."""

    def __init__(self, request, what, finish=None):
        self._request, self._what, self._finish, self._done = request, what, finish, False

    def is_completed(self):
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout=None):
        if not self._done:
            wait(self._request, self._what, None if timeout is None else _seconds(timeout))
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()


def _seconds(timeout):
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)


def _run(request, what, finish, async_op):
    work = Work(request, what, finish)
    if async_op:
        return work
    work.wait()
    return None


def allreduce_array(arr, reduce="sum", *, start_only=False):
    """Reduce a contiguous NumPy array over all ranks, in place ("sum" or "mean").
    With start_only, return the pending request (the caller waits and divides)."""
    comm = _require()
    request = comm.Iallreduce(_state.MPI.IN_PLACE, _buffer(arr, "all_reduce"), _state.MPI.SUM)
    if start_only:
        return request
    wait(request, "all_reduce")
    if reduce == "mean":
        arr /= comm.Get_size()
    return arr


class InPlaceAllreduce:
    """The allreduce of compiled programs' gradient buckets (graphc/lower/collective.py):
    started as soon as a bucket's gradients are written, progressed between kernels, waited
    for (with the deadline) just before the first kernel that reads the result. MPI's
    Iallreduce: across machines, for small buckets, and with GRAPHC_SHM_ALLREDUCE=0 (else
    shared_memory.SharedMemoryAllreduce)."""

    def __init__(self, comm, MPI):
        self.comm, self.MPI, self.size = comm, MPI, comm.Get_size()
        self.pending = 0
        self.thread = None
        # GRAPHC_PROGRESS_THREAD=1: a Python thread keeps MPI moving the bytes while a kernel
        # runs (kernels release the GIL), where a spare core can take that work
        self.use_thread = os.environ.get("GRAPHC_PROGRESS_THREAD", "0") not in ("", "0") \
            and MPI.Query_thread() == MPI.THREAD_MULTIPLE and self.size > 1
        self.wake = threading.Event()

    def start(self, buffer):
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, _buffer(buffer, "all_reduce"),
                                       self.MPI.SUM)
        if self.use_thread:
            self.pending += 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._progress_loop, daemon=True,
                                               name="graphc-mpi-progress")
                self.thread.start()
            self.wake.set()
        return request

    def _progress_loop(self):
        probe = self.comm.Iprobe  # any MPI call runs MPI's progress engine; the requests
        while True:               # themselves are tested by the main thread only
            self.wake.wait()
            while self.pending:
                probe()
                time.sleep(PROGRESS_INTERVAL)
            self.wake.clear()

    def progress(self, request):
        request.Test()  # any MPI call moves every pending transfer a step

    def finish(self, request, buffer, mean):
        wait(request, "all_reduce (a gradient bucket)")
        if self.use_thread:
            self.pending -= 1
        if mean and self.size > 1:
            buffer /= self.size


PROGRESS_INTERVAL = 50e-6  # seconds between the progress thread's MPI calls


def broadcast_array(arr, src=0):
    """Overwrite a contiguous NumPy array with rank src's, in place."""
    request = _require().Ibcast(_buffer(arr, "broadcast"), root=src)
    wait(request, "broadcast")
    return arr


def all_ranks_agree(key: str, what: str) -> bool:
    """Whether every rank passed the same `key` (compared by a 63-bit hash: one allreduce, on
    the process group's checking communicator)."""
    import hashlib
    _require()
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1
    both = np.array([h, -h], np.int64)  # max of h and of -h: equal hashes iff max == -max(-h)
    request = _state.check_comm.Iallreduce(_state.MPI.IN_PLACE, _buffer(both, what),
                                           _state.MPI.MAX)
    wait(request, what)
    return bool(both[0] == -both[1])


def average_symbolic_grads(params, scope, bucket_cap_mb=None):
    """While tracing a step: replace each parameter's symbolic .grad with its mean over the
    ranks (one `all_reduce` node each; the compiler groups them into buckets). A .grad that
    is already such a mean (DistributedDataParallel inside graphc.jit(distributed=True)) is
    left as it is."""
    from ..ir.graph import name_scope
    from ..ops.collective import all_reduce as all_reduce_op
    with name_scope(scope):
        for p in params:
            g = p.grad
            if isinstance(g, Value) and g.node.op is not all_reduce_op:
                p.grad = all_reduce_op(g, reduce="mean", bucket_cap_mb=bucket_cap_mb)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` over all ranks, in place (torch.distributed.all_reduce).

    On a symbolic value returns a new value (an `all_reduce` node); only SUM and AVG there.
    """
    _check_group(group)
    if isinstance(tensor, Value):
        if op not in (ReduceOp.SUM, ReduceOp.AVG):
            raise UnsupportedError(f"all_reduce on a symbolic value supports ReduceOp.SUM and "
                                   f"AVG, got {op!r}")
        if async_op:
            raise UnsupportedError("all_reduce(async_op=True) on a symbolic value: the "
                                   "compiled step decides when it communicates")
        from ..ops.collective import all_reduce as all_reduce_op
        return all_reduce_op(tensor, reduce="mean" if op == ReduceOp.AVG else "sum")
    arr = _array(tensor, "all_reduce")
    comm = _require()
    mpi_op = _mpi_op(op, "all_reduce")
    if op == ReduceOp.AVG and not np.issubdtype(arr.dtype, np.floating):
        raise UnsupportedError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got "
                               f"{arr.dtype.name}")
    work = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    request = comm.Iallreduce(_state.MPI.IN_PLACE, _buffer(work, "all_reduce"), mpi_op)

    def finish():
        if op == ReduceOp.AVG:
            work[...] /= comm.Get_size()
        if work is not arr:
            np.copyto(arr, work)
        tensor._bump()
    return _run(request, "all_reduce", finish, async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy `tensor` of rank `src` into `tensor` on every rank."""
    _check_group(group)
    arr = _array(tensor, "broadcast")
    comm = _require()
    if not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src={src} is not a rank of a group of {comm.Get_size()}")
    work = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    request = comm.Ibcast(_buffer(work, "broadcast"), root=src)

    def finish():
        if work is not arr:
            np.copyto(arr, work)
        tensor._bump()
    return _run(request, "broadcast", finish, async_op)


def _same(t, arr, what, name):
    out = _array(t, what)
    if out.shape != arr.shape or out.dtype != arr.dtype:
        raise ValueError(f"{what}: {name} is {out.dtype.name} {list(out.shape)}, expected "
                         f"{arr.dtype.name} {list(arr.shape)}")
    return out


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] = `tensor` of rank r, on every rank."""
    _check_group(group)
    arr = _array(tensor, "all_gather")
    comm = _require()
    if len(tensor_list) != comm.Get_size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a group "
                         f"of {comm.Get_size()} ranks")
    outs = [_same(t, arr, "all_gather", f"tensor_list[{i}]") for i, t in enumerate(tensor_list)]
    gathered = np.empty((comm.Get_size(),) + arr.shape, arr.dtype)
    request = comm.Iallgather(_buffer(np.ascontiguousarray(arr), "all_gather"),
                              _buffer(gathered, "all_gather"))

    def finish():
        for t, out, part in zip(tensor_list, outs, gathered):
            np.copyto(out, part)
            t._bump()
    return _run(request, "all_gather", finish, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output (world_size * n, ...) = the inputs (n, ...) of every rank, concatenated."""
    _check_group(group)
    arr = _array(input_tensor, "all_gather_into_tensor")
    out = _array(output_tensor, "all_gather_into_tensor")
    comm = _require()
    size = comm.Get_size()
    if out.dtype != arr.dtype or out.size != arr.size * size or not out.flags.c_contiguous:
        raise ValueError(f"all_gather_into_tensor: output is {out.dtype.name} "
                         f"{list(out.shape)}, expected {size} x the input "
                         f"({arr.dtype.name} {list(arr.shape)}), contiguous")
    request = comm.Iallgather(_buffer(np.ascontiguousarray(arr), "all_gather_into_tensor"),
                              _buffer(out, "all_gather_into_tensor"))
    return _run(request, "all_gather_into_tensor", output_tensor._bump, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r = the reduction over ranks of input_list[r]."""
    _check_group(group)
    out = _array(output, "reduce_scatter")
    comm = _require()
    if len(input_list) != comm.Get_size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors for a "
                         f"group of {comm.Get_size()} ranks")
    parts = [_same(t, out, "reduce_scatter", f"input_list[{i}]")
             for i, t in enumerate(input_list)]
    return _reduce_scatter(output, out, np.stack(parts), op, "reduce_scatter", async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r = the reduction over ranks of the r-th block of `input`."""
    _check_group(group)
    out = _array(output, "reduce_scatter_tensor")
    arr = _array(input, "reduce_scatter_tensor")
    size = _require().Get_size()
    if arr.dtype != out.dtype or arr.size != out.size * size:
        raise ValueError(f"reduce_scatter_tensor: input is {arr.dtype.name} {list(arr.shape)}, "
                         f"expected {size} x the output ({out.dtype.name} {list(out.shape)})")
    return _reduce_scatter(output, out, np.ascontiguousarray(arr), op, "reduce_scatter_tensor",
                           async_op)


def _reduce_scatter(output, out, send, op, what, async_op):
    comm = _require()
    mpi_op = _mpi_op(op, what)
    if op == ReduceOp.AVG and not np.issubdtype(out.dtype, np.floating):
        raise UnsupportedError(f"{what}: ReduceOp.AVG needs a floating tensor, got "
                               f"{out.dtype.name}")
    recv = np.empty(out.shape, out.dtype)
    request = comm.Ireduce_scatter_block(_buffer(send, what), _buffer(recv, what), mpi_op)

    def finish():
        if op == ReduceOp.AVG:
            recv[...] /= comm.Get_size()
        np.copyto(out, recv)
        output._bump()
    return _run(request, what, finish, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached its barrier (with the process group's timeout)."""
    _check_group(group)
    request = _require().Ibarrier()
    return _run(request, "barrier", None, async_op)
