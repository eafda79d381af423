"""In-place ops on tensors in the autograd graph, as PyTorch defines them (issue 12 item 1).

Each case is written once against a torch-like module `lib` and returns the values it
checks; the expected numbers are PyTorch 2.13's, and when torch is installed the same case
also runs through torch itself.
"""
import numpy as np
import pytest

import graphc as gc


def _leaves(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
    return x, w


def clone_mul(lib):
    x, _ = _leaves(lib)
    x.clone().mul_(2).sum().backward()
    return x.grad


def zero_then_use(lib):
    x, _ = _leaves(lib)
    y = x * 2
    y.zero_()
    (y + x).sum().backward()
    return x.grad


def add_operand_gets_grad(lib):
    x, w = _leaves(lib)
    (x * 1).add_(w, alpha=2).sum().backward()
    return x.grad, w.grad


def sub_(lib):
    x, w = _leaves(lib)
    (x * 3).sub_(w).pow(2).sum().backward()
    return x.grad, w.grad


def mul_by_tensor(lib):
    x, w = _leaves(lib)
    a = x * 1
    a.mul_(w)
    a.sum().backward()
    return x.grad, w.grad


def div_(lib):
    x, w = _leaves(lib)
    (x * 1).div_(w).sum().backward()
    return x.grad, w.grad


def clamp_(lib):
    x, _ = _leaves(lib)
    (x * 1).clamp_(1.5, 2.5).sum().backward()
    return x.grad


def addcmul_(lib):
    x, w = _leaves(lib)
    (x * 1).addcmul_(w, x, value=2).sum().backward()
    return x.grad, w.grad


def addcdiv_(lib):
    x, w = _leaves(lib)
    (x * 1).addcdiv_(w, x, value=2).sum().backward()
    return x.grad, w.grad


def fill_with_tensor(lib):
    x, w = _leaves(lib)
    y = x.clone()
    y.fill_(w[0])
    (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return x.grad, w.grad


def zero_alone(lib):
    x, _ = _leaves(lib)
    y = x * 2
    y.zero_()
    y.sum().backward()
    return x.grad


def copy_(lib):
    x, w = _leaves(lib)
    y = x * 2
    y.copy_(w[:1])
    y.sum().backward()
    return x.grad, w.grad


def operators(lib):
    x, w = _leaves(lib)
    y = x * 1
    y += w
    y -= x * 0.5
    y *= w
    y /= 2
    y.sum().backward()
    return x.grad, w.grad


def readers_before_the_write_keep_the_old_value(lib):
    x, _ = _leaves(lib)
    y = x * 2
    z = y + 0
    y.mul_(3)
    (z + y).sum().backward()
    return x.grad


def broadcast_operand(lib):
    x, w = _leaves(lib)
    y = x * 1
    y.add_(w[:1])
    y.sum().backward()
    return w.grad


def wider_dtype_operand(lib):
    x, w = _leaves(lib)
    y = x.double() * 1
    y.add_(w)
    y.sum().backward()
    return w.grad


def write_through_a_view(lib):
    x, _ = _leaves(lib)
    y = x * 1
    y[0:2].mul_(2)
    y.sum().backward()
    return x.grad


def element_view(lib):
    x, w = _leaves(lib)
    y = x * 1
    y[1].mul_(w[2])
    (y * lib.tensor([1.0, 10.0, 100.0])).sum().backward()
    return y.detach(), x.grad, w.grad


def sibling_view_sees_the_write(lib):
    x, _ = _leaves(lib)
    y = x * 1
    c = y[:2]
    y[0].mul_(2)
    c.sum().backward()
    return x.grad


def view_of_a_view(lib):
    x = lib.arange(6.0).reshape(2, 3).requires_grad_()
    y = x * 1
    y[1][1:].mul_(3)
    (y * y).sum().backward()
    return x.grad


def permuted_view(lib):
    x = lib.arange(6.0).reshape(2, 3).requires_grad_()
    y = x * 1
    y.t()[0].mul_(5)
    y.sum().backward()
    return x.grad


def setitem_int_tensor(lib):
    x, w = _leaves(lib)
    y = x * 1
    y[lib.tensor([0, 2])] = w[:2]
    y.sum().backward()
    return y.detach(), x.grad, w.grad


def setitem_mask(lib):
    x, w = _leaves(lib)
    y = x * 1
    y[y > 1.5] = w[:2]
    y.sum().backward()
    return y.detach(), x.grad, w.grad


def setitem_ellipsis_and_multi_index(lib):
    X = lib.arange(12.0).reshape(3, 4).requires_grad_()
    W = lib.ones(2, requires_grad=True)
    Y = X * 1
    Y[..., 1] = 0
    Y[0, lib.tensor([2, 3])] = W * 5
    Y[lib.tensor([1, 2]), lib.tensor([0, 3])] = W[0]
    (Y * Y).sum().backward()
    return Y.detach(), X.grad, W.grad


def setitem_scalar_into_grad_tensor(lib):
    x, _ = _leaves(lib)
    y = x * 2
    y[1] = 7.0
    y[lib.tensor([True, False, False])] = 0.5
    (y * y).sum().backward()
    return y.detach(), x.grad


def setitem_duplicate_indices(lib):
    x, w = _leaves(lib)
    y = x * 1
    y[lib.tensor([0, 0])] = w[:2]     # the last write wins; each value gets its position's grad
    (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return y.detach(), x.grad, w.grad


def augmented_item_assignment(lib):
    x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = lib.tensor([5.0, 6.0], requires_grad=True)
    y = x * 1
    y[1:3] += w
    y[lib.tensor([0, 0, 3])] += w[0]
    y[..., -1] *= 2
    m = (x * 1).reshape(2, 2)
    m[:, 0] -= w
    m[lib.tensor([1])] /= w[1]
    ((y * y).sum() + (m * m).sum()).backward()
    return y.detach(), m.detach(), x.grad, w.grad


def leaf_becomes_non_leaf(lib):
    x, w = _leaves(lib)
    a = lib.zeros(3)
    a.add_(x)
    (a * w).sum().backward()
    return a.requires_grad, x.grad


CASES = {
    "clone_mul": (clone_mul, [2, 2, 2]),
    "zero_then_use": (zero_then_use, [1, 1, 1]),
    "add_operand_gets_grad": (add_operand_gets_grad, ([1, 1, 1], [2, 2, 2])),
    "sub_": (sub_, ([-6, 6, 18], [2, -2, -6])),
    "mul_by_tensor": (mul_by_tensor, ([4, 5, 6], [1, 2, 3])),
    "div_": (div_, ([0.25, 0.2, 1 / 6], [-1 / 16, -2 / 25, -3 / 36])),
    "clamp_": (clamp_, [0, 1, 0]),
    "addcmul_": (addcmul_, ([9, 11, 13], [2, 4, 6])),
    "addcdiv_": (addcdiv_, ([-7, -1.5, -1 / 3], [2, 1, 2 / 3])),
    "fill_with_tensor": (fill_with_tensor, ([0, 0, 0], [6, 0, 0])),
    "zero_alone": (zero_alone, [0, 0, 0]),
    "copy_": (copy_, ([0, 0, 0], [3, 0, 0])),
    "operators": (operators, ([1, 1.25, 1.5], [4.25, 5.5, 6.75])),
    "readers_before_the_write": (readers_before_the_write_keep_the_old_value, [8, 8, 8]),
    "broadcast_operand": (broadcast_operand, [3, 0, 0]),
    "wider_dtype_operand": (wider_dtype_operand, [1, 1, 1]),
    "write_through_a_view": (write_through_a_view, [2, 2, 1]),
    "element_view": (element_view, ([1, 12, 3], [1, 60, 100], [0, 0, 20])),
    "sibling_view": (sibling_view_sees_the_write, [2, 1, 0]),
    "view_of_a_view": (view_of_a_view, [[0, 2, 4], [6, 72, 90]]),
    "permuted_view": (permuted_view, [[5, 1, 1], [5, 1, 1]]),
    "setitem_int_tensor": (setitem_int_tensor, ([4, 2, 5], [0, 1, 0], [1, 1, 0])),
    "setitem_mask": (setitem_mask, ([1, 4, 5], [1, 0, 0], [1, 1, 0])),
    "setitem_ellipsis_and_multi_index": (setitem_ellipsis_and_multi_index, (
        [[0, 0, 5, 5], [1, 0, 6, 7], [8, 0, 10, 1]],
        [[0, 0, 0, 0], [0, 0, 12, 14], [16, 0, 20, 0]],
        [50 + 4, 50])),
    "setitem_scalar_into_grad_tensor": (setitem_scalar_into_grad_tensor,
                                        ([0.5, 7, 6], [0, 0, 24])),
    "leaf_becomes_non_leaf": (leaf_becomes_non_leaf, (True, [4, 5, 6])),
    "setitem_duplicate_indices": (setitem_duplicate_indices, ([5, 2, 3], [0, 2, 3], [1, 1, 0])),
    "augmented_item_assignment": (augmented_item_assignment, (
        [6, 7, 9, 18], [[-4, 2], [-0.5, 2 / 3]], [16, 18, 107 / 6, 650 / 9], [118, 17.935185])),
}


def _numbers(result):
    if isinstance(result, tuple):
        return tuple(_numbers(r) for r in result)
    if isinstance(result, bool):
        return result
    return np.asarray(result.detach().cpu().numpy() if hasattr(result, "detach") else result,
                      np.float64)


def _check(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _check(g, w)
    elif isinstance(want, bool):
        assert got is want
    else:
        np.testing.assert_allclose(got, np.asarray(want, np.float64), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_inplace_matches_pytorch(name):
    fn, want = CASES[name]
    _check(_numbers(fn(gc)), want)


@pytest.mark.parametrize("name", list(CASES))
def test_expected_numbers_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    fn, want = CASES[name]
    _check(_numbers(fn(torch)), want)


# ---- errors PyTorch raises too -------------------------------------------------------------------
def test_saved_value_written_in_place_raises():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()   # the rule reads its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_result_dtype_and_shape_must_fit():
    with pytest.raises(RuntimeError, match="can't be cast"):
        gc.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        gc.zeros(3).add_(gc.ones(2, 3))
    t = gc.tensor([1, 2])
    t.copy_(gc.tensor([1.7, 2.2]))  # copy_ and fill_ convert
    assert t.tolist() == [1, 2]


def test_view_of_a_leaf_requiring_grad_cannot_be_written():
    x = gc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0:2].mul_(2)


def test_no_grad_writes_keep_the_history():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with gc.no_grad():
        y.add_(1)      # not recorded: y's gradient is still 3
    assert y.tolist() == [4.0, 7.0]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_versions_count_writes():
    x = gc.zeros(3)
    v = x[1:]
    x.add_(1)
    v.mul_(2)
    x[0] = 5
    assert x._version == v._version == 3
    assert x.tolist() == [5.0, 2.0, 2.0]


def test_tape_text_names_each_version():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    x.name = "x"
    y = x * 2
    y.add_(1)
    text = gc.viz.format_tape([y]) if hasattr(gc, "viz") else None
    from graphc.viz.tape import format_tape
    text = format_tape([y])
    assert "%0 = mul(%x, %in1)" in text and "%1 = add(%0, %in2)" in text


# ---- dtypes of in-place results: PyTorch's rules ---------------------------------------------------
def _dtype_cases(lib):
    def si():
        t = lib.tensor([1, 2, 3])
        t[1] = 7.9
        return t

    def sb():
        t = lib.tensor([1.0, 2, 3])
        t[lib.tensor([True, False, True])] = lib.tensor([9.0, 8.0])
        return t
    return [
        lambda: lib.tensor([1, 2]).mul_(2),
        lambda: lib.tensor([1, 2]).div_(2),
        lambda: lib.tensor([True, False]).add_(1),
        lambda: lib.tensor([1.0, 2.0]).add_(lib.tensor([1, 2])),
        lambda: lib.tensor([1, 2]).add_(lib.tensor(1.5)),
        lambda: lib.tensor([1.0, 2.0], dtype=lib.float64).mul_(lib.tensor([2.0])),
        lambda: lib.tensor([1, 2]).fill_(2.7),
        lambda: lib.tensor([1, 2]).copy_(lib.tensor([2.7, -1.5])),
        lambda: lib.tensor([1, 5]).clamp_(2, 3),
        si, sb,
    ]


DTYPE_ANSWERS = [([2, 4], "int64"), RuntimeError, RuntimeError, ([2.0, 4.0], "float32"),
                 RuntimeError, ([2.0, 4.0], "float64"), ([2, 2], "int64"), ([2, -1], "int64"),
                 ([2, 3], "int64"), ([1, 7, 3], "int64"), ([9.0, 2.0, 8.0], "float32")]


@pytest.mark.parametrize("lib", ["graphc", "torch"])
def test_inplace_result_dtypes_follow_pytorch(lib):
    lib = gc if lib == "graphc" else pytest.importorskip("torch")
    for case, want in zip(_dtype_cases(lib), DTYPE_ANSWERS):
        if want is RuntimeError:
            with pytest.raises(RuntimeError, match="can't be cast"):
                case()
        else:
            t = case()
            assert t.tolist() == want[0] and str(t.dtype).endswith(want[1])
