"""The cuda target fuses with the shared pipeline's `fuse` pass (passes/fusion.py), as the cpu
does: groups that store several values, groups that end in a reduction, broadcast and 0-d
inputs, and fused buffers handed to the caller."""
import numpy as np

import graphc as gc
import graphc.functional as G

rng = np.random.default_rng(5)
A = rng.standard_normal((3, 4)).astype(np.float32)
B = rng.standard_normal((4,)).astype(np.float32)


def _groups(exe):
    (plan,) = exe._runner._plans.values()
    return [node.attrs["group"] for node in plan.kernels]


def _graph():
    a, b = gc.placeholder((3, 4), gc.float32, "a"), gc.placeholder((4,), gc.float32, "b")
    h = G.tanh(G.add(G.mul(a, b), 0.5))      # read inside and outside the group
    loss = G.mean(G.square(G.sub(h, a)))       # a reduction with its prologue
    return (a, b), [G.exp(h), loss, G.sigmoid(h)]


def _expected(a, b):
    h = np.tanh(a * b + np.float32(0.5))
    return [np.exp(h), np.mean((h - a) ** 2), 1 / (1 + np.exp(-h))]


def test_the_shared_fusion_groups_run_on_cuda():
    inputs, outputs = _graph()
    exe = gc.compile(outputs, inputs=list(inputs), target="cuda")
    got = exe(A, B)
    for g, want in zip(got, _expected(A, B)):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-5, atol=1e-6)
    groups = _groups(exe)
    assert any(g.is_reduce for g in groups)
    assert any(len(g.outputs) > 1 for g in groups)  # one kernel stores several values


def test_outputs_left_on_the_device_are_not_overwritten_by_the_next_call():
    inputs, outputs = _graph()
    exe = gc.compile(outputs, inputs=list(inputs), target="cuda")
    first = exe(gc.tensor(A).cuda(), gc.tensor(B).cuda())
    assert all(t.is_cuda for t in first)
    kept = [t.cpu().numpy().copy() for t in first]
    exe(gc.tensor(A * 2).cuda(), gc.tensor(B).cuda())
    for t, k in zip(first, kept):
        np.testing.assert_array_equal(t.cpu().numpy(), k)
