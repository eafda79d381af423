"""The newer names of tests/op_table_more.py on CUDA: eager CUDA tensors and the compiled
"cuda" target equal the NumPy oracle. Reference-only ops run on the host."""
import numpy as np
import pytest

import graphc as gc
from helpers import placeholders
from op_table import by_id
from op_table_more import MORE_CASES

CASES = MORE_CASES


def _check(actual, expected, case):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{case.name}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case.name}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=max(case.rtol, 1e-6), atol=1e-7,
                               equal_nan=True)


@pytest.mark.parametrize("case", **by_id(CASES))
def test_eager_cuda_equals_reference(case):
    xs = [gc.tensor(np.asarray(a)).to("cuda") for a in case.inputs]
    out = case.fn(*xs)
    assert out.is_cuda
    _check(out.cpu().numpy(), case.ref(*case.inputs), case)


@pytest.mark.parametrize("case", **by_id([c for c in CASES if c.static]))
def test_compiled_cuda_equals_reference(case):
    ps = placeholders(case.inputs)
    exe = gc.compile(case.fn(*ps), inputs=ps, target="cuda")
    _check(exe(*case.inputs).numpy(), case.ref(*case.inputs), case)


def test_cross_entropy_target_out_of_bounds_raises_on_cuda():
    import graphc.nn.functional as F
    x = gc.tensor(np.zeros((3, 4), np.float32)).to("cuda")
    with pytest.raises(ValueError, match="out of bounds"):
        F.cross_entropy(x, gc.tensor(np.array([1, 4, 0])).to("cuda"))
