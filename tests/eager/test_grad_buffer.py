"""A leaf's first .grad takes the cotangent's buffer instead of a copy (as PyTorch's
AccumulateGrad steals it) only where nothing else can see that buffer: these cases would
alias .grad with a user's tensor, another leaf's .grad, a hook's saved gradient or a view,
and each checks that a later in-place write to one leaves the other alone."""
import numpy as np
import pytest

import graphc as gc
from graphc.eager import autograd


def _leaf(values=(1.0, 2.0, 3.0, 4.0)):
    return gc.tensor(np.asarray(values, np.float32), requires_grad=True)


@pytest.fixture
def copies(monkeypatch):
    """Counts the copies backward makes of first gradients."""
    calls = []
    clone = autograd.storage.clone

    def counting(arr):
        calls.append(arr.shape)
        return clone(arr)
    monkeypatch.setattr(autograd.storage, "clone", counting)
    return calls


def test_a_fresh_gradient_is_taken_without_a_copy(copies):
    x, w = _leaf(), _leaf((0.5, 0.5, 2.0, 1.0))
    (x * w).sum().backward()
    assert copies == []
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5, 2.0, 1.0])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0, 3.0, 4.0])
    x.grad.add_(1)  # each .grad owns its buffer
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0, 3.0, 4.0])
    assert x.grad._version == 1 and w.grad._version == 0


def test_one_cotangent_for_two_leaves_is_copied_for_one(copies):
    x, z = _leaf(), _leaf()
    (x + z).sum().backward()  # add's rule gives both the same cotangent
    assert len(copies) == 1
    assert not np.shares_memory(x.grad._data, z.grad._data)
    x.grad.mul_(3)
    np.testing.assert_array_equal(z.grad.numpy(), [1.0] * 4)


def test_the_same_leaf_twice():
    x = _leaf()
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0] * 4)


def test_a_users_gradient_passed_through_is_copied():
    x = _leaf()
    g = gc.tensor(np.full(4, 5.0, np.float32))
    (x + 1).backward(g)  # add passes the seed through unchanged
    assert not np.shares_memory(x.grad._data, g._data)
    x.grad.add_(1)
    np.testing.assert_array_equal(g.numpy(), [5.0] * 4)


def test_a_leaf_as_the_root_keeps_the_users_gradient_apart():
    x = _leaf()
    g = gc.tensor(np.full(4, 2.0, np.float32))
    x.backward(g)
    assert not np.shares_memory(x.grad._data, g._data)


def test_a_view_of_the_users_gradient_is_copied():
    x = gc.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    g = gc.tensor(np.arange(4, dtype=np.float32))
    x.reshape(4).backward(g)  # reshape's rule: a view of g
    assert not np.shares_memory(x.grad._data, g._data)
    x.grad.zero_()
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0, 2.0, 3.0])


def test_a_gradient_a_hook_keeps_is_copied():
    x = _leaf()
    y = x + 1
    kept = []
    y.register_hook(lambda g: kept.append(g))
    (y * 2).sum().backward()  # y's cotangent reaches x unchanged (add)
    assert not np.shares_memory(x.grad._data, kept[0]._data)
    x.grad.zero_()
    np.testing.assert_array_equal(kept[0].numpy(), [2.0] * 4)


def test_a_leaf_hook_that_keeps_its_gradient():
    x = _leaf()
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 3).sum().backward()
    assert not np.shares_memory(x.grad._data, kept[0]._data)


def test_post_accumulate_hooks_see_the_gradient():
    x = _leaf()
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0] * 4)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0] * 4)


def test_retain_graph_accumulates_into_the_taken_buffer():
    x, w = _leaf(), _leaf((2.0, 2.0, 2.0, 2.0))
    loss = (x * w).sum()
    loss.backward(retain_graph=True)
    first = x.grad
    loss.backward()
    assert x.grad is first
    np.testing.assert_array_equal(x.grad.numpy(), [4.0] * 4)


def test_create_graph_keeps_the_differentiable_gradient():
    x = _leaf()
    (x * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    (gx,) = gc.autograd.grad(x.grad.sum(), [x])
    np.testing.assert_array_equal(gx.numpy(), [2.0] * 4)


def test_a_grad_written_in_place_leaves_the_graph_alone():
    x, w = _leaf(), _leaf((1.0, 1.0, 1.0, 1.0))
    y = x * w
    y.sum().backward(retain_graph=True)
    x.grad.mul_(0)  # the taken buffer is no tensor of the graph
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0] * 4)
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0, 6.0, 8.0])


def test_a_broadcast_gradient_is_summed_and_owned():
    b = gc.tensor(np.zeros(3, np.float32), requires_grad=True)
    x = gc.tensor(np.ones((2, 3), np.float32))
    (x + b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [2.0] * 3)
    b.grad.add_(1)
    np.testing.assert_array_equal(b.grad.numpy(), [3.0] * 3)


def test_the_check_counts_references():
    fresh = autograd._Tensor._new(np.ones(3, np.float32))
    assert autograd._sole_owner(fresh)
    held = [fresh]  # a second holder of the tensor
    assert not autograd._sole_owner(fresh)
    held.clear()
    arr = fresh._data  # of the array
    assert not autograd._sole_owner(fresh)
    del arr
    view = fresh._data[1:]  # a view of it
    assert not autograd._sole_owner(fresh)
    del view
    other = autograd._Tensor._new(fresh._data)  # another tensor on it
    assert not autograd._sole_owner(fresh)
    del other
    assert autograd._sole_owner(fresh)
    assert not autograd._sole_owner(autograd._Tensor._new(np.ones((3, 2), np.float32).T))
    assert not autograd._sole_owner(autograd._Tensor._new(np.ones(3, np.float32)[:2]))
