"""runtime/kernels/buffer_cache.py: a cached buffer is handed out only while nothing uses it."""
import threading
import weakref

import numpy as np
import pytest

from runtime.kernels import buffer_cache as cache

BIG = (cache.MIN_BYTES // 4,)  # float32 elements of one MIN_BYTES buffer


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_small_arrays_are_plain_numpy_arrays():
    a = cache.empty((3, 4), np.float64)
    assert a.base is None and a.shape == (3, 4) and a.dtype == np.float64
    assert cache.cached_bytes() == 0


def test_a_buffer_returns_only_when_its_arrays_and_views_are_gone():
    a = cache.empty((2, *BIG), np.float32)
    assert a.shape == (2, *BIG) and a.dtype == np.float32 and a.flags.c_contiguous
    assert a.flags.writeable and a.flags.aligned
    first = weakref.ref(a.base)  # (a strong reference would keep the buffer in use)
    view = a[1, ::3]
    del a
    b = cache.empty((2, *BIG), np.float32)
    assert b.base is not first()  # `view` still reads the first buffer
    del view
    c = cache.empty((2 * BIG[0],), np.int32)  # same size, another shape and dtype
    assert c.base is first() and c.dtype == np.int32
    assert not np.shares_memory(b, c)
    assert cache.cached_bytes() == 2 * c.nbytes


def test_arrays_held_at_once_never_share_memory():
    arrays = [cache.empty(BIG, np.float32) for _ in range(6)]
    for i, a in enumerate(arrays):
        a[...] = i
    assert [float(a[0]) for a in arrays] == list(range(6))
    assert len({id(a.base) for a in arrays}) == 6


def test_threads_taking_buffers_at_once_get_distinct_ones():
    got, start = [[] for _ in range(4)], threading.Barrier(4)

    def take(out):
        start.wait()
        for _ in range(25):
            out.append(cache.empty(BIG, np.float32))
    workers = [threading.Thread(target=take, args=(out,)) for out in got]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    bases = [id(a.base) for out in got for a in out]
    assert len(bases) == 100 and len(set(bases)) == 100


def test_the_limit_drops_unused_buffers_first_then_gives_plain_arrays(monkeypatch):
    monkeypatch.setattr(cache, "LIMIT_BYTES", 2 * cache.MIN_BYTES)
    a = cache.empty(BIG, np.float32)
    b = cache.empty((BIG[0] // 2 + 1024,), np.float64)  # another size
    del b
    c = cache.empty(BIG, np.float32)  # over the limit: b's buffer is dropped for it
    assert c.base is not None and cache.cached_bytes() == 2 * cache.MIN_BYTES
    d = cache.empty(BIG, np.float32)  # a and c in use: a plain array
    assert d.base is None
    del a, c
    cache.clear()
    assert cache.cached_bytes() == 0
    assert d.shape == BIG


def test_clear_keeps_buffers_in_use():
    a = cache.empty(BIG, np.float32)
    a[...] = 7
    cache.clear()
    assert cache.cached_bytes() == a.nbytes
    b = cache.empty(BIG, np.float32)
    assert not np.shares_memory(a, b) and (a == 7).all()
