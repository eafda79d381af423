"""The gradient-bucket allreduce of compiled steps when every rank runs on one machine.

MPI_Iallreduce of a bucket costs each rank 2-4x more CPU time than the bytes need (1 MB on
2 ranks of a 2-core machine: ~100-130 µs, against ~12 µs to copy it and ~17 µs to add two:
MPICH's single-copy transfers pin pages and take several protocol rounds, and it moves
bytes only inside MPI calls). On a machine with no spare core that time is added to every
step whatever the overlap. So here the ranks sum their buckets where they lie: a compiled
program whose work arena holds gradient buckets takes that arena from this rank's **pool**,
a segment of an MPI shared-memory window (MPI_Win_allocate_shared, made once by
init_process_group), which every rank of the machine has mapped. Nothing is copied:

- at `start` a rank writes, in its row of a small shared **flags** window, where the bucket
  lies in its pool, then that it is ready (the bucket's use number);
- at `finish` it waits until every rank is ready (with the process group's deadline),
  takes one chunk of the bucket (rank r the r-th of `size` equal parts), sums that chunk of
  every rank's bucket **in rank order**, divides for a mean, and writes the result into that
  chunk of every rank's bucket: so every rank gets the same bits (on 2 ranks MPI's, a + b).
  Then it says it is done and waits until every rank is: its bucket is now whole.

Each rank reads and writes 2 bytes per byte of the bucket, where copying it into shared
memory and summing all of it moved 5; and the only messages are the flags. A rank touches
another's bucket only between that rank's `start` (the bucket is complete) and its `finish`
(which waits until everyone is done with it): the interval in which the program neither
reads nor writes it (the memory plan keeps it for the allreduce, as for MPI's in-place
one). Every rank starts the same buckets in the same order (checked before a compiled step's
first call: distributed/compiled.py _agree), so the n-th start of every rank is the same
bucket, and each uses row n % ROWS of the flags; a row is reused only after every rank has
finished with it (a rank's `finish` waits for all the others' "done").

A bucket outside the pool on any rank (a program output, a program made after the pool was
full, or one made before init_process_group) is summed by MPI_Iallreduce, on every rank
alike: each sees every rank's offset in the flags. So are buckets under MIN_BYTES (MPI's
eager protocol costs ~3.5 µs there) and, when the pool is not there, all of them.

Used when all ranks share one node (MPI_Comm_split_type SHARED) and there are at most
MAX_RANKS of them (each chunk is read from every rank), with a pool of MAX_BYTES or half of
/dev/shm's free space in all (containers often give it 64 MiB), whichever is less: pages are
used only as arenas are touched. GRAPHC_SHM_ALLREDUCE=0 on any rank selects MPI_Iallreduce.
"""
from __future__ import annotations

import os

import numpy as np

MAX_RANKS = 8
MIN_BYTES = 16 << 10
MAX_BYTES = 256 << 20  # of shared memory, the pools of all ranks together
MIN_POOL = 1 << 20     # bytes per rank below which buckets go to MPI_Iallreduce
ROWS = 256             # flag rows: buckets in flight at once, at most
READY, OFFSET, DONE = 0, 1, 2  # the columns of a flag row
ALIGN = 64             # bytes: arenas start on a cache line


