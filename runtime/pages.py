"""Large arrays on ordinary pages: zero-filled anonymous memory, without NumPy's huge-page hint.

NumPy asks the kernel for transparent huge pages (madvise MADV_HUGEPAGE) on every array of
4 MiB or more. Where the kernel's THP defrag setting is "madvise" (a common default), the
first touch of such an array can stall in memory compaction when the host's memory is
fragmented. On the 2-core test VM (13 hours up), a warm start of the digits CNN spent 0.30-0.51
s of system time with its work arenas from NumPy, a different amount in every process, and
0.10-0.14 s with them from here (docs/benchmarks.md, W8). The steps that reuse the arenas
were no slower (W3 static, paired). Eager kernels' cached buffers (runtime/kernels/buffer_cache.py)
keep NumPy's hint: the eager W3 step measured ~10% slower without it.
"""
from __future__ import annotations

import mmap

import numpy as np

# NumPy hints arrays from this size on (numpy/_core/src/multiarray/alloc.c)
HUGE_PAGE_HINT_BYTES = 1 << 22


def zeros(size: int, dtype) -> np.ndarray:
    """A zeroed 1-D array of `size` elements: from an anonymous mapping when NumPy would
    hint it, else np.zeros. (The kernel zero-fills the pages at first touch.)"""
    dtype = np.dtype(dtype)
    nbytes = size * dtype.itemsize
    if nbytes < HUGE_PAGE_HINT_BYTES:
        return np.zeros(size, dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype, size)
