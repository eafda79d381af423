"""A short demo: the same computation eagerly and as a compiled static graph."""
import numpy as np

import graphc as gc

gc.manual_seed(0)
w = gc.randn(2, 3, requires_grad=True)
x_data = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)

# eager (define-by-run)
loss = gc.tanh(gc.tensor(x_data) @ w).square().mean()
loss.backward()
print("eager  loss", loss.item())
print("eager  grad", w.grad.numpy().round(4).tolist())

# static (define-and-run): same ops on a placeholder, gradient as a graph transform
x = gc.placeholder((None, 2), name="x")
sloss = gc.tanh(x @ w).square().mean()
step = gc.compile([sloss, gc.grad(sloss, w)], inputs=[x])
value, grad = step(x_data)
print("static loss", value.item())
print("static grad", grad.numpy().round(4).tolist())
print(gc.Graph.from_outputs([sloss]))
