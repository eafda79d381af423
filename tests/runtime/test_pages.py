"""runtime/pages.py: large zeroed arrays from an anonymous mapping, small ones from NumPy."""
import numpy as np

from runtime import pages


def test_large_arrays_are_zeroed_writable_mappings():
    n = pages.HUGE_PAGE_HINT_BYTES // 8
    a = pages.zeros(n, np.float64)
    assert a.shape == (n,) and a.dtype == np.float64 and not a.any()
    assert a.flags.writeable and a.flags.c_contiguous and a.flags.aligned
    assert a.ctypes.data % 4096 == 0  # page-aligned: a mapping of its own, not NumPy's heap
    a[::1000] = 1.5
    assert a.sum() == 1.5 * len(range(0, n, 1000))


def test_small_arrays_are_numpys():
    a = pages.zeros(10, np.int32)
    assert a.base is None and not a.any() and a.dtype == np.int32
