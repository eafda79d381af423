"""Behaviour of the newer PyTorch names that the op tables do not show: errors that name the
op, eager-only functions refusing symbolic values, Python-valued results, tensor properties,
in-place forms and random sampling (shapes, dtypes, seeding)."""
import numpy as np
import pytest

import graphc as gc


@pytest.mark.parametrize("call,match", [
    (lambda x: gc.topk(x, 5), r"topk: k=5 is out of range"),
    (lambda x: gc.kthvalue(x, 0), r"kthvalue: k=0"),
    (lambda x: gc.narrow(x, 1, 2, 3), r"narrow: start \(2\) \+ length \(3\)"),
    (lambda x: gc.gather(x, 1, np.zeros(3, np.int64)), r"gather: index must have as many dims"),
    (lambda x: gc.quantile(x, 1.5), r"quantile: q must be in \[0, 1\]"),
    (lambda x: gc.cross(x, x, dim=1), r"cross: dim 1 must have size 3"),
    (lambda x: gc.index_select(x, 0, np.zeros((2, 2), np.int64)), r"index_select: index must be"),
    (lambda x: gc.movedim(x, (0, 1), 0), r"movedim: source"),
    (lambda x: gc.roll(x, (1, 2), 0), r"roll: shifts"),
    (lambda x: gc.scatter_reduce(x, 0, np.zeros((1, 4), np.int64), x, "prod"), r"scatter_reduce"),
    (lambda x: gc.bitwise_and(x, x), r"bitwise_and: .*integer or bool"),
])
def test_errors_name_the_op(call, match):
    with pytest.raises((ValueError, TypeError, IndexError, NotImplementedError), match=match):
        call(gc.randn(3, 4))


