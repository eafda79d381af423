"""Every op of the op table on CUDA: eager CUDA tensors and the compiled "cuda" target both
equal the NumPy oracle."""
import numpy as np
import pytest

import graphc as gc
from helpers import placeholders
from op_table import CASES, by_id


def _check(actual, expected, case):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{case.name}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case.name}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=max(case.rtol, 1e-6), atol=1e-7)


@pytest.mark.parametrize("case", **by_id(CASES))
def test_eager_cuda_equals_reference(case):
    xs = [gc.tensor(np.asarray(a)).to("cuda") for a in case.inputs]
    out = case.fn(*xs)
    assert out.is_cuda
    _check(out.cpu().numpy(), case.ref(*case.inputs), case)


@pytest.mark.parametrize("case", **by_id([c for c in CASES if c.static]))
def test_compiled_cuda_equals_reference(case):
    ps = placeholders(case.inputs)
    exe = gc.compile(case.fn(*ps), inputs=ps, target="cuda")
    _check(exe(*case.inputs).numpy(), case.ref(*case.inputs), case)


def test_gradients_on_cuda_equal_cpu():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    grads = []
    for device in ("cpu", "cuda"):
        x = gc.tensor(a, dtype=gc.float64).to(device).requires_grad_()
        w = gc.tensor(b, dtype=gc.float64).to(device).requires_grad_()
        loss = ((x @ w).tanh() * 2).softmax(-1).log().mean() + x.var()
        loss.backward()
        grads.append((x.grad.cpu().numpy(), w.grad.cpu().numpy(), loss.item()))
    for cpu, cuda in zip(*grads):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-10, atol=1e-12)


def test_mixing_devices_is_an_error_naming_the_op():
    x = gc.ones(3, 4).to("cuda")
    with pytest.raises(RuntimeError, match=r"add: expected all tensors on the same device.*cuda"):
        x + gc.ones(4)
    assert (x + 1.0).is_cuda and (x * gc.tensor(2.0)).is_cuda  # numbers and 0-d tensors mix


def test_device_moves():
    x = gc.tensor([[1.0, 2.0]])
    y = x.cuda()
    assert y.device == gc.device("cuda") and y.is_cuda and not x.is_cuda
    assert y.cpu().device == gc.device("cpu") and y.to("cpu").tolist() == [[1.0, 2.0]]
    assert gc.zeros(2, device="cuda").is_cuda
    with pytest.raises(TypeError, match="cpu"):
        y.numpy()
    assert "device='cuda:0'" in repr(y) and y.sum().item() == 3.0


def test_slices_from_the_start_keep_their_size():
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = gc.tensor(a).cuda()
    for got, want in ((x[0], a[0]), (x[:2], a[:2]), (x[:, :1], a[:, :1]), (x[1:], a[1:])):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.cpu().numpy(), want)
