"""A short demo: the same computation eagerly and compiled by graphc's compiler.

    python examples/demo.py
"""
import time

import numpy as np

import graphc as gc

gc.manual_seed(0)
w = gc.randn(2, 3, requires_grad=True)
x_data = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)

# eager (define-by-run): each op runs at once, a tape records it for backward()
loss = gc.tanh(gc.tensor(x_data) @ w).square().mean()
loss.backward()
print("eager  loss", round(loss.item(), 6))
print("eager  grad", w.grad.numpy().astype(float).round(4).tolist())

# static (define-and-run): the same ops on a placeholder build a graph; the gradient is a
# graph transform; graphc.compile picks the best target here ("cpu": Numba) and compiles the
# graph for each new input shape, at the first call with it
x = gc.placeholder((None, 2), name="x")
sloss = gc.tanh(x @ w).square().mean()
step = gc.compile([sloss, gc.grad(sloss, w)], inputs=[x])
print(f"\n{step}")
if step.target != "reference":
    print(f"compiling for target {step.target!r} ...", flush=True)
start = time.perf_counter()
value, grad = step(x_data)
if step.target != "reference":
    print(f"compiled in {time.perf_counter() - start:.1f} s (the first call with these shapes; "
          f"the next run loads it from the compile cache)")
print("static loss", round(value.item(), 6))
print("static grad", grad.numpy().astype(float).round(4).tolist())
same = np.allclose(value.item(), loss.item(), rtol=1e-5) and \
    np.allclose(grad.numpy(), w.grad.numpy(), rtol=1e-5, atol=1e-6)
print("eager and compiled agree:", same)

print("\nthe graph (typed IR, one node a line):")
print(gc.Graph.from_outputs([sloss]))
if step.source:
    lines = step.source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("@")]
    first = next((i for i in starts if lines[i + 1].startswith("def program")),
                 starts[0] if starts else 0)
    print(f"\nthe code the compiler generated: {len(lines)} lines (all of it: step.source, or "
          f"`graphc dump FILE.py:FUNCTION --source`); the step's program:")
    print("\n".join(lines[first:first + 25]))