def test_integer_division_by_zero_raises_like_pytorch():
    a, b = gc.tensor([3, 4]), gc.tensor([0, 1])
    for fn in (lambda: a // b, lambda: a % b, lambda: gc.fmod(a, b)):
        with pytest.raises(ZeroDivisionError):
            fn()
    assert np.isinf((gc.tensor([3.0]) // gc.tensor([0.0])).numpy()).all()


@pytest.mark.parametrize("fn", [gc.nonzero, gc.unique, lambda x: gc.masked_select(x, x > 0),
                                lambda x: gc.allclose(x, x), lambda x: gc.equal(x, x)])
def test_value_dependent_functions_refuse_symbolic_values(fn):
    with pytest.raises(gc.UnsupportedError, match="eager|Python bool"):
        fn(gc.placeholder((3,), gc.float32))


def test_allclose_and_equal_return_python_bools():
    x = gc.tensor([1.0, 2.0])
    assert gc.allclose(x, x + 1e-9) is True and gc.equal(x, x) is True
    assert gc.equal(x, gc.tensor([1.0])) is False and x.allclose(x * 2) is False


def test_operators_are_bitwise_on_integers_and_logical_on_bools():
    a, b = gc.tensor([6, 3]), gc.tensor([3, 5])
    assert (a & b).tolist() == [2, 1] and (a | b).tolist() == [7, 7] and (a ^ b).tolist() == [5, 6]
    assert (~a).tolist() == [-7, -4] and (a << 1).tolist() == [12, 6] and (a >> 1).tolist() == [3, 1]
    t, f = gc.tensor([True, False]), gc.tensor([True, True])
    assert (t & f).tolist() == [True, False] and (~t).tolist() == [False, True]


def test_tensor_properties_on_eager_and_symbolic_values():
    x = gc.zeros(2, 3)
    p = gc.placeholder((2, 3), gc.float64)
    assert x.stride() == (3, 1) == p.stride() and x.stride(0) == 3
    assert (x.element_size(), x.nbytes, x.nelement(), x.ndimension()) == (4, 24, 6, 2)
    assert (p.element_size(), p.nbytes) == (8, 48) and p.is_contiguous() and not p.is_cuda
    assert x.t().is_contiguous() in (True, False)  # a transposed view may or may not copy
    assert x.type() == "torch.FloatTensor" and x.type(gc.int64).dtype is gc.int64
    assert x.type("torch.DoubleTensor").dtype is gc.float64
    assert str(p.device) == "cpu" and p.cpu() is p and p.clone().shape == (2, 3)
    assert f"{gc.tensor(2.0 / 3):.3f}" == "0.667" and 0.0 in x and 1.0 not in x


def test_new_tensor_constructors_keep_dtype():
    x = gc.zeros(2, dtype=gc.float64)
    assert x.new_ones(3).dtype is gc.float64 and x.new_zeros((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_empty(4).shape == (4,)
    assert x.new_tensor([1, 2]).dtype is gc.float64 and x.new_ones(2, dtype=gc.int32).dtype is gc.int32


def test_view_as_dtype_reinterprets_bytes():
    x = gc.tensor(np.array([1.0, -2.0], np.float32))
    np.testing.assert_array_equal(x.view(gc.int32).numpy(), np.array([1.0, -2.0], np.float32).view(np.int32))


def test_inplace_forms_write_into_the_tensor():
    x = gc.tensor([1.7, -1.2])
    assert x.floor_() is x and x.tolist() == [1.0, -2.0]
    y = gc.tensor([[1.0, 2.0], [3.0, 4.0]])
    y.cumsum_(1).masked_fill_(gc.tensor([True, False]), 0.0)
    assert y.tolist() == [[0.0, 3.0], [0.0, 7.0]]


def test_inplace_forms_refuse_what_pytorch_refuses():
    # PyTorch raises RuntimeError for both; graphc's in-place writes do too (eager/inplace.py)
    with pytest.raises((RuntimeError, gc.DTypeError), match="result type float32 can't be cast"):
        gc.tensor([4, 9]).sqrt_()
    with pytest.raises((RuntimeError, gc.ShapeError)):
        gc.zeros(3).lerp_(gc.ones(2, 3), 0.5)
    x = gc.tensor([1.0, 4.0])
    assert x.sqrt_().tolist() == [1.0, 2.0] and x.tril_ is not None


def test_dtype_helpers():
    assert gc.finfo(gc.float32).eps == float(np.finfo(np.float32).eps) and gc.iinfo(gc.int8).max == 127
    assert gc.get_default_dtype() is gc.float32 and gc.is_tensor(gc.zeros(1))
    assert not gc.is_tensor(np.zeros(1)) and gc.is_floating_point(gc.zeros(1))
    with pytest.raises(gc.UnsupportedError):
        gc.set_default_dtype(gc.float64)
    assert gc.Size([2, 3]).numel() == 6 and gc.Size([2, 3]) == (2, 3)
    assert gc.LongTensor([1, 2]).dtype is gc.int64 and gc.FloatTensor(2, 3).shape == (2, 3)
    x = gc.ones(2, requires_grad=True)
    with gc.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_sampling_shapes_dtypes_and_seeding():
    gc.manual_seed(3)
    a = gc.normal(gc.zeros(2, 3), gc.ones(3))
    gc.manual_seed(3)
    assert a.tolist() == gc.normal(gc.zeros(2, 3), gc.ones(3)).tolist() and a.dtype is gc.float32
    assert gc.normal(2.0, 0.5, size=(4,)).shape == (4,)
    b = gc.bernoulli(gc.full((1000,), 0.3, dtype=gc.float64))
    assert b.dtype is gc.float64 and 0.2 < b.mean().item() < 0.4
    m = gc.multinomial(gc.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), 2, replacement=True)
    assert m.dtype is gc.int64 and m.tolist() == [[1, 1], [0, 0]]
    with pytest.raises(ValueError):
        gc.multinomial(gc.tensor([1.0, 1.0]), 3)
    r = gc.randint_like(gc.zeros(5, dtype=gc.int32), 3, 6)
    assert r.dtype is gc.int32 and ((r >= 3) & (r < 6)).all().item()
    state = gc.get_rng_state()
    first = gc.rand(3).tolist()
    gc.set_rng_state(state)
    assert gc.rand(3).tolist() == first and state.dtype is gc.uint8
    x = gc.zeros(1000)
    assert ((x.random_(0, 4) >= 0) & (x < 4)).all().item() and set(x.tolist()) <= {0.0, 1.0, 2.0, 3.0}
    assert x.exponential_(2.0).min().item() >= 0 and 0.4 < x.mean().item() < 0.6
    assert set(x.bernoulli_(0.5).tolist()) <= {0.0, 1.0}
    assert isinstance(gc.seed(), int)


def test_iterating_a_tensor_yields_its_rows():
    rows = list(gc.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]
