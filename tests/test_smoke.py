import numpy as np

import graphc as gc


def test_eager_and_static_agree_on_a_small_model():
    w = gc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10, requires_grad=True)
    x = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)
    loss = gc.tanh(gc.tensor(x) @ w).square().mean()
    loss.backward()
    p = gc.placeholder((None, 2), name="x")
    s = gc.tanh(p @ w).square().mean()
    value, grad = gc.compile([s, gc.grad(s, w)], inputs=[p], target="reference")(x)
    np.testing.assert_allclose(value.item(), loss.item(), rtol=1e-6)
    np.testing.assert_allclose(grad.numpy(), w.grad.numpy(), rtol=1e-6)
