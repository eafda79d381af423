"""The gradient-bucket allreduce of compiled steps when every rank runs on one machine.

MPI_Iallreduce of a bucket costs each rank 2-4x more CPU time than the bytes need (1 MB on
2 ranks of a 2-core machine: ~100-130 µs, against ~12 µs to copy it and ~17 µs to add two:
MPICH's single-copy transfers pin pages and take several protocol rounds, and it moves
bytes only inside MPI calls). On a machine with no spare core that time is added to every
step whatever the overlap, so here each rank

- at `start`: copies its bucket into its own slot of an MPI shared-memory window
  (MPI_Win_allocate_shared; MPI allocates and maps it) and sends every other rank a
  zero-byte "ready" message;
- at `finish`: waits for the others' "ready" messages (with the process group's deadline),
  then sums the slots of all ranks **in rank order** into its bucket, so every rank gets the
  same bits (for 2 ranks the same as MPI's sum), divides for a mean, and sends a "read"
  message to every other rank.

A rank writes a slot again only after every other rank has said it read the slot's last
contents (the "read" messages of that use; normally arrived long before), and never writes
a slot whose allreduce it has not finished, so slots of buckets in flight at once differ.
Every rank starts the same buckets in the same order (checked before a compiled step's
first call: distributed/compiled.py _agree), so each chooses the same slot and allocates
the same windows (a collective call) at the same point. Slots are grouped by (dtype,
elements): one program reuses its own after the first step.

Used when all ranks share one node (MPI_Comm_split_type SHARED) and there are at most
MAX_RANKS of them (each rank reads every slot: the cost grows with the count), for at most
MAX_BYTES or half of /dev/shm's free space in all (containers often give it 64 MiB; later
buckets go to MPI_Iallreduce); GRAPHC_SHM_ALLREDUCE=0 on any rank selects MPI_Iallreduce
instead. Buckets under MIN_BYTES go to MPI_Iallreduce all the same: its eager protocol
costs ~3.5 µs there, the four messages and the copy and sum here ~7 µs (2 ranks: equal
near 8 KiB; 64 KiB: MPI 19 µs, here 12).
"""
from __future__ import annotations

import os

import numpy as np

MAX_RANKS = 8
MIN_BYTES = 16 << 10
MAX_BYTES = 1 << 30  # of shared memory, all slots of all ranks together


