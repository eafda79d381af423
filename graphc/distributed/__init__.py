"""graphc.distributed: data-parallel training across processes and machines, on MPI.

Start N processes with `mpiexec -n N python train.py` (or Slurm's `srun`); each calls
`init_process_group()` and then uses PyTorch's names: get_rank, get_world_size, barrier,
all_reduce, broadcast, all_gather, reduce_scatter. `graphc.nn.parallel.DistributedDataParallel`
averages gradients in eager and compiled training; `graphc.utils.data.DistributedSampler`
gives each rank its share of a dataset. mpi4py is imported only by init_process_group, so
this package imports without MPI. See docs/distributed.md.
"""
from .process_group import (WORLD, DistributedError, DistributedTimeoutError,
                            destroy_process_group, get_backend, get_rank, get_timeout,
                            get_world_size, init_process_group, is_available, is_initialized,
                            is_mpi_available)
from .collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor, all_reduce,
                          barrier, broadcast, reduce_scatter, reduce_scatter_tensor)
from .checkpoint import save


class group:
    """torch.distributed.group: the default group is the only one."""
    WORLD = WORLD


__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "is_mpi_available", "get_rank", "get_world_size", "get_backend", "get_timeout",
           "barrier", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "ReduceOp", "Work", "group", "WORLD",
           "save", "DistributedError", "DistributedTimeoutError"]
