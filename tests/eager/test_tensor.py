"""Eager tensors follow PyTorch's names and meaning for the covered subset."""
import numpy as np
import pytest

import graphc as gc


def test_factories_and_default_dtypes():
    assert gc.tensor([1.0, 2.0]).dtype is gc.float32
    assert gc.tensor([1, 2]).dtype is gc.int64
    assert gc.tensor([True]).dtype is gc.bool
    assert gc.tensor(np.zeros(2)).dtype is gc.float64  # NumPy arrays keep their dtype
    assert gc.zeros(2, 3).shape == (2, 3) and gc.ones((2, 3)).dtype is gc.float32
    assert gc.full((2,), 7).dtype is gc.int64
    assert gc.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert gc.arange(0, 1, 0.5).dtype is gc.float32
    np.testing.assert_allclose(gc.linspace(0, 1, 3).numpy(), [0, 0.5, 1])
    assert gc.eye(3).sum().item() == 3
    assert gc.empty(2, 2).shape == (2, 2)
    assert gc.zeros_like(gc.ones(2, 3)).sum().item() == 0
    assert gc.ones_like(gc.ones(2, 3, dtype=gc.float64)).dtype is gc.float64
    assert gc.randn_like(gc.ones(4)).shape == (4,)


def test_from_numpy_shares_memory():
    a = np.zeros(3, np.float32)
    t = gc.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5


def test_manual_seed_reproducible():
    gc.manual_seed(3)
    a = gc.rand(4)
    gc.manual_seed(3)
    assert gc.rand(4).tolist() == a.tolist()
    assert gc.randint(0, 5, (10,)).dtype is gc.int64


def test_shape_queries():
    x = gc.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3
    assert x.ndim == 3 and x.dim() == 3 and len(x) == 2 and x.numel() == 24


def test_conversions():
    x = gc.tensor([1.5, 2.5])
    assert x.long().dtype is gc.int64 and x.long().tolist() == [1, 2]
    assert x.to(gc.float64).dtype is gc.float64
    assert x.double().float().dtype is gc.float32
    assert gc.tensor(3.0).item() == 3.0 and isinstance(gc.tensor(3).item(), int)
    assert x.tolist() == [1.5, 2.5]
    assert float(gc.tensor([2.0])) == 2.0
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()


def test_type_promotion_like_pytorch():
    i, f = gc.tensor([1, 2]), gc.tensor([1.0, 2.0])
    assert (i * 2.5).dtype is gc.float32
    assert (i * 2).dtype is gc.int64
    assert (i / 2).dtype is gc.float32
    assert (f + gc.tensor([1.0], dtype=gc.float64)).dtype is gc.float64
    assert (i + f).dtype is gc.float32
    assert (gc.tensor([1], dtype=gc.int32) + gc.tensor([1])).dtype is gc.int64
    assert (f > 1).dtype is gc.bool
    assert gc.exp(i).dtype is gc.float32
    assert (f * np.float64(2.0)).dtype is gc.float32  # NumPy scalars are weak like Python's


def test_inplace_writes():
    x = gc.arange(12).reshape(3, 4).float()
    x[0, 0] = 200
    x[:, 1] = 2
    x[x > 300] = 7
    x[x > 100] = 300
    assert x[0, 0].item() == 300 and x[:, 1].tolist() == [2, 2, 2]
    x += 1
    assert x[0, 0].item() == 301


def test_backward_accumulates_and_grad_fn_names():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    assert y.grad_fn.name() == "SumBackward0"
    assert x.is_leaf and not y.is_leaf
    y.backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_backward_with_gradient_argument():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()
    y = x * x
    y.backward(gc.tensor([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_no_grad_and_detach():
    x = gc.ones(2, requires_grad=True)
    with gc.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = (x * 2).detach()
    assert not z.requires_grad
    assert gc.is_grad_enabled()

    @gc.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad


def test_tape_only_when_needed():
    y = gc.ones(2) * 2
    assert y.grad_fn is None and not y.requires_grad


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        gc.tensor([1, 2], requires_grad=True)


def test_inplace_on_leaf_requiring_grad_is_an_error():
    x = gc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 3
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with gc.no_grad():
        x.add_(1)  # fine: optimizers update parameters this way
    assert x.tolist() == [2.0, 2.0]


def test_modified_saved_tensor_is_detected():
    x = gc.ones(3, requires_grad=True)
    y = x.exp()          # exp's gradient reads its output
    z = y.sum()
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_setitem_is_differentiable():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = gc.tensor(10.0, requires_grad=True)
    y = x * 2         # add-like ops do not save values, so writing into y is fine
    y[1] = v * 3
    (y * gc.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 6.0])
    np.testing.assert_allclose(v.grad.numpy(), 6.0)


def test_backward_twice_needs_retain_graph():
    x = gc.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_numpy_of_tensor_requiring_grad():
    x = gc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]


def test_retain_grad_and_autograd_grad():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])
    (g,) = gc.autograd.grad((x ** 2).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_max_with_dim_returns_values_and_indices():
    x = gc.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = gc.max(x, 1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.max(dim=1).indices.dtype is gc.int64


def test_repr():
    assert repr(gc.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<MulBackward0>" in repr(gc.ones(1, requires_grad=True) * 2)
    assert "dtype=graphc.float64" in repr(gc.zeros(1, dtype=gc.float64))


def test_tensors_do_not_pickle():
    import pickle
    with pytest.raises(TypeError, match="graphc.save"):
        pickle.dumps(gc.ones(2))


def test_tensor_constructor_as_torch_tensor():
    """graphc.Tensor(*sizes) / Tensor(Size) allocate float32, Tensor(data) copies as float32,
    Tensor(t) shares t's storage, Tensor() is empty (torch.Tensor's legacy constructor)."""
    assert gc.Tensor(2, 3).shape == (2, 3) and gc.Tensor(2, 3).dtype is gc.float32
    assert gc.Tensor(gc.Size([4])).shape == (4,)
    assert gc.Tensor().shape == (0,) and gc.Tensor().dtype is gc.float32
    data = gc.Tensor([1, 2])
    assert data.dtype is gc.float32 and data.tolist() == [1.0, 2.0]
    assert gc.Tensor((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data; only Size is sizes
    assert gc.Tensor(np.array([1, 2])).dtype is gc.float32
    t = gc.tensor([1, 2])
    shared = gc.Tensor(t)
    assert shared.dtype is gc.int64 and shared._data is t._data
    with pytest.raises(TypeError, match="data must be a sequence"):
        gc.Tensor(2.5)
    with pytest.raises(TypeError, match="invalid combination"):
        gc.Tensor([1, 2], 3)
    with pytest.raises(RuntimeError, match="negative dimension"):
        gc.Tensor(2, -1)


def test_view_with_a_dtype_shares_storage():
    x = gc.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
    bits = x.view(gc.int32)
    assert not bits.requires_grad  # as PyTorch: a bit view carries no gradient
    np.testing.assert_array_equal(bits.numpy(), x.detach().numpy().view(np.int32))
    halves = x.detach().view(gc.float16)
    assert halves.shape == (2, 4)
    y = gc.tensor([1.0, 2.0])
    y.view(gc.int32).zero_()  # a write through the view reaches y, and y's version
    assert y.tolist() == [0.0, 0.0] and y._version == 1
    with pytest.raises(RuntimeError, match="cannot be 0"):
        gc.tensor(1.0).view(gc.float16)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        gc.tensor(np.ones(3, np.float32)).view(gc.float64)
