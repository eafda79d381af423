"""NaN, +-inf, -0.0, empty tensors and ties (tests/op_table_special.py) on CUDA: the compiled
"cuda" target (one program for every case) and eager CUDA tensors give PyTorch's answers, as
the cpu and reference targets do (tests/ops/test_special_values.py)."""
import functools

import numpy as np
import pytest

import graphc as gc
from helpers import placeholders
from op_table import by_id
from op_table_special import SPECIAL, TIE_GRADS, TIES, assert_special_equal, expected


@functools.lru_cache(maxsize=None)
def compiled():
    inputs, outputs = [], []
    for case in SPECIAL:
        ps = placeholders(case.inputs)
        inputs += ps
        outputs.append(case.fn(*ps))
    exe = gc.compile(outputs, inputs=inputs, target="cuda")
    results = exe(*[np.asarray(a) for case in SPECIAL for a in case.inputs])
    return {case.name: r.numpy() for case, r in zip(SPECIAL, results)}


@pytest.mark.parametrize("case", **by_id(SPECIAL))
def test_compiled_cuda(case):
    assert_special_equal(compiled()[case.name], expected(case), case)


# eager CUDA runs the same kernels one op at a time: a few cases, one of each kind
EAGER = [c for c in SPECIAL if c.name in {"maximum-special", "relu-special", "sign-special",
                                          "log-special", "amax-special", "argmax-special",
                                          "logsumexp-special", "sum-empty-dim"}]


@pytest.mark.parametrize("case", **by_id(EAGER))
def test_eager_cuda(case):
    out = case.fn(*[gc.tensor(np.asarray(a)).cuda() for a in case.inputs])
    assert_special_equal(out.cpu().numpy(), expected(case), case)


@pytest.mark.parametrize("case", **by_id(TIES))
def test_gradients_at_ties_on_cuda(case):
    wrt = case.grad_inputs or [0]
    xs = [gc.tensor(np.asarray(a)).cuda() for a in case.inputs]
    for i in wrt:
        xs[i].requires_grad_()
    case.fn(*xs).sum().backward()
    for i, want in zip(wrt, TIE_GRADS[case.name]):
        np.testing.assert_allclose(xs[i].grad.cpu().numpy(), want, rtol=1e-12)
