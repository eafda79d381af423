"""The newer names of tests/op_table_more.py compiled for "cpu" equal the reference target,
forward and gradients: a representative subset (every new scalar template and the composites
over gathers, scatters and matmul), compiled in a few batches. Ops without a cpu lowering
must refuse to compile with UnsupportedError naming the op."""
import functools

import numpy as np
import pytest

import graphc as gc
from helpers import cotangent_like, float_inputs, placeholders
from op_table import by_id
from op_table_more import CPU, MORE_CASES, NO_CPU_LOWERING

SUBSET = [c for c in MORE_CASES if c.name in CPU and c.static]
BATCH = 25
BATCH_OF = {c.name: i // BATCH for i, c in enumerate(SUBSET)}


def _outputs(case):
    ps = placeholders(case.inputs)
    out = case.fn(*ps)
    outputs = [out]
    if case.grad:
        loss = (out * gc.constant(cotangent_like(out.shape))).sum()
        outputs += list(gc.grad(loss, [ps[i] for i in float_inputs(case)]))
    return ps, outputs


@functools.lru_cache(maxsize=None)
def batch_results(k):
    cases = SUBSET[k * BATCH:(k + 1) * BATCH]
    inputs, outputs, spans = [], [], {}
    for c in cases:
        ps, outs = _outputs(c)
        spans[c.name] = (len(outputs), len(outs))
        inputs += ps
        outputs += outs
    feeds = [np.asarray(a) for c in cases for a in c.inputs]
    ref = gc.compile(outputs, inputs=inputs)(*feeds)
    cpu = gc.compile(outputs, inputs=inputs, target="cpu")(*feeds)
    return {name: ([r.numpy() for r in cpu[s:s + n]], [r.numpy() for r in ref[s:s + n]])
            for name, (s, n) in spans.items()}


@pytest.mark.parametrize("case", **by_id(SUBSET))
def test_cpu_equals_reference(case):
    got, want = batch_results(BATCH_OF[case.name])[case.name]
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == b.dtype, \
            f"{case.name} output {k}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}"
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True,
                                   err_msg=f"{case.name}: output {k} (0 = forward, then grads)")


def test_float32_templates_stay_float32():
    """The new templates on float32: results close to float64 NumPy, dtype kept."""
    x = np.linspace(-0.8, 0.8, 7).astype(np.float32)
    p = gc.placeholder((7,), gc.float32)
    fns = [gc.floor, gc.round, gc.expm1, gc.log2, gc.tan, gc.asin, gc.atanh, gc.erfc, gc.lgamma,
           gc.sinh, gc.digamma, lambda v: gc.atan2(v, v + 2), lambda v: gc.fmod(v * 5, 0.7),
           lambda v: gc.remainder(v * 5, -0.7)]
    refs = [np.floor, np.round, np.expm1, np.log2, np.tan, np.arcsin, np.arctanh,
            __import__("scipy.special").special.erfc, __import__("scipy.special").special.gammaln,
            np.sinh, __import__("scipy.special").special.digamma, lambda v: np.arctan2(v, v + 2),
            lambda v: np.fmod(v * 5, np.float32(0.7)), lambda v: np.remainder(v * 5, np.float32(-0.7))]
    outs = gc.compile([f(p) for f in fns], [p], target="cpu")(x)
    for o, ref in zip(outs, refs):
        got = o.numpy()
        assert got.dtype == np.float32
        with np.errstate(all="ignore"):
            want = ref(x.astype(np.float64))
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5, equal_nan=True)


@pytest.mark.parametrize("name", sorted(NO_CPU_LOWERING))
def test_ops_without_cpu_lowering_refuse_to_compile(name):
    case = next(c for c in MORE_CASES if c.op == name and c.static)
    ps = placeholders(case.inputs)
    with pytest.raises(gc.UnsupportedError, match=name):
        gc.compile(case.fn(*ps), inputs=ps, target="cpu")(*case.inputs)


@pytest.mark.parametrize("layout", ["whole", "kernels"])
def test_runtime_kernels_in_both_layouts(layout):
    """The scan/sort/prod and LAPACK runtime calls, in a whole-step program and in one
    kernel per step, equal the reference target."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    a = rng.standard_normal((2, 3, 3))
    spd = a @ a.transpose(0, 2, 1) + 3 * np.eye(3)
    p, q = gc.placeholder((3, 4, 5), gc.float64), gc.placeholder((2, 3, 3), gc.float64)
    outs = [gc.cumsum(p, 1), gc.cumprod(p, -1), gc.cummax(p, 0).values, gc.cummin(p, 2).indices,
            gc.sort(p, 1, descending=True).indices, gc.prod(p, (1, 2)), gc.det(q),
            gc.slogdet(q)[1], gc.linalg.cholesky(q), gc.linalg.eigvalsh(q), gc.linalg.svdvals(q),
            gc.linalg.qr(q).R.abs(), gc.linalg.pinv(q)]
    want = gc.compile(outs, [p, q])(x, spd)
    got = gc.compile(outs, [p, q], target="cpu", layout=layout)(x, spd)
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12, err_msg=str(k))
