"""Large arrays for eager kernels' results and scratch, reused while their pages stay mapped.

Why: glibc's malloc serves a multi-megabyte array from fresh pages (mmap, or a heap top that
it trimmed on the last free), and the kernel then pays one page fault per 4 KiB on first
write. In the eager ResNet-block step (W9: 64x16x32x32 float32 activations, 4 MiB each) that
was ~6,500 faults and 12-17 ms of system time per 72-78 ms step; in the MNIST CNN step (W3)
~3,500 faults and ~9 ms. PyTorch's CUDA allocator caches blocks for the same reason; its
CPU allocator does not (it paid as much here). Changing malloc's thresholds for the whole
process (mallopt, GLIBC_TUNABLES) is the user's choice, not a library's.

How: `empty(shape, dtype)` returns a view of a cached uint8 buffer of exactly that many bytes
that nothing else references: an array (a tensor's data, a NumPy view of it, a tape entry)
keeps its buffer's reference count up, and the buffer becomes free when the last of them
dies, as memory would be freed. A buffer is never handed out twice while in use, so results
are as independent as np.empty's (and as uninitialized). Arrays under MIN_BYTES, which
malloc serves from its heap without faults, are plain np.empty. The cache holds at most
LIMIT_BYTES: past it, unused buffers are dropped first, then arrays are plain np.empty again.
`clear()` drops every unused buffer (as torch.cuda.empty_cache).

Results are views (`a.base` is the cached buffer): code that adopts an array only when it
owns its memory (autograd's `.grad` without a copy) copies these instead.
"""
from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 17  # 128 KiB: glibc's default mmap threshold
LIMIT_BYTES = 1 << 30

_lock = threading.Lock()
_buffers: dict[int, list] = {}  # nbytes -> buffers of that size, in use or not
_total = 0


def _first_unused(bufs, unused):
    """The first buffer of `bufs` that no one but this list references, or None."""
    for buf in bufs:
        if sys.getrefcount(buf) <= unused:
            return buf
    return None


def _unused_count():
    """The reference count _first_unused sees for a buffer held by its list alone (measured,
    not assumed: interpreters count borrowed references differently)."""
    for count in range(1, 16):
        if _first_unused([np.empty(1, np.uint8)], count) is not None:
            return count
    raise RuntimeError("buffer_cache: cannot calibrate reference counts")


_UNUSED = _unused_count()


def _new_lock_in_child():
    """A process forked while another thread held the lock (a conv's worker thread taking
    its scratch) would otherwise wait for it forever."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def empty(shape, dtype):
    """np.empty(shape, dtype), from the cache when large (C order, uninitialized)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    with _lock:  # (the view is made under the lock: it marks the buffer as taken)
        buf = _take(nbytes)
        if buf is not None:
            return buf.view(dtype).reshape(shape)
    return np.empty(shape, dtype)


def empty_like(a):
    """empty(a.shape, a.dtype)"""
    return empty(a.shape, a.dtype)


def _take(nbytes):
    global _total
    bufs = _buffers.setdefault(nbytes, [])
    buf = _first_unused(bufs, _UNUSED)
    if buf is not None:
        return buf
    if _total + nbytes > LIMIT_BYTES:
        _drop_unused()
        if _total + nbytes > LIMIT_BYTES:
            return None
    buf = np.empty(nbytes, np.uint8)
    bufs.append(buf)
    _total += nbytes
    return buf


def _drop_unused():
    """Forget every buffer not in use (arrays in use keep theirs alive)."""
    global _total
    for nbytes, bufs in list(_buffers.items()):
        while (buf := _first_unused(bufs, _UNUSED)) is not None:
            del bufs[next(i for i, b in enumerate(bufs) if b is buf)]
            _total -= nbytes
            del buf
        if not bufs:
            del _buffers[nbytes]


def clear():
    """Release the unused buffers to malloc (buffers in use stay until their arrays die)."""
    with _lock:
        _drop_unused()


def cached_bytes():
    """Bytes the cache holds, in use or not."""
    return _total
