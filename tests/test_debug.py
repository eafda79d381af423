"""graphc.debug.check_numerics: stop at the first NaN/Inf, naming the op and the user's line."""
import numpy as np
import pytest

import graphc as gc
from graphc.debug import NumericsError


def test_eager_names_the_op_and_line():
    x = gc.tensor([1.0, 0.0, -1.0])
    with gc.debug.check_numerics():
        y = x * 2
        with pytest.raises(NumericsError) as e:
            gc.log(y)  # -> -inf and nan
    msg = str(e.value)
    assert msg.startswith("log: produced nan/inf in 2 of 3 values")
    assert "test_debug.py" in msg and "gc.log(y)" in msg


def test_only_the_op_that_introduces_nan_is_blamed():
    with gc.debug.check_numerics():
        with pytest.raises(NumericsError, match="^div:"):
            y = gc.tensor([1.0]) / gc.tensor([0.0])
    with gc.debug.check_numerics():
        y = gc.tensor([np.nan]) * 2  # the data brought the NaN in: not mul's fault
    assert np.isnan(y.item())


def test_off_by_default_and_restored():
    assert not gc.debug.numerics_enabled()
    with gc.debug.check_numerics():
        assert gc.debug.numerics_enabled()
    assert not gc.debug.numerics_enabled()
    assert np.isinf(gc.log(gc.tensor([0.0])).item())


def test_static_step_is_undone_and_culprit_named():
    w = gc.tensor([1.0, 2.0], requires_grad=True)
    x = gc.placeholder((2,), name="x")
    loss = gc.sqrt(x * w).sum()  # sqrt of a negative number -> nan
    step = gc.compile(loss, [x], updates={w: w - 0.1 * gc.grad(loss, w)}, target="reference")
    with gc.debug.check_numerics():
        step(np.array([1.0, 1.0], np.float32))
        good = w.detach().numpy().copy()
        with pytest.raises(NumericsError, match=r"^sqrt: produced nan in 1 of 2 values\n  at test_debug.py"):
            step(np.array([1.0, -1.0], np.float32))
    np.testing.assert_array_equal(w.detach().numpy(), good)  # the bad step left no trace


def test_track_memory_counts_live_eager_storage():
    import gc as pygc
    with gc.debug.track_memory() as mem:
        a = gc.zeros(1000, dtype=gc.float64)           # 8000 bytes
        b = a[:10]                                      # a view: not counted again
        c = (a + 1) * 2                                 # a temporary of 8000 bytes, then c
        del b
        peak_with_all = mem.peak_bytes
        del c
        pygc.collect()
    assert peak_with_all >= 3 * 8000  # a, the temporary a + 1 and c were alive at once
    assert mem.current_bytes < peak_with_all
    assert mem.current_bytes >= 8000  # a is still alive


def test_track_memory_prints_its_numbers():
    with gc.debug.track_memory() as mem:
        keep = gc.ones(1000)  # 4 kB
    assert repr(mem).startswith("<graphc.debug.track_memory: peak 4 kB, now ")
    assert " at 0x" not in repr(mem)
    del keep
