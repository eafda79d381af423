"""In-place ops on CUDA tensors: the values and gradients of the CPU (issue 12 item 1).
CUDA strided views are copies, so writes through them must reach their base."""
import numpy as np

import graphc as gc


def _run(device):
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = gc.tensor([4.0, 5.0, 6.0], requires_grad=True)
    xd, wd = x.to(device), w.to(device)
    y = xd * 1
    y.mul_(wd).add_(1)
    y[0:2].mul_(2)                  # through a strided view
    y[gc.tensor([0, 2])] = wd[:2]   # integer-tensor key
    y[1] = 7.0
    (y * y).sum().backward()
    z = gc.zeros(2, 3).to(device)
    z[:, 1].fill_(5)
    z.t()[2].add_(1)
    z[0][0:1] = 9
    return y.detach().cpu().numpy(), x.grad.numpy(), w.grad.numpy(), z.cpu().numpy()


def test_inplace_on_cuda_matches_cpu():
    for got, want in zip(_run("cuda"), _run("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def _views_see_base_writes(device):
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to(device) * 1
    first, tail = y[0], y[1:]
    y.mul_(3)
    tail.add_(1)
    out = first * 2 + tail.sum()
    out.backward()
    return first.detach().cpu().numpy(), tail.detach().cpu().numpy(), y.detach().cpu().numpy(), \
        x.grad.numpy()


def test_cuda_views_see_writes_to_their_base():
    for got, want in zip(_views_see_base_writes("cuda"), _views_see_base_writes("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-6)
