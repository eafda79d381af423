"""graphc.scan on target "cuda": the node runs its reference loop on the host ("host" in
docs/ops.md); values and gradients must be the reference target's."""
import numpy as np

import graphc as gc


def test_scan_on_cuda_matches_reference():
    w = gc.tensor(np.eye(3, dtype=np.float32) * 0.5, requires_grad=True)
    xs, h = gc.placeholder((4, 2, 3), name="xs"), gc.placeholder((2, 3), name="h")
    hT, ys = gc.scan(lambda c, x: (gc.tanh(x + c @ w), c.sum()), h, xs)
    loss = ys.sum() + hT.sum()
    outs = [loss] + gc.grad(loss, [w, xs])
    a = np.random.default_rng(0).random((4, 2, 3)).astype(np.float32)
    h0 = np.ones((2, 3), np.float32)
    got = gc.compile(outs, [h, xs], target="cuda")(h0, a)
    want = gc.compile(outs, [h, xs], target="reference")(h0, a)
    for u, v in zip(got, want):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-6)
