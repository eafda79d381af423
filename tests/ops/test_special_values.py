"""NaN, +-inf, -0.0, empty tensors and ties (tests/op_table_special.py) give PyTorch's answers
eagerly and on the reference and cpu targets (CUDA: tests/cuda/sim/test_cuda_special.py)."""
import functools

import numpy as np
import pytest

import graphc as gc
from helpers import eager_inputs, placeholders
from op_table import by_id
from op_table_special import SPECIAL, TIE_GRADS, TIES, assert_special_equal, expected


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, at NaN and empty slices
@pytest.mark.parametrize("case", **by_id(SPECIAL))
def test_eager(case):
    out = case.fn(*eager_inputs(case.inputs))
    assert_special_equal(out.numpy(), expected(case), case)


@functools.lru_cache(maxsize=None)
def compiled(target):
    """{case name: output} of every case, compiled as one program for `target`."""
    inputs, outputs = [], []
    for case in SPECIAL:
        ps = placeholders(case.inputs)
        inputs += ps
        outputs.append(case.fn(*ps))
    exe = gc.compile(outputs, inputs=inputs, target=target)
    results = exe(*[np.asarray(a) for case in SPECIAL for a in case.inputs])
    return {case.name: r.numpy() for case, r in zip(SPECIAL, results)}


@pytest.mark.parametrize("target", ["reference", "cpu"])
@pytest.mark.parametrize("case", **by_id(SPECIAL))
def test_compiled(case, target):
    if target == "cpu":
        pytest.importorskip("numba")
    assert_special_equal(compiled(target)[case.name], expected(case), case)


@pytest.mark.parametrize("mode", ["eager", "reference", "cpu"])
@pytest.mark.parametrize("case", **by_id(TIES))
def test_gradients_at_ties(case, mode):
    want = TIE_GRADS[case.name]
    wrt = case.grad_inputs or [0]
    if mode == "eager":
        xs = eager_inputs(case.inputs, requires_grad=wrt)
        case.fn(*xs).sum().backward()
        got = [xs[i].grad.numpy() for i in wrt]
    else:
        if mode == "cpu":
            pytest.importorskip("numba")
        ps = placeholders(case.inputs)
        grads = gc.grad(case.fn(*ps).sum(), [ps[i] for i in wrt])
        got = [g.numpy() for g in gc.compile(list(grads), inputs=ps, target=mode)(*case.inputs)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_reductions_over_an_empty_dim_without_identity_raise():
    """amax/argmax of nothing has no value: PyTorch raises, and so does graphc (naming the op),
    when the graph is built for known shapes and at run time for symbolic ones."""
    x = gc.placeholder((0, 3), gc.float64)
    for fn, name in ((lambda v: gc.amax(v, 0), "amax"), (lambda v: v.argmax(0), "argmax"),
                     (lambda v: v.max(0), "max_dim"), (lambda v: v.min(), "amin")):
        with pytest.raises(ValueError, match=name):
            fn(x)
        with pytest.raises(ValueError, match=name):
            fn(gc.tensor(np.zeros((0, 3))))
