"""Every op of the op table compiled for "cpu" equals the reference target, forward and
gradients (float64 inputs: exact math paths). Cases are compiled in small batches, one
program per batch, shared by the tests of that batch."""
import functools

import numpy as np
import pytest

import graphc as gc
from helpers import cotangent_like, float_inputs, placeholders
from op_table import CASES, by_id



def _sampled(cases):
    """All cases, except that ops checked at many shapes keep two shapes here (one typical,
    one edge): the code generator treats every op the same way at every shape, and each
    case costs compile time. add and mul keep every broadcasting pattern."""
    seen, out = {}, []
    for c in cases:
        k = seen.get(c.op, 0)
        seen[c.op] = k + 1
        if c.op in ("add", "mul") or k < 2 or not ("-" in c.name and "x" in c.name.split("-")[-1]
                                                    or c.name.endswith("scalar")):
            out.append(c)
    return out


STATIC = _sampled([c for c in CASES if c.static])
BATCH = 10
BATCH_OF = {c.name: i // BATCH for i, c in enumerate(STATIC)}


def _outputs(case):
    ps = placeholders(case.inputs)
    out = case.fn(*ps)
    outputs = [out]
    if case.grad:
        loss = (out * gc.constant(cotangent_like(out.shape))).sum()
        outputs += list(gc.grad(loss, [ps[i] for i in float_inputs(case)]))
    return ps, outputs


@functools.lru_cache(maxsize=None)
def batch_results(k, fuse=True, layout="whole"):
    """{case name: (cpu results, reference results)} for batch k, compiled once per layout
    (docs/compiler.md: one @njit program, or one cached kernel per step)."""
    cases = STATIC[k * BATCH:(k + 1) * BATCH]
    inputs, outputs, spans = [], [], {}
    for c in cases:
        ps, outs = _outputs(c)
        spans[c.name] = (len(outputs), len(outs))
        inputs += ps
        outputs += outs
    feeds = [np.asarray(a) for c in cases for a in c.inputs]
    ref = gc.compile(outputs, inputs=inputs, target="reference")(*feeds)
    cpu = gc.compile(outputs, inputs=inputs, target="cpu", fuse=fuse, layout=layout)(*feeds)
    return {name: ([r.numpy() for r in cpu[s:s + n]], [r.numpy() for r in ref[s:s + n]])
            for name, (s, n) in spans.items()}


def _check(case, got, want):
    tight = all(np.asarray(a).dtype != np.float32 for a in case.inputs)
    rtol, atol = (1e-9, 1e-12) if tight else (max(case.rtol, 1e-6), 1e-6)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == b.dtype, \
            f"{case.name} output {k}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                   err_msg=f"{case.name}: output {k} (0 = forward, then grads)")


@pytest.mark.parametrize("layout", ["whole", "kernels"])
@pytest.mark.parametrize("case", **by_id(STATIC))
def test_cpu_equals_reference(case, layout):
    got, want = batch_results(BATCH_OF[case.name], layout=layout)[case.name]
    _check(case, got, want)


@pytest.mark.parametrize("k", [0, len(STATIC) // BATCH // 2, len(STATIC) // BATCH])
def test_unfused_programs_agree(k):
    fused = batch_results(k)
    for name, (got, _) in batch_results(k, fuse=False).items():
        for a, b in zip(got, fused[name][0]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)


def test_every_registered_op_compiles_for_cpu():
    from nn_op_names import NN_OPS
    from op_table_more import CPU, MORE_CASES, NO_CPU_LOWERING
    # the newer names compile in tests/backends/test_cpu_more_ops.py; some have no lowering yet
    covered = {c.op for c in STATIC} | {c.op for c in MORE_CASES if c.name in CPU} | NO_CPU_LOWERING
    # built by gradients and simplification (their gradients run in the cases above)
    indirect = {"placeholder", "constant", "variable", "expand_like", "shape_prod",
                "slice_backward", "index_backward", "index_put",
                "all_reduce", "broadcast"}  # communication: tests/distributed (never lowered)
    missing = set(gc.ops_registry) - covered - indirect - NN_OPS
    assert not missing, f"ops never compiled for cpu: {sorted(missing)}"
