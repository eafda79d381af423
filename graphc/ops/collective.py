"""Collective ops: communication between the processes of a data-parallel job.

`all_reduce` is a primitive so that a compiled step shows where it communicates: the graph
dump and pictures draw it as a node. No code generator lowers it; `graphc.compile` splits a
graph at its collectives and runs them between the compiled parts
(graphc/distributed/compiled.py). The communication itself is installed by
`graphc.distributed` as a hook, so that ops never import the layers above them.
"""
from __future__ import annotations

from .registry import Effects, Op, same_type

# Installed by graphc.distributed: (array, reduce) -> reduced array, across all ranks, and
# (array, src) -> rank src's array.
communicate = None
communicate_broadcast = None
# Installed by graphc.distributed: the non-blocking allreduce that compiled cpu programs run
# on their gradient buckets (graphc/lower/collective.py): an object with start(buffer) ->
# request, progress(request) and finish(request, buffer, mean).
overlap = None


def _overlap():
    if overlap is None:
        raise RuntimeError("all_reduce: no process group; call "
                           "graphc.distributed.init_process_group() first")
    return overlap


def start_allreduce(buffer):
    """Start summing a contiguous 1-D buffer over all ranks, in place; returns a request."""
    return _overlap().start(buffer)


def progress_allreduce(request):
    """Let MPI move the bytes of started allreduces (it does so only inside MPI calls)."""
    overlap.progress(request)


def finish_allreduce(request, buffer, mean):
    """Wait for a started allreduce (with the process group's deadline); divide by the
    number of ranks when `mean`."""
    overlap.finish(request, buffer, mean)


def shared_arena(size, dtype):
    """A work arena for a compiled program with allreduce buckets in it: memory that the
    other ranks on this machine may read and write, where the allreduce sums the buckets
    in place there (graphc/distributed/shared_memory.py); else None."""
    arena = getattr(overlap, "arena", None)
    return arena(size, dtype) if arena is not None else None

REDUCTIONS = ("sum", "mean")

MiB = 1 << 20
DEFAULT_BUCKET_CAP_MB = 25   # PyTorch's DistributedDataParallel default
FIRST_BUCKET_BYTES = MiB     # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


def bucket_caps(bucket_cap_mb=None):
    """(most bytes in the first bucket of a dtype, in each later one) for gradient buckets,
    eager and compiled alike. PyTorch's rule: bucket_cap_mb=None gives a 1 MiB first bucket
    (its allreduce starts early in backward) and 25 MiB buckets after it; a bucket_cap_mb
    given caps every bucket. GRAPHC_BUCKET_MB, when set, overrides both."""
    import os
    if bucket_cap_mb is not None and (
            not isinstance(bucket_cap_mb, (int, float)) or isinstance(bucket_cap_mb, bool)
            or not bucket_cap_mb > 0):
        raise ValueError(f"bucket_cap_mb must be a positive number of megabytes (MiB), got "
                         f"{bucket_cap_mb!r}")
    override = os.environ.get("GRAPHC_BUCKET_MB")
    if override:
        cap = int(float(override) * MiB)
        return cap, cap
    if bucket_cap_mb is None:
        return FIRST_BUCKET_BYTES, DEFAULT_BUCKET_CAP_MB * MiB
    cap = int(bucket_cap_mb * MiB)
    return cap, cap


def _reference(x, reduce, bucket_cap_mb=None):
    if communicate is None:
        raise RuntimeError("all_reduce: no process group; call "
                           "graphc.distributed.init_process_group() first")
    return communicate(x.copy(), reduce)


def _check(in_types, reduce, bucket_cap_mb=None):
    if bucket_cap_mb is not None:
        bucket_caps(bucket_cap_mb)  # a positive number
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    if reduce == "mean" and not in_types[0].dtype.is_floating_point:
        raise TypeError(f"reduce='mean' needs a floating dtype, got {in_types[0].dtype.name}")
    return same_type(in_types)


def _vjp(ctx, g):
    # every rank's output is the same reduction of every rank's input: the cotangent of an
    # input is the same reduction of the output cotangents (sum for sum, mean for mean)
    return [all_reduce(g, reduce=ctx.attrs["reduce"],
                       bucket_cap_mb=ctx.attrs.get("bucket_cap_mb"))]


all_reduce = Op("all_reduce", infer=_check, reference=_reference, vjp=_vjp,
                defaults={"reduce": "sum", "bucket_cap_mb": None}, family="collective",
                effects=Effects(collective=True), saves=(),
                doc="Sum (or mean) of a tensor over all ranks of the process group, returned "
                    "on every rank (MPI_Allreduce). bucket_cap_mb: the most MiB of the "
                    "gradient bucket a compiled step reduces it in (None: PyTorch's default, "
                    "a 1 MiB first bucket, then 25 MiB).")


def _broadcast_reference(x, src):
    if communicate_broadcast is None:
        raise RuntimeError("broadcast: no process group; call "
                           "graphc.distributed.init_process_group() first")
    return communicate_broadcast(x.copy(), src)


def _check_src(in_types, src):
    if not isinstance(src, int) or src < 0:
        raise ValueError(f"src must be a rank (an int >= 0), got {src!r}")
    return same_type(in_types)


# No gradient rule: it copies persistent state (BatchNorm statistics), which needs none.
broadcast = Op("broadcast", infer=_check_src, reference=_broadcast_reference,
               defaults={"src": 0}, family="collective", effects=Effects(collective=True), saves=(),
               differentiable=False,
               doc="Rank src's tensor, on every rank (MPI_Bcast). In compiled steps only on "
                   "variables, which are broadcast in place before the step runs.")