def budget(comm, MPI):
    """Bytes of shared memory the buckets of this job may use, the same on every rank: 0
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
    return int(comm.allreduce(mine, op=MPI.MIN))


_SUM_OF_TWO = []


def _sum_of_two():
    """out = (a + b) / divisor, elementwise: a Numba kernel (cached on disk), made once."""
    if not _SUM_OF_TWO:
        from runtime.kernels._jit import kernel

        @kernel
        def sum_of_two(out, a, b, divisor):
            for i in range(out.size):
                out[i] = (a[i] + b[i]) / divisor
        _SUM_OF_TWO.append(sum_of_two)
    return _SUM_OF_TWO[0]


class _Slot:
    """One window: a bucket-sized array per rank, and the messages of its last use."""

    def __init__(self, comm, MPI, dtype, size, uid):
        self.window = MPI.Win.Allocate_shared(size * dtype.itemsize, dtype.itemsize, comm=comm)
        self.arrays = [np.frombuffer(self.window.Shared_query(r)[0], dtype, size)
                       for r in range(comm.Get_size())]
        self.ready_tag, self.read_tag = 2 * uid, 2 * uid + 1
        self.pending = []  # requests of the last use: "read" sends and receives

    def free(self):
        self.arrays = []
        self.window.Free()


class SharedMemoryAllreduce:
    """start(buffer) -> handle; progress(handle); finish(handle, buffer, mean) (the interface
    of graphc/ops/collective.py's `overlap`)."""

    def __init__(self, comm, MPI, wait, budget):
        from .collectives import InPlaceAllreduce
        self.small = InPlaceAllreduce(comm, MPI)  # buckets under MIN_BYTES, or over budget
        self.budget = budget  # bytes of slots left (every rank counts alike)
        self.comm = comm.Dup()  # its messages never meet the user's or the other collectives'
        self.MPI, self.wait = MPI, wait
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.others = [r for r in range(self.size) if r != self.rank]
        self.pools = {}      # (dtype, elements) -> [slots], in allocation order
        self.turn = {}       # (dtype, elements) -> index of the slot to try first
        self.in_flight = set()  # ids of slots started and not yet finished
        self.count = 0
        self.token = np.zeros(1, np.int8)
        self.sink = np.zeros(self.size, np.int8)  # (zero-byte messages: never written)

    def _slot(self, dtype, size):
        key = (dtype.str, size)
        pool = self.pools.get(key, [])
        turn = self.turn.get(key, 0)
        for k in range(len(pool)):
            slot = pool[(turn + k) % len(pool)]
            if id(slot) not in self.in_flight:
                self.turn[key] = (turn + k + 1) % len(pool)
                return slot
        # every slot of this size is in flight (the same on every rank): one more, and one
        # spare, so that the next step's start need not wait for this step's "read" messages
        new = 2 if not pool else 1
        cost = new * size * dtype.itemsize * self.size
        if cost > self.budget:
            return None  # MPI reduces it
        self.budget -= cost
        self.pools[key] = pool
        for _ in range(new):
            pool.append(_Slot(self.comm, self.MPI, dtype, size, self.count))
            self.count += 1
        self.turn[key] = 0
        return self._slot(dtype, size)

    def start(self, buffer):
        slot = self._slot(buffer.dtype, buffer.size) if buffer.nbytes >= MIN_BYTES else None
        if slot is None:
            return self.small.start(buffer)
        for request in slot.pending:  # every rank has read this slot's last contents
            self.wait(request, "all_reduce (gradient bucket of a compiled step)")
        np.copyto(slot.arrays[self.rank], buffer)
        comm, token = self.comm, self.token[:0]
        slot.pending = [comm.Isend(token, r, slot.ready_tag) for r in self.others]
        ready = [comm.Irecv(self.sink[r:r], r, slot.ready_tag) for r in self.others]
        self.in_flight.add(id(slot))
        return slot, ready

    def progress(self, handle):
        if type(handle) is not tuple:  # (the bytes in shared memory are not MPI's to move)
            self.small.progress(handle)

    def finish(self, handle, buffer, mean):
        if type(handle) is not tuple:
            return self.small.finish(handle, buffer, mean)
        slot, ready = handle
        for request in ready:
            self.wait(request, "all_reduce (gradient bucket of a compiled step)")
        arrays = slot.arrays
        if len(arrays) == 2 and buffer.dtype.char in "fd":  # float32, float64
            # sum and mean in one pass (NumPy's add, then divide, reads it all twice)
            _sum_of_two()(buffer, arrays[0], arrays[1], buffer.dtype.type(self.size if mean
                                                                          else 1))
            mean = False
        else:
            np.add(arrays[0], arrays[1], out=buffer)
            for a in arrays[2:]:
                np.add(buffer, a, out=buffer)
        comm, token = self.comm, self.token[:0]
        for request in slot.pending:  # the "ready" sends: done once the others received
            self.wait(request, "all_reduce (gradient bucket of a compiled step)")
        slot.pending = ([comm.Isend(token, r, slot.read_tag) for r in self.others]
                        + [comm.Irecv(self.sink[r:r], r, slot.read_tag) for r in self.others])
        self.in_flight.discard(id(slot))
        if mean:
            buffer /= self.size

    def close(self):
        for pool in self.pools.values():
            for slot in pool:
                for request in slot.pending:
                    self.wait(request, "destroy_process_group")
                slot.free()
        self.pools.clear()
        self.comm.Free()