def budget(comm, MPI):
    """Bytes of shared memory the pools of this job may use, the same on every rank: 0
    when the ranks are not all on one node, are more than MAX_RANKS, or a rank has
    GRAPHC_SHM_ALLREDUCE=0 (a collective call)."""
    size = comm.Get_size()
    if not 1 < size <= MAX_RANKS:
        return 0
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    together = node.Get_size() == size
    node.Free()
    wanted = os.environ.get("GRAPHC_SHM_ALLREDUCE", "1") not in ("", "0")
    try:  # (where MPICH and Open MPI map their segments on Linux; containers cap it)
        stat = os.statvfs("/dev/shm")
        free = stat.f_bavail * stat.f_frsize
    except OSError:
        free = MAX_BYTES
    mine = min(MAX_BYTES, free // 2) if together and wanted else 0
    least = int(comm.allreduce(mine, op=MPI.MIN))
    return least if least >= MIN_POOL * size else 0  # (a nearly full /dev/shm: MPI's)


_KERNELS = []


def _mean_of_two():
    """a[i] = b[i] = (a[i] + b[i]) / divisor: a Numba kernel (cached on disk), made once."""
    if not _KERNELS:
        from runtime.kernels._jit import kernel

        @kernel
        def mean_of_two(a, b, divisor):
            for i in range(a.size):
                total = (a[i] + b[i]) / divisor
                a[i] = total
                b[i] = total
        _KERNELS.append(mean_of_two)
    return _KERNELS[0]


def _reduce_chunk(parts, divisor):
    """Every part (one rank's chunk each, in rank order) set to their sum / divisor."""
    if len(parts) == 2 and parts[0].dtype.char in "fd":  # float32, float64: one pass
        _mean_of_two()(parts[0], parts[1], parts[0].dtype.type(divisor))
        return
    total = parts[0] + parts[1]
    for part in parts[2:]:
        total += part
    if divisor != 1:
        total /= divisor
    for part in parts:
        part[...] = total


class _AllFlagged:
    """A request-like test (process_group.wait calls Test()): every rank's flag of `row` in
    `column` has reached `use`."""
    __slots__ = ("flags", "row", "column", "use", "sync")

    def __init__(self, flags, row, column, use, sync):
        self.flags, self.row, self.column, self.use, self.sync = flags, row, column, use, sync

    def Test(self):
        row, column, use = self.row, self.column, self.use
        for flags in self.flags:
            if flags[row, column] < use:
                return False
        self.sync()  # (a memory barrier: what they wrote before the flag is seen)
        return True


class SharedMemoryAllreduce:
    """start(buffer) -> handle; progress(handle); finish(handle, buffer, mean) (the interface
    of graphc/ops/collective.py's `overlap`); arena(size, dtype): a work arena in this
    rank's pool, or None."""

    def __init__(self, comm, MPI, wait, budget):
        from .collectives import InPlaceAllreduce
        self.mpi = InPlaceAllreduce(comm, MPI)  # small buckets, buckets outside the pools
        self.comm = comm.Dup()  # (its windows are its own)
        self.MPI, self.wait = MPI, wait
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.pool_bytes = budget // self.size // ALIGN * ALIGN
        self.pool = MPI.Win.Allocate_shared(self.pool_bytes, 1, comm=self.comm)
        self.pools = [np.frombuffer(self.pool.Shared_query(r)[0], np.uint8, self.pool_bytes)
                      for r in range(self.size)]
        self.rows = ROWS
        self.flag_window = MPI.Win.Allocate_shared(self.rows * 3 * 8, 8, comm=self.comm)
        self.flags = [np.frombuffer(self.flag_window.Shared_query(r)[0], np.int64,
                                    self.rows * 3).reshape(self.rows, 3)
                      for r in range(self.size)]
        self.flags[self.rank][...] = 0
        # a passive-target epoch on both windows, for MPI_Win_sync (a memory barrier)
        self.pool.Lock_all(MPI.MODE_NOCHECK)
        self.flag_window.Lock_all(MPI.MODE_NOCHECK)
        self.sync = self.flag_window.Sync
        self.comm.Barrier()  # (every rank's flags are zero before anyone reads them)
        self.others = [self.flags[r] for r in range(self.size) if r != self.rank]
        self.used = 0      # bytes of this rank's pool given to arenas
        self.uses = 0      # buckets started through the flags
        self.in_flight = 0
        self.offsets = {}  # id(buffer) -> (buffer, offset in the pool) of buckets in the pool
        self.base = self.pools[self.rank].__array_interface__["data"][0]

    def arena(self, size, dtype):
        """A zeroed work arena of `size` elements in this rank's pool, or None when it does
        not fit (the program then gets ordinary memory and its buckets go through MPI)."""
        dtype = np.dtype(dtype)
        start = -(-self.used // ALIGN) * ALIGN
        if start + size * dtype.itemsize > self.pool_bytes:
            return None
        self.used = start + size * dtype.itemsize
        arena = self.pools[self.rank][start:self.used].view(dtype)
        arena[...] = 0
        return arena

    def _offset(self, buffer):
        """Where a bucket lies in this rank's pool (bytes), or -1."""
        known = self.offsets.get(id(buffer))
        if known is not None and known[0] is buffer:
            return known[1]
        offset = buffer.__array_interface__["data"][0] - self.base
        if not (0 <= offset and offset + buffer.nbytes <= self.used
                and buffer.flags.c_contiguous):
            return -1
        self.offsets[id(buffer)] = (buffer, offset)  # (held: an arena's views live as long)
        return offset

    def start(self, buffer):
        if buffer.nbytes < MIN_BYTES or self.in_flight >= self.rows:  # (alike on every rank)
            return self.mpi.start(buffer)
        use = self.uses = self.uses + 1
        self.in_flight += 1
        row = use % self.rows
        mine = self.flags[self.rank]
        mine[row, OFFSET] = self._offset(buffer)
        self.sync()  # the bucket and its offset are seen before the flag
        mine[row, READY] = use
        return use  # (the handle: an int; MPI's buckets get an MPI request)

    def progress(self, handle):
        if type(handle) is not int:  # (the bytes in shared memory are not MPI's to move)
            self.mpi.progress(handle)

    def finish(self, handle, buffer, mean):
        if type(handle) is not int:
            return self.mpi.finish(handle, buffer, mean)
        what = "all_reduce (a gradient bucket)"
        use = handle
        row = use % self.rows
        self.wait(_AllFlagged(self.others, row, READY, use, self.sync), what)
        self.in_flight -= 1
        offsets = [int(flags[row, OFFSET]) for flags in self.flags]
        if min(offsets) < 0:  # some rank's bucket is not in its pool: all go through MPI
            return self.mpi.finish(self.mpi.start(buffer), buffer, mean)
        n, itemsize = buffer.size, buffer.itemsize
        lo, hi = n * self.rank // self.size, n * (self.rank + 1) // self.size
        parts = [pool[offset + lo * itemsize:offset + hi * itemsize].view(buffer.dtype)
                 for pool, offset in zip(self.pools, offsets)]
        _reduce_chunk(parts, self.size if mean else 1)
        self.sync()  # the chunk is seen before "done"
        self.flags[self.rank][row, DONE] = use
        self.wait(_AllFlagged(self.others, row, DONE, use, self.sync), what)

    def close(self):
        """Free the windows (a collective call). The pools stay until the process exits
        when any holds an arena: compiled programs keep using it as their work memory."""
        self.flag_window.Unlock_all()
        self.flag_window.Free()
        self.others = self.flags = []
        if not self.comm.allreduce(self.used, op=self.MPI.MAX):
            self.pool.Unlock_all()
            self.pool.Free()
            self.pools = []
        self.comm.Free()
