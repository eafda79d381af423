"""Checkpoints of a data-parallel job: written once, by one rank, atomically."""
from __future__ import annotations

from ..serialization import save as _save
from .collectives import barrier
from .process_group import get_rank, is_initialized


def save(obj, path, src=0):
    """Save `obj` (a state_dict, tensors ...) to `path` on rank `src` only, then wait for it.

    Every rank calls it (it ends with a barrier, so that any rank may read the file after it
    returns). graphc.save writes a temporary file in the same directory and renames it over
    `path`, so a reader never sees a half-written checkpoint, even if the writer dies.
    Without a process group it simply saves.
    """
    if not is_initialized():
        _save(obj, path)
        return
    if get_rank() == src:
        _save(obj, path)
    barrier()
