"""The nn ops (conv, pooling, dropout) compiled for "cpu" call the runtime kernels and equal
the reference target, forward and gradients, in one shared program (float32: the kernels'
compiled code is shared with eager mode's tests through Numba's cache)."""
import functools

import numpy as np
import pytest

import graphc as gc
import graphc.nn.functional as F

rng = np.random.default_rng(5)

MODELS = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    "conv2d-groups-dilation": (lambda x, w: F.conv2d(x, w, groups=2, dilation=2),
                               [(1, 4, 7, 7), (6, 2, 2, 3)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
                         [(2, 3, 4, 5), (3, 2, 3, 3), (2,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    "max_pool2d-stride-pad": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(1, 2, 7, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, stride=1, padding=1), [(2, 2, 5, 5)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 7)]),
    "conv-permuted-input": (lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w), [(1, 5, 5, 2), (3, 2, 2, 2)]),
}


@functools.lru_cache(maxsize=None)
def results():
    inputs, outputs, spans, feeds = [], [], {}, []
    for name, (fn, shapes) in MODELS.items():
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        ps = [gc.placeholder(s, gc.float32) for s in shapes]
        out = fn(*ps)
        loss = (out * gc.constant(rng.standard_normal(out.shape).astype(np.float32))).sum()
        outs = [out] + list(gc.grad(loss, ps))
        spans[name] = (len(outputs), len(outs))
        inputs += ps
        outputs += outs
        feeds += arrays
    ref = gc.compile(outputs, inputs=inputs, target="reference")(*feeds)
    program = gc.compile(outputs, inputs=inputs, target="cpu")
    cpu = program(*feeds)
    out = {k: (cpu[s:s + n], ref[s:s + n]) for k, (s, n) in spans.items()}
    out["source"] = program.source
    return out


def test_max_pooling_calls_the_kernel_for_its_geometry():
    """The program calls the max pooling variant for each node's sizes, chosen when it is
    generated (so only that one compiles), never the kernel that chooses at run time."""
    source = results()["source"]
    assert "rk_max_pool2d_2x2(" in source and "rk_max_pool2d_clipped(" in source
    assert "rk_max_pool2d(" not in source


@pytest.mark.parametrize("name", list(MODELS))
def test_nn_op_on_cpu_equals_reference(name):
    got, want = results()[name]
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-5,
                                   err_msg=f"{name}: output {k} (0 = forward, then grads)")


def test_dropout_on_cpu_uses_the_reference_mask():
    x = gc.placeholder((4, 50), gc.float32)
    seed = gc.constant(np.int64(1234))
    from graphc.ops.nn import dropout_op
    y = dropout_op(x, seed, p=0.3, stream=7)
    g = gc.grad((y * y).sum(), x)
    arr = rng.standard_normal((4, 50)).astype(np.float32)
    want = gc.compile([y, g], inputs=[x], target="reference")(arr)
    got = gc.compile([y, g], inputs=[x], target="cpu")(arr)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert 0 < (got[0].numpy() == 0).mean() < 0.6
